"""Partition families of the real datasets (protocols/README.md, "Fair comparison"): the committed files are what
the tool draws from seed 0, every partition keeps its class counts with known and new disjoint and complete, and
their splits of fixture data in the official layouts hash to pinned values."""
from pathlib import Path

import pytest

from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.core.registry import DATASETS, PROTOCOLS
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import LABELLED_VALIDATION, VALIDATION
from benchmark.splits import materialise
from benchmark.tools import partitions
from datasets.classes import BASIC_CLASSES, COMPOUND_CLASSES
from tests.fixture_data_root import write_data_root

FERPLUS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
AFFECTNET = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
FAMILIES = {  # base protocol: (partitions, K_old, K_new, the classes every partition covers, tool options)
    "rafdb-basic": (5, 4, 3, BASIC_CLASSES, []),
    "rafdb-compound": (3, 7, 10, None, ["--leave-one-new-out"]),
    "ferplus": (5, 4, 4, FERPLUS, []),
    "affectnet7": (5, 4, 3, AFFECTNET[:7], []),
    "affectnet8": (5, 4, 4, AFFECTNET, []),
}
PINNED = {  # split seed 0 on tests/fixture_data_root.py's data; a change of the split code or files moves them
    "rafdb-basic-p0": "afa3b57632ba0e845763ffbbbf092b1b51f6ece41e4cb7e0b64a6685c0adfd04",
    "rafdb-basic-p1": "09b1391e701eb4e8e5e7637e7bd658fd9e509623bd6edb608be31ad42c1d29d1",
    "rafdb-basic-p2": "6449caace78bec0cc79a51e46bf9b133d432cf2c41218ce49d6abf2601d3a621",
    "rafdb-basic-p3": "4a70e49cc14052732fd4a998a3da197fc4b5a526bf244109667081f233061679",
    "rafdb-basic-p4": "38d98023a2eae6e142c8ce450037cf2bb90b33a03b8726d4cf8b3a82de247823",
    "rafdb-compound-p0": "468ed6c12965845a0dcc21d67b869ed8cc80aab853ab9bf9733282bde3852964",
    "rafdb-compound-p1": "dc4b78d827b9fdbed8426ef759454dc654850b9793336fde48d7b059f938db19",
    "rafdb-compound-p2": "2a02a17225f857ea32cc443263047524a46c807bc8ceff0b59871e47312732cb",
    "ferplus-p0": "ff45b04f8e112ba7bd07dde45d491c610a98c7f8482516b9037d9ce96dc22729",
    "ferplus-p1": "6457fe7a0336110984c65901c27c2d14bbce64e4298ce3740985dc6ac168b03e",
    "ferplus-p2": "d9975fe20711eaf3112d8d2a33fb51fe7a577b30f0fdfde50abc4b8856846772",
    "ferplus-p3": "f16e4d49907d8f02cb16b7c7aba09dd0b9f48ed2bc36e76eecf7ff967f831404",
    "ferplus-p4": "c8334c3ced77e091deb94933cb267b4364f3580f217664c801848cf3062f2956",
    "affectnet7-p0": "102cada39ec1f605a9d4f106439daaecd358f39eeb10ebd9addd2de488d0d4f5",
    "affectnet7-p1": "88bf5612056a256bffc8f9c0cb35ce83187628f7d8e2882863affaa2fa62e93e",
    "affectnet7-p2": "ef3ee6c8eef471b5cee71355779214878c35c82dde7f335f3af8f310dc0a539c",
    "affectnet7-p3": "748305229d2ed2c002fb47d56864f8377c7dfce846c56849ce6c7239058492ac",
    "affectnet7-p4": "2f3df2115c27c75c05341b046ac507f81c78834a754caf68c83679c93d381ccf",
    "affectnet8-p0": "92f84d2c00a8b654e0b743e5c847e3e0bc381b4dc898653d6cf664304c89622e",
    "affectnet8-p1": "da3bd698f4a32d2301960842deedff1a1b75d52ecf8ac47913d3d9758f0d03c3",
    "affectnet8-p2": "43adbcf5522d74e4b6b70f5d73fcd9f458d5c72da386388726ce244a30bc4253",
    "affectnet8-p3": "1d1ca121cc163e0c8bd804a898d645d3d61d75cb3dd2acfc767a29f7e83d24fe",
    "affectnet8-p4": "b11c04f99e03016a30770c9118230b53b5d2bdfd7c651a129765d50fb31d0dc9",
}


def members(base: str) -> list:
    load_plugins()
    return [PROTOCOLS.get(f"{base}-p{i}") for i in range(FAMILIES[base][0])]


@pytest.mark.parametrize("base", FAMILIES)
def test_the_committed_files_are_the_tools_draw(base, tmp_path):
    count, *_, options = FAMILIES[base]
    assert partitions.main([base, "--count", str(count), "--unpinned", "--out-dir", str(tmp_path), *options]) == 0
    for i in range(count):
        assert (tmp_path / f"{base}-p{i}.yaml").read_text() == (PROTOCOLS_DIR / f"{base}-p{i}.yaml").read_text()
    assert not (PROTOCOLS_DIR / f"{base}-p{count}.yaml").exists()


@pytest.mark.parametrize("base", FAMILIES)
def test_class_counts_disjointness_and_completeness(base):
    count, k_old, k_new, classes, _ = FAMILIES[base]
    family, parent = members(base), PROTOCOLS.get(base)
    assert (family[0].known, family[0].new) == (parent.known, parent.new) or base == "rafdb-compound"
    for protocol in family:
        assert (protocol.n_known, len(protocol.new)) == (k_old, k_new)
        assert not set(protocol.known) & set(protocol.new)
        assert (protocol.family, protocol.dataset, protocol.backbone) == (f"{base}-partitions", parent.dataset,
                                                                          parent.backbone)
        assert protocol.model_selection == LABELLED_VALIDATION and VALIDATION in protocol.eval_sets
        assert protocol.validation_fraction == 0.2 and not protocol.default
        if classes:
            assert set(protocol.class_names) == set(classes)
    assert len({(frozenset(p.known), frozenset(p.new)) for p in family}) == count  # no partition repeats
    if base == "rafdb-compound":
        left_out = [set(COMPOUND_CLASSES) - set(p.new) for p in family]
        assert all(p.known == BASIC_CLASSES for p in family) and all(len(s) == 1 for s in left_out)
        assert len(set.union(*left_out)) == count


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_data_root(tmp_path_factory.mktemp("fer"))


@pytest.mark.parametrize("base", FAMILIES)
def test_splits_of_fixture_data_hash_to_their_pins(base, data_root, tmp_path):
    for protocol in members(base):
        data = DATASETS.get(protocol.dataset)(data_root, tmp_path / "cache")
        split = materialise(protocol, data, 0)
        assert split.sha256 == PINNED[protocol.id], protocol.id
        parts = [split.labelled_idx, split.validation_idx, split.unlabelled_idx, split.test_idx]
        assert sum(map(len, parts)) == len(set().union(*map(set, parts)))  # disjoint
        assert len(split.validation_y) and set(split.validation_y.tolist()) <= set(range(protocol.n_known))
