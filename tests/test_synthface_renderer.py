"""SynthFACE renderer: every AU is visible, key AUs act monotonically, batching does not change pixels."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import datasets.synthface.renderer as renderer
from datasets.synthface.action_units import AU_CODES, AU_INDEX
from datasets.synthface.identities import IdentityTraits, sample_identities
from datasets.synthface.nuisance import Nuisance, sample_nuisance
from datasets.synthface.renderer import render_faces

SIZE = 48


def still(n: int) -> Nuisance:
    """Frontal, centred, evenly lit, sharp, noiseless images on a grey background."""
    nu = sample_nuisance(np.random.default_rng(0), n)
    zero = np.zeros_like
    return replace(nu, roll=zero(nu.roll), yaw=zero(nu.yaw), scale=zero(nu.scale) + 1, shift=zero(nu.shift),
                   gaze=zero(nu.gaze), background=zero(nu.background) + 0.5, light=zero(nu.light),
                   gain=zero(nu.gain) + 1, tint=zero(nu.tint) + 1, gray=zero(nu.gray), blur=zero(nu.blur),
                   noise=zero(nu.noise))


def plain_person(n: int, skin: tuple[float, float, float]) -> IdentityTraits:
    """One person without glasses, beard, hair or resting expression, repeated n times."""
    person = sample_identities(np.array([0]), seed=0)
    person = replace(person, glasses=np.array([False]), beard=np.zeros(1, np.float32), bald=np.array([True]),
                     resting_au=np.zeros_like(person.resting_au), skin=np.array([skin], np.float32))
    return person.take(np.zeros(n, int))


def render_single_aus(code: int, levels: list[float], skin=(0.85, 0.7, 0.6)) -> np.ndarray:
    au = np.zeros((len(levels), len(AU_CODES)), np.float32)
    au[:, AU_INDEX[code]] = levels
    return render_faces(au, plain_person(len(levels), skin), still(len(levels)), SIZE).astype(int)


@pytest.mark.parametrize("code", AU_CODES)
def test_every_action_unit_changes_the_face(code):
    neutral, active = render_single_aus(code, [0.0, 1.0])
    changed = (np.abs(active - neutral).max(-1) > 10).sum()
    assert changed >= 15, f"AU{code} changes only {changed} pixels"


def luminance(images: np.ndarray) -> np.ndarray:
    return images @ np.array([0.299, 0.587, 0.114])


def test_jaw_drop_opens_the_mouth_monotonically():
    images = render_single_aus(26, [0.0, 0.33, 0.66, 1.0])
    dark = (luminance(images)[:, SIZE // 2:] < 90).sum((1, 2))  # mouth interior, lower half of the image
    assert np.all(np.diff(dark) > 0), dark


def test_upper_lid_raiser_widens_the_eyes_monotonically():
    images = render_single_aus(5, [0.0, 0.5, 1.0], skin=(0.4, 0.28, 0.2))
    white = (luminance(images)[:, SIZE // 4:SIZE // 2] > 130).sum((1, 2))  # eye whites against dark skin
    assert np.all(np.diff(white) > 0), white


def test_lip_corner_puller_and_depressor_move_the_corners_opposite_ways():
    skin = (0.85, 0.7, 0.6)
    rows = []
    for code in (12, 15):
        neutral, active = render_single_aus(code, [0.0, 1.0], skin)
        change = np.abs(active - neutral).max(-1) > 10
        rows.append(np.nonzero(change[SIZE // 2:].any(1))[0].mean())
    smile_rows, frown_rows = rows
    assert smile_rows < frown_rows  # a smile changes pixels higher up the lower face than a frown


def test_images_do_not_depend_on_batching(monkeypatch):
    rng = np.random.default_rng(1)
    n = 9
    au = rng.random((n, len(AU_CODES))).astype(np.float32)
    traits = sample_identities(np.arange(3), seed=0).take(rng.integers(0, 3, n))
    nuisance = sample_nuisance(rng, n)
    whole = render_faces(au, traits, nuisance, SIZE)
    monkeypatch.setattr(renderer, "CHUNK", 4)
    assert np.array_equal(whole, render_faces(au, traits, nuisance, SIZE))
    single = render_faces(au[5:6], traits.take(np.array([5])), nuisance.take(np.array([5])), SIZE)
    assert np.array_equal(whole[5:6], single)


def test_identity_traits_depend_only_on_seed_and_id():
    a = sample_identities(np.array([4, 7]), seed=2)
    b = sample_identities(np.array([7]), seed=2)
    c = sample_identities(np.array([7]), seed=3)
    assert a.face_rx[1] == b.face_rx[0] and np.array_equal(a.skin[1], b.skin[0])
    assert a.face_rx[1] != c.face_rx[0]
