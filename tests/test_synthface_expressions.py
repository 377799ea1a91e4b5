"""SynthFACE expression models: model 3 unchanged to the bit, model 4's blends and annotation noise as documented."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from benchmark.core.errors import GFaceError
from datasets.synthface.action_units import BASIC_CLASSES, COMPOUND_CLASSES, prototype_matrix
from datasets.synthface.expressions import BLENDED, EXPRESSION_MODELS, PROTOTYPE, ExpressionModel
from datasets.synthface.generate import SynthConfig, generate_subset
from datasets.synthface.loaders import load_synthface, synthface_key

TINY = SynthConfig(image_size=24, n_identities=5, basic_train=21, basic_test=7, compound_train=22,
                   compound_test=11, min_train_per_class=2)
# sha256 of images + labels + AUs of TINY, seed 1, computed with the generator before expression models existed
MODEL_3_TINY = {"basic": "8a4ae4a996fcf90eedc76b83c5978c11a34502cbbe2994426fd2b6a9219d2bc9",
                "compound": "f6a35fb3923c577adfb6d11c9467ad0682ab94166dfce7d751e1ffed61c7dde2"}
DEFAULT_KEY_MODEL_3 = "fb360c4389fe3924a22cb56448cd1f4889704f58233cbd4fc16334f46f1c5c21"


def _digest(part) -> str:
    return hashlib.sha256(part.images.tobytes() + part.labels.tobytes() + part.au.tobytes()).hexdigest()


@pytest.mark.parametrize("subset", ["basic", "compound"])
def test_model_3_draws_what_the_generator_drew_before(subset):
    part = generate_subset(subset, TINY, seed=1, progress=False)
    assert _digest(part) == MODEL_3_TINY[subset]
    assert np.array_equal(part.labels, part.true_labels)


def test_model_3_keeps_its_cache_key_and_model_4_gets_another():
    assert PROTOTYPE.key_parts == () and synthface_key(SynthConfig(), 0) == DEFAULT_KEY_MODEL_3
    assert synthface_key(SynthConfig(), 0, BLENDED) != DEFAULT_KEY_MODEL_3
    assert EXPRESSION_MODELS == {"3": PROTOTYPE, "4": BLENDED}


def test_model_4_changes_expressions_only():
    before = generate_subset("basic", TINY, seed=1, progress=False)
    after = generate_subset("basic", TINY, seed=1, progress=False, expression=BLENDED)
    assert np.array_equal(after.true_labels, before.labels)
    assert np.array_equal(after.identities, before.identities) and after.file_stems == before.file_stems
    assert not np.array_equal(after.au, before.au)


def _sample(model: ExpressionModel, classes: tuple[str, ...], n: int = 20_000):
    rng = np.random.default_rng(0)
    prototypes = prototype_matrix(classes)
    labels = rng.integers(0, len(classes), n)
    au, annotated = model.sample(rng, prototypes, labels, [0, 1])
    return prototypes, labels, au, annotated


def test_model_4_label_noise_follows_the_face():
    prototypes, labels, au, annotated = _sample(BLENDED, BASIC_CLASSES)
    flipped = annotated != labels
    # P(flip) = share of expressive faces x blend share x noise x E[w] / w_max = 6/7 x 0.5 x 0.25 x 0.5 / 0.8
    expected = (6 / 7 * BLENDED.blend_fraction * BLENDED.label_noise * np.mean(BLENDED.blend_weight)
                / BLENDED.blend_weight[1])
    assert abs(flipped.mean() - expected) < 0.01
    neutral = BASIC_CLASSES.index("neutral")
    assert not (annotated[flipped] == neutral).any()  # neutral shows nothing, so it is never the second expression
    assert not flipped[labels == neutral].any()  # and never the first of a blend
    # a flipped face shows the class it is labelled with: its AUs correlate with that prototype
    shown = au[flipped] @ prototypes.T
    assert (shown[np.arange(flipped.sum()), annotated[flipped]] > 0).all()


def test_model_4_blends_and_spreads_intensities():
    _, labels, au, _ = _sample(BLENDED, BASIC_CLASSES)
    _, labels3, au3, _ = _sample(PROTOTYPE, BASIC_CLASSES)
    happy, neutral = BASIC_CLASSES.index("happiness"), BASIC_CLASSES.index("neutral")
    others = prototype_matrix(("happiness",))[0] == 0
    # an AU above 0.3 is more than spurious AUs (<= 0.25) and noise give. Half the happy faces are blends, and the
    # second expression (w x the first's intensity, w 0.2-0.8) shows an AU of its own above 0.3 in about half of them
    second = au[labels == happy][:, others].max(axis=1) > 0.3
    assert 0.15 < second.mean() < 0.35 and (au3[labels3 == happy][:, others].max(axis=1) > 0.3).mean() < 0.03
    assert (au[labels == neutral].max(axis=1) > 0.3).mean() < 0.03  # neutral faces are never blended
    smile = prototype_matrix(("happiness",))[0].argmax()
    weak4 = np.mean(au[labels == happy, smile] < 0.45)
    weak3 = np.mean(au3[labels3 == happy, smile] < 0.45)
    assert weak4 > weak3 + 0.1  # intensities 0.25-1.0 against 0.6-1.0 plus 7 % weak


def test_model_4_compound_blends_stay_in_the_subset():
    _, labels, _, annotated = _sample(BLENDED, COMPOUND_CLASSES, n=5_000)
    assert annotated.max() < len(COMPOUND_CLASSES) and (annotated != labels).any()


def test_registered_v4_datasets_use_model_4(tmp_path, monkeypatch):
    import datasets.synthface.loaders as loaders
    basic = load_synthface("synthface-v4-basic", tmp_path, TINY, seed=1)
    assert basic.provenance["generator_version"] == "4"
    assert basic.content_key != load_synthface("synthface-basic", tmp_path, TINY, seed=1).content_key
    part = generate_subset("basic", TINY, seed=1, progress=False, expression=BLENDED)
    assert np.array_equal(basic.images, part.images) and np.array_equal(basic.labels, part.labels)
    assert loaders.VARIANTS["synthface-v4-compound"] == (False, BLENDED)


@pytest.mark.parametrize("bad", [dict(intensity=(0.8, 0.2)), dict(intensity=(0.2, 1.2)), dict(blend_fraction=1.5),
                                 dict(label_noise=-0.1), dict(blend_weight=(0.5, 0.1))])
def test_bad_expression_models_are_refused(bad):
    with pytest.raises(GFaceError, match="expression model"):
        ExpressionModel(version="x", **{"intensity": (0.2, 1.0), **bad})


def test_each_control_sets_back_one_factor_of_model_4():
    from dataclasses import asdict
    from datasets.synthface.expressions import CONTROLS
    changed = {name: sorted(k for k, v in asdict(model).items() if k != "version" and asdict(BLENDED)[k] != v)
               for name, model in CONTROLS.items()}
    assert changed == {"noiseless": ["label_noise"], "unblended": ["blend_fraction", "blend_weight", "label_noise"],
                       "narrow": ["intensity", "weak_fraction"]}
    assert CONTROLS["narrow"].intensity == PROTOTYPE.intensity and CONTROLS["narrow"].weak_fraction == 0.07
    keys = {synthface_key(SynthConfig(), 0, model) for model in (BLENDED, *CONTROLS.values())}
    assert len(keys) == 4  # each control is cached apart from model 4


def test_the_noiseless_control_draws_model_4_faces_with_their_true_labels():
    from datasets.synthface.expressions import CONTROLS
    noisy = generate_subset("basic", TINY, seed=1, progress=False, expression=BLENDED)
    clean = generate_subset("basic", TINY, seed=1, progress=False, expression=CONTROLS["noiseless"])
    assert np.array_equal(clean.images, noisy.images) and np.array_equal(clean.au, noisy.au)
    assert np.array_equal(clean.labels, clean.true_labels) and np.array_equal(clean.true_labels, noisy.true_labels)
    prototypes, labels, _, annotated = _sample(CONTROLS["noiseless"], BASIC_CLASSES)
    assert np.array_equal(annotated, labels)
    _, labels, au, annotated = _sample(CONTROLS["unblended"], BASIC_CLASSES)
    happy = BASIC_CLASSES.index("happiness")
    others = prototype_matrix(("happiness",))[0] == 0
    assert np.array_equal(annotated, labels) and (au[labels == happy][:, others].max(axis=1) > 0.3).mean() < 0.03
