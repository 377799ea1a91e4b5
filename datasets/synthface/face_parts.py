"""The face, part by part, as signed-distance shapes driven by identity traits and AU intensities.

Face units: x to the right, y downwards, the image spans [-1, 1] at scale 1. Left-right symmetric parts
are drawn once in mirrored coordinates (xm = |x|). Yaw is a horizontal warp of the feature coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.synthface.action_units import AU_INDEX
from datasets.synthface.identities import IdentityTraits
from datasets.synthface.sdf import between, coverage, ellipse, paint, span, stroke

_EYE_WHITE = np.array([0.9, 0.88, 0.85], np.float32)
_LASH = np.array([0.08, 0.06, 0.06], np.float32)
_PUPIL = np.array([0.03, 0.03, 0.03], np.float32)
_MOUTH_INSIDE = np.array([0.22, 0.06, 0.07], np.float32)
_TEETH = np.array([0.93, 0.91, 0.86], np.float32)
_LENS = np.array([0.85, 0.9, 0.95], np.float32)


def col(a: np.ndarray) -> np.ndarray:
    """(B,) -> (B, 1, 1) and (B, 3) -> (B, 1, 1, 3), to broadcast per-image values over pixels."""
    return a.reshape(a.shape[0], 1, 1, *a.shape[1:]).astype(np.float32)


@dataclass
class FaceContext:
    """One batch: pixel coordinates in face units, pixel size, AU intensities and traits as (B, 1, 1)."""

    x: np.ndarray
    y: np.ndarray
    px: np.ndarray
    au: np.ndarray          # (B, n_AU), final intensities in [0, 1]
    traits: IdentityTraits  # one row per image
    yaw: np.ndarray         # (B,)
    gaze: np.ndarray        # (B, 2) iris offset in eye half-sizes

    def __post_init__(self) -> None:
        yaw = col(self.yaw)
        xf = self.x - 0.12 * yaw
        self.xw = xf * (1.0 + 0.22 * yaw * np.sign(xf))   # far side foreshortened
        self.xm = np.abs(self.xw)
        self.side = np.sign(self.xw)
        self.xn = np.abs(self.xw - 0.05 * yaw)            # the nose turns further than the eyes

    def a(self, code: int) -> np.ndarray:
        return col(self.au[:, AU_INDEX[code]])

    def t(self, name: str) -> np.ndarray:
        return col(getattr(self.traits, name))

    def cover(self, d: np.ndarray) -> np.ndarray:
        return coverage(d, self.px)


def draw_face(canvas: np.ndarray, c: FaceContext) -> None:
    """Paint head, hair and all features onto the background already in canvas."""
    skin = c.t("skin")
    hair = c.t("hair")
    not_bald = col(~c.traits.bald)
    rx, ry = c.t("face_rx"), c.t("face_ry")
    jaw = 0.1 * c.a(26) + 0.02 * c.a(25)
    face_ry = np.where(c.y > 0.02, ry + jaw, ry)
    d_face = ellipse(c.x, c.y, 0.0, 0.02, rx, face_ry)

    d_hair = ellipse(c.x, c.y, 0.0, -0.22, rx + 0.08 + c.t("hair_volume"), 0.9 * ry + c.t("hair_volume"))
    long_hair = np.maximum(span(c.x, -rx - 0.06 - c.t("hair_volume"), rx + 0.06 + c.t("hair_volume")),
                           between(c.y, -0.3, -0.2 + 1.3 * c.t("hair_length")))
    paint(canvas, c.cover(np.minimum(d_hair, long_hair)) * not_bald, hair * 0.8)
    paint(canvas, c.cover(np.maximum(span(c.x, -0.42 * rx, 0.42 * rx), 0.4 - c.y)), skin * 0.78)
    paint(canvas, c.cover(ellipse(np.abs(c.x), c.y, rx - 0.02, c.t("eye_y") + 0.12, 0.08, 0.16)), skin * 0.88)
    paint(canvas, c.cover(d_face), skin)
    paint(canvas, 0.3 * np.clip(1.0 + d_face / 0.14, 0.0, 1.0) * c.cover(d_face), skin * 0.72)

    mouth = _mouth_geometry(c)
    _cheeks_and_folds(canvas, c, skin, mouth)
    _nose(canvas, c, skin)
    _beard(canvas, c, hair, d_face)
    _mouth(canvas, c, skin, mouth)
    _eyes(canvas, c, skin)
    _brows(canvas, c, skin, hair)
    fringe = np.maximum(d_hair, c.y - (c.t("hairline") + 0.3 * (c.x - c.t("hair_part")) ** 2))
    paint(canvas, c.cover(fringe) * not_bald, hair)
    _glasses(canvas, c)


def _mouth_geometry(c: FaceContext) -> dict[str, np.ndarray]:
    a = c.a
    width = c.t("mouth_w") * (1 + 0.45 * a(20) + 0.22 * a(12) - 0.2 * a(23) - 0.12 * a(24)
                              - 0.14 * a(26) * (1 - a(20)) - 0.06 * a(17))
    centre = c.t("mouth_y") + 0.03 * a(26) - 0.02 * a(17) + 0.02 * a(15)
    corner = 0.11 * a(15) - 0.14 * a(12) + 0.02 * a(20) + 0.02 * a(16)
    s2 = np.minimum((c.xm / width) ** 2, 1.0)
    mid = centre + corner * s2
    power = np.clip(0.5 - 0.35 * a(20) - 0.2 * a(12), 0.1, 0.5)
    shape = (1.0 - s2) ** power
    gap_up = 0.015 * a(25) + 0.04 * a(26) + 0.07 * a(10) + 0.03 * a(12) * a(25)
    gap_lo = np.maximum(0.015 * a(25) + 0.2 * a(26) + 0.06 * a(16) + 0.03 * a(20) * a(25) - 0.03 * a(17), 0)
    inner_up = mid - gap_up * shape
    inner_lo = mid + gap_lo * shape
    round_ = np.sqrt(1.0 - s2)
    lip_up = c.t("lip_up") * (1 - 0.55 * a(23) - 0.6 * a(24) - 0.3 * a(12) - 0.15 * a(20))
    lip_lo = c.t("lip_lo") * (1 - 0.5 * a(23) - 0.6 * a(24) - 0.25 * a(12) + 0.3 * a(17) - 0.3 * a(20))
    return {"width": width, "centre": centre, "corner": corner, "inner_up": inner_up, "inner_lo": inner_lo,
            "outer_up": inner_up - lip_up * round_, "outer_lo": inner_lo + lip_lo * round_,
            "chin": centre + gap_lo + c.t("lip_lo") + 0.05}


def _mouth(canvas: np.ndarray, c: FaceContext, skin: np.ndarray, m: dict[str, np.ndarray]) -> None:
    inside_x = c.xm - m["width"]
    bulge_ring = np.abs(ellipse(c.xm, c.y, 0.0, m["centre"], m["width"] + 0.06, 0.1))
    paint(canvas, 0.4 * _lip_press(c) * np.clip(1.0 - bulge_ring / 0.03, 0.0, 1.0), skin * 0.6)
    paint(canvas, c.cover(np.maximum(between(c.y, m["outer_up"], m["outer_lo"]), inside_x)), c.t("lips"))
    d_open = np.maximum(between(c.y, m["inner_up"], m["inner_lo"]), inside_x + 0.01)
    paint(canvas, 0.9 * c.cover(d_open - 0.006), _MOUTH_INSIDE * (0.5 + skin))
    opening = np.clip((m["inner_lo"] - m["inner_up"]) / c.px - 0.5, 0.0, 1.0)  # no teeth between closed lips
    upper_teeth = np.maximum(np.maximum(d_open, c.y - (m["inner_up"] + 0.04)), c.xm - 0.75 * m["width"])
    paint(canvas, opening * c.cover(upper_teeth), _TEETH)
    lower_teeth = np.maximum(np.maximum(d_open, m["inner_lo"] - 0.03 - c.y), c.xm - 0.6 * m["width"])
    paint(canvas, opening * (0.15 + 0.85 * c.a(16)) * c.cover(lower_teeth), _TEETH * 0.95)
    crease = np.maximum(stroke(c.y, m["chin"] - 0.02 * c.a(17), 0.012), c.xm - 0.1)
    paint(canvas, (0.12 + 0.4 * c.a(17)) * c.cover(crease), skin * 0.6)


def _lip_press(c: FaceContext) -> np.ndarray:
    """How strongly the lips are pressed or tightened (the skin around them bulges)."""
    return np.clip(c.a(24) + 0.5 * c.a(23), 0.0, 1.0)


def _cheeks_and_folds(canvas: np.ndarray, c: FaceContext, skin: np.ndarray, m: dict[str, np.ndarray]) -> None:
    a = c.a
    cheek_y = c.t("eye_y") + 0.22 - 0.05 * a(6)
    cheek_x = c.t("eye_dx") + 0.03
    shadow = np.clip(-ellipse(c.xm, c.y, cheek_x, cheek_y + 0.04, 0.15, 0.09) / 0.05, 0.0, 1.0)
    paint(canvas, 0.3 * a(6) * shadow, skin * 0.7)
    bulge = np.clip(-ellipse(c.xm, c.y, cheek_x, cheek_y, 0.14, 0.08) / 0.06, 0.0, 1.0)
    paint(canvas, 0.4 * a(6) * bulge, np.minimum(skin * 1.15, 1.0))
    x0 = c.t("nose_w") + 0.05
    y0 = c.t("nose_y") - 0.03 - 0.03 * a(10) - 0.02 * a(9)
    x1 = m["width"] + 0.05
    y1 = m["centre"] + m["corner"] + 0.07
    t = np.clip((c.y - y0) / (y1 - y0), 0.0, 1.0)
    fold_x = x0 + (x1 - x0) * t + 0.05 * 4 * t * (1 - t)
    depth = np.clip(0.6 * a(12) + 0.6 * a(10) + 0.7 * a(11) + 0.5 * a(9) + 0.3 * a(6), 0.0, 1.0)
    d_fold = np.maximum(stroke(c.xm, fold_x, 0.012), between(c.y, y0, y1))
    paint(canvas, (0.05 + 0.4 * depth) * c.cover(d_fold), skin * 0.55)


def _nose(canvas: np.ndarray, c: FaceContext, skin: np.ndarray) -> None:
    a = c.a
    ny = c.t("nose_y") - 0.03 * a(9) - 0.015 * a(10)
    nw = c.t("nose_w") * (1 + 0.25 * a(9))
    bridge = np.maximum(stroke(c.xn, 0.055, 0.012), between(c.y, c.t("eye_y") + 0.06, ny - 0.05))
    paint(canvas, 0.18 * c.cover(bridge), skin * 0.6)
    paint(canvas, 0.35 * c.cover(np.abs(ellipse(c.xn, c.y, nw, ny - 0.015, 0.045, 0.04)) - 0.008)
          * (c.y > ny - 0.02), skin * 0.5)
    paint(canvas, 0.85 * c.cover(ellipse(c.xn, c.y, 0.55 * nw, ny, 0.028 + 0.01 * a(9), 0.015)), skin * 0.3)
    paint(canvas, 0.2 * c.cover(ellipse(c.xn, c.y, 0.0, ny - 0.04, 0.035, 0.03)), np.minimum(skin * 1.2, 1.0))
    eye_y = c.t("eye_y")
    for offset in (0.0, 0.045, 0.09):
        wrinkle = np.maximum(stroke(c.y, eye_y + offset + 0.04 * c.xn, 0.012), c.xn - 0.065)
        paint(canvas, 0.8 * a(9) * c.cover(wrinkle), skin * 0.45)


def _beard(canvas: np.ndarray, c: FaceContext, hair: np.ndarray, d_face: np.ndarray) -> None:
    top = c.t("mouth_y") - 0.07 - 0.25 * (c.xm / c.t("face_rx")) ** 2
    paint(canvas, c.t("beard") * c.cover(np.maximum(d_face, top - c.y)), hair * 0.9)


def _eyes(canvas: np.ndarray, c: FaceContext, skin: np.ndarray) -> None:
    a = c.a
    ex, ey, base_h = c.t("eye_dx"), c.t("eye_y"), c.t("eye_h")
    w = c.t("eye_w") * (1 + 0.05 * a(5) - 0.05 * a(6) - 0.04 * a(7))
    h_up = base_h * np.clip(1 + 1.3 * a(5) - 0.35 * a(7) - 0.35 * a(6) - 0.2 * a(4) - 0.15 * a(9), 0.15, 3.0)
    h_lo = base_h * np.clip(0.8 + 0.3 * a(5) - 0.55 * a(7) - 0.6 * a(6) - 0.2 * a(9), 0.1, 3.0)
    dx = c.xm - ex
    q = 1.0 - (dx / w) ** 2
    lid_up = ey - h_up * q
    lid_lo = ey + h_lo * q
    paint(canvas, 0.3 * c.cover(ellipse(c.xm, c.y, ex, ey - 0.03, 1.25 * w, 0.1)), skin * 0.65)
    d_eye = between(c.y, lid_up, lid_lo)
    paint(canvas, c.cover(d_eye), _EYE_WHITE * (0.6 + 0.4 * skin))
    r = 0.4 * c.t("eye_w")
    iris_x = ex + 0.3 * w * col(c.gaze[:, 0]) * c.side
    iris_y = ey + 0.3 * base_h * col(c.gaze[:, 1])
    d_iris = ellipse(c.xm, c.y, iris_x, iris_y, r, r)
    paint(canvas, c.cover(np.maximum(d_iris, d_eye)), c.t("iris"))
    paint(canvas, c.cover(np.maximum(d_iris + 0.55 * r, d_eye)), _PUPIL)
    in_eye = np.abs(dx) - w * 1.05
    paint(canvas, 0.9 * c.cover(np.maximum(stroke(c.y, lid_up, 0.014), in_eye)), _LASH)
    paint(canvas, (0.3 + 0.4 * np.maximum(a(7), a(6))) * c.cover(np.maximum(stroke(c.y, lid_lo + 0.008, 0.008),
                                                                           in_eye)), skin * 0.5)
    crow = np.maximum(stroke(c.y, ey + 0.5 * (c.xm - ex - w), 0.008), span(c.xm, ex + w + 0.02, ex + w + 0.08))
    paint(canvas, 0.45 * a(6) * c.cover(crow), skin * 0.55)


def _brows(canvas: np.ndarray, c: FaceContext, skin: np.ndarray, hair: np.ndarray) -> None:
    a = c.a
    base = c.t("eye_y") - c.t("brow_gap")
    length = c.t("brow_len")
    inner_x = c.t("eye_dx") - 0.4 * length - 0.06 * a(4)
    outer_x = inner_x + length + 0.02 * a(2)
    inner_y = base - 0.14 * a(1) - 0.03 * a(2) + 0.11 * a(4) * (1 - 0.6 * a(1)) + 0.05 * a(9)
    outer_y = base - 0.11 * a(2) - 0.02 * a(1) + 0.035 * a(4)
    arch = (c.t("brow_arch") + 0.03 * a(2) + 0.02 * a(1)) * (1 - 0.6 * a(4))
    t = np.clip((c.xm - inner_x) / (outer_x - inner_x), 0.0, 1.0)
    curve = inner_y + (outer_y - inner_y) * t - arch * 4 * t * (1 - t)
    d_brow = np.maximum(stroke(c.y, curve, c.t("brow_thick") * (1.15 - 0.5 * t)), span(c.xm, inner_x, outer_x))
    paint(canvas, 0.95 * c.cover(d_brow), 0.55 * hair + 0.45 * skin * 0.3)
    frown = np.maximum(stroke(c.xm, 0.045, 0.009), between(c.y, inner_y - 0.02, inner_y + 0.1))
    paint(canvas, 0.7 * a(4) * c.cover(frown), skin * 0.5)
    raised = np.maximum(a(1), a(2))
    for offset in (0.13, 0.2):
        line = np.maximum(stroke(c.y, base - offset - 0.1 * raised + 0.15 * c.xm ** 2, 0.008), c.xm - 0.3)
        paint(canvas, 0.35 * raised * c.cover(line), skin * 0.6)


def _glasses(canvas: np.ndarray, c: FaceContext) -> None:
    on = col(c.traits.glasses.astype(np.float32))
    ex, ey = c.t("eye_dx"), c.t("eye_y") + 0.01
    rx = c.t("eye_w") + 0.07
    d_lens = ellipse(c.xm, c.y, ex, ey, rx, 0.11)
    paint(canvas, 0.12 * on * c.cover(d_lens), _LENS)
    paint(canvas, on * c.cover(np.abs(d_lens) - 0.012), c.t("glasses_color"))
    bridge = np.maximum(stroke(c.y, ey - 0.03, 0.01), c.xm - (ex - rx + 0.01))
    paint(canvas, on * c.cover(bridge), c.t("glasses_color"))
