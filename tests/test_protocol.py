"""Protocol files and split invariants (protocols/README.md, "How the split is built")."""
import dataclasses

import numpy as np
import pytest

from benchmark.core.errors import GFaceError
from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.core.registry import PROTOCOLS
from benchmark.protocol import Protocol
from benchmark.splits import materialise
from tests.toy_plugins import toy_data


@pytest.fixture
def toy():
    return PROTOCOLS.get("toy-basic"), toy_data()


def test_split_invariants(toy):
    protocol, data = toy
    split = materialise(protocol, data, 0)
    train = np.flatnonzero(data.is_train)
    known_train = train[data.labels[train] < 2]  # alpha, beta are native 0, 1 and known
    labelled, unlabelled = set(split.labelled_idx), set(split.unlabelled_idx)
    assert labelled <= set(known_train)  # D_L only from known-class training images
    assert not labelled & unlabelled  # disjoint
    assert labelled | unlabelled == set(train)  # complete
    assert set(train[data.labels[train] >= 2]) <= unlabelled  # every new-class image is unlabelled
    assert len(labelled) == int(0.5 * len(known_train))
    assert set(split.test_idx) == set(np.flatnonzero(~data.is_train))
    # re-indexing: known 0..1, new 2..3, round-trips to names
    assert set(split.labelled_y) == {0, 1}
    names = protocol.class_names
    for rows, y in ((split.unlabelled_idx, split.unlabelled_y), (split.test_idx, split.test_y)):
        assert [names[c] for c in y] == [data.class_names[data.labels[r]] for r in rows]


def test_labelled_draw_is_gcd_legacy_sampler(toy):
    protocol, data = toy
    split = materialise(protocol, data, 3)
    train = np.flatnonzero(data.is_train)
    known_train = train[data.labels[train] < 2]
    np.random.seed(3)  # the reference: legacy global state, choice without replacement over file order
    expected = known_train[np.random.choice(range(len(known_train)), replace=False, size=int(0.5 * len(known_train)))]
    np.testing.assert_array_equal(split.labelled_idx, np.sort(expected))


def test_hash_is_stable_and_seed_sensitive(toy):
    protocol, data = toy
    a, b, c = materialise(protocol, data, 0), materialise(protocol, data, 0), materialise(protocol, data, 1)
    assert a.sha256 == b.sha256 and a.sha256 != c.sha256
    assert len(a.sha256) == 64


def test_pinned_hash_mismatch_is_refused(toy):
    protocol, data = toy
    pinned = dataclasses.replace(protocol, split_sha256=((0, "0" * 64),))
    with pytest.raises(GFaceError, match="new protocol id"):
        materialise(pinned, data, 0)


def test_class_the_dataset_lacks_is_a_clear_error():
    with pytest.raises(GFaceError, match="names class 'epsilon', which dataset 'toy-blobs' lacks.*alpha"):
        materialise(PROTOCOLS.get("toy-badclass"), toy_data(), 0)


def test_every_shipped_protocol_file_parses():
    for path in PROTOCOLS_DIR.glob("*.yaml"):
        protocol = Protocol.from_file(path)
        expected = 1.0 if protocol.kind == "open-set" else 0.5  # Open-Set-FER labels every closed-class image
        assert protocol.labelled_fraction == expected and protocol.split_seeds == (0,)
        assert not set(protocol.known) & set(protocol.new)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("known: [alpha, beta]", "known: [alpha, gamma]"), "both known and new"),
    (lambda t: t.replace("scorer: hungarian_v2\n", ""), "missing fields \\['scorer'\\]"),
    (lambda t: t + "colour: red\n", "unknown fields \\['colour'\\]"),
    (lambda t: t.replace("labelled_fraction: 0.5", "labelled_fraction: 1.5"), "labelled_fraction"),
    (lambda t: t.replace("id: toy-basic", "id: other"), "must equal the file name"),
    (lambda t: "known: [a\n", "not valid YAML"),
    (lambda t: t.replace("scorer: hungarian_v2", "scorer: hungarian_v1"), "scorer 'hungarian_v1' is not"),
    (lambda t: t.replace("model_selection: last_epoch", "model_selection: best_val"), "model_selection 'best_val'"),
])
def test_bad_protocol_files_are_explained(tmp_path, edit, message):
    text = (PROTOCOLS_DIR.parent / "tests" / "data" / "protocols" / "toy-basic.yaml").read_text()
    path = tmp_path / "toy-basic.yaml"
    path.write_text(edit(text))
    with pytest.raises(GFaceError, match=message):
        Protocol.from_file(path)
