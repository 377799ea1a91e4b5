"""The action units the renderer draws and the AU prototypes of the 18 expression classes.

Intensities are in [0, 1] (FACS intensity A..E is roughly 0.2..1.0). Basic prototypes follow the EMFACS
predictions (Ekman & Friesen); compound prototypes combine the AUs of their two components and resolve their
conflicts as the AUs observed by Du, Tao & Martinez (PNAS 2014, Table 1) indicate. See README.md for the table.
"""
from __future__ import annotations

import numpy as np

from datasets.classes import BASIC_CLASSES, COMPOUND_CLASSES

AU_CODES: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16, 17, 20, 23, 24, 25, 26)
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    11: "nasolabial deepener", 12: "lip corner puller", 15: "lip corner depressor", 16: "lower lip depressor",
    17: "chin raiser", 20: "lip stretcher", 23: "lip tightener", 24: "lip presser", 25: "lips part",
    26: "jaw drop",
}
AU_INDEX: dict[int, int] = {code: i for i, code in enumerate(AU_CODES)}

BASIC_PROTOTYPES: dict[str, dict[int, float]] = {
    "surprise": {1: 0.9, 2: 0.9, 5: 0.7, 25: 1.0, 26: 0.9},
    "fear": {1: 0.9, 2: 0.6, 4: 0.7, 5: 0.9, 7: 0.4, 20: 1.0, 25: 1.0, 26: 0.4},
    "disgust": {4: 0.4, 9: 1.0, 10: 0.9, 15: 0.5, 17: 0.6},
    "happiness": {6: 0.9, 12: 1.0, 25: 0.8, 26: 0.2},
    "sadness": {1: 1.0, 4: 0.7, 15: 1.0, 17: 0.5},
    "anger": {4: 1.0, 5: 0.6, 7: 0.9, 23: 0.8, 24: 0.6, 17: 0.3},
    "neutral": {},
}

# name -> (first component, second component, AUs dropped from the union, AUs set to a new intensity).
# Dropped or re-set AUs are those the two components disagree on (e.g. the lip press of anger cannot coexist
# with surprise's dropped jaw), guided by the AUs Du et al. (2014) observe in the compound; the intensities
# are tuned so that compounds stay distinguishable at 48 px.
COMPOUND_RECIPES: dict[str, tuple[str, str, tuple[int, ...], dict[int, float]]] = {
    "happily surprised": ("happiness", "surprise", (), {26: 0.7, 6: 0.6}),
    "happily disgusted": ("happiness", "disgust", (15, 17), {12: 0.8, 9: 0.7, 10: 1.0}),
    "sadly fearful": ("sadness", "fear", (17, 26), {15: 0.8, 5: 0.5}),
    "sadly angry": ("sadness", "anger", (5,), {1: 0.5, 4: 1.0, 7: 0.8, 23: 0.8, 24: 0.8}),
    "sadly surprised": ("sadness", "surprise", (17, 2), {4: 0.7, 5: 0.4, 26: 0.8}),
    "sadly disgusted": ("sadness", "disgust", (), {1: 0.6, 10: 1.0, 11: 0.5}),
    "fearfully angry": ("fear", "anger", (1, 2, 23, 24, 17), {4: 1.0, 10: 0.5}),
    "fearfully surprised": ("fear", "surprise", (4, 7), {2: 1.0, 26: 0.9}),
    "angrily surprised": ("anger", "surprise", (1, 2, 23, 24, 17), {7: 0.6, 10: 0.4}),
    "angrily disgusted": ("anger", "disgust", (5, 15), {24: 0.8}),
    "disgustedly surprised": ("disgust", "surprise", (4, 15, 17), {26: 0.4, 25: 0.6}),
}


def _compound(first: str, second: str, drop: tuple[int, ...], reset: dict[int, float]) -> dict[int, float]:
    a, b = BASIC_PROTOTYPES[first], BASIC_PROTOTYPES[second]
    union = {code: max(a.get(code, 0.0), b.get(code, 0.0)) for code in a.keys() | b.keys()}
    for code in drop:
        union.pop(code, None)
    union.update(reset)
    return dict(sorted(union.items()))


COMPOUND_PROTOTYPES: dict[str, dict[int, float]] = {
    name: _compound(*recipe) for name, recipe in COMPOUND_RECIPES.items()}
PROTOTYPES: dict[str, dict[int, float]] = {**BASIC_PROTOTYPES, **COMPOUND_PROTOTYPES}


def prototype_matrix(class_names: tuple[str, ...]) -> np.ndarray:
    """(C, len(AU_CODES)) float32 AU intensities of the named classes, rows in the given order."""
    matrix = np.zeros((len(class_names), len(AU_CODES)), np.float32)
    for row, name in enumerate(class_names):
        for code, value in PROTOTYPES[name].items():
            matrix[row, AU_INDEX[code]] = value
    return matrix
