"""The random factors of one chibi portrait and how they are drawn from a generator.

`ChibiParams` lists every factor, grouped by the StyleGAN scale that renders it (and that
`--style coarse|middle|fine` animates):

  coarse   head tilt, position and size, face shape, hair silhouette (short, bob, long, twin tails),
           bangs (blunt, spiky, swept, parted), side locks
  middle   eye size, shape and spacing, eyebrows, mouth, accessory (ribbon, clip, cat ears,
           headband, flower, ahoge)
  fine     hair, eye (red included), skin, clothes and background colours, blush, shading

`sample_params(rng)` draws them, in a fixed order, from a numpy Generator; the option lists and
colour palettes it draws from live here too. The drawing is in `chibi_draw.py`, the seeded data set
in `dataset.py`.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

RGB = tuple[int, int, int]

HAIR_STYLES = ("short", "bob", "long", "twintails")
BANGS = ("blunt", "spiky", "swept", "parted")
FACE_SHAPES = ("round", "oval", "pointed")
EYE_SHAPES = ("round", "tall", "sharp", "happy")
BROWS = ("neutral", "raised", "worried", "angry")
MOUTHS = ("smile", "open", "cat", "o", "flat")
ACCESSORIES = ("none", "ribbon", "clip", "cat_ears", "headband", "flower", "ahoge")

# (hue in degrees, saturation, value) of hair colours; jittered per image.
HAIR_COLOURS = (
    (340, 0.45, 0.98), (350, 0.25, 0.98), (45, 0.55, 0.98), (30, 0.65, 0.55), (20, 0.55, 0.35),
    (230, 0.25, 0.18), (220, 0.08, 0.92), (210, 0.60, 0.85), (265, 0.45, 0.80), (0, 0.75, 0.80),
    (25, 0.80, 0.95), (150, 0.45, 0.75), (180, 0.55, 0.80), (280, 0.25, 0.95),
)
# Eye colours; red comes first and is drawn more often (the classic look).
EYE_COLOURS = (
    (0, 0.90, 0.85), (210, 0.80, 0.85), (130, 0.70, 0.70), (275, 0.65, 0.80), (45, 0.85, 0.90),
    (25, 0.75, 0.55), (330, 0.60, 0.95), (180, 0.70, 0.75),
)
EYE_COLOUR_WEIGHTS = (0.24, 0.16, 0.11, 0.11, 0.11, 0.09, 0.09, 0.09)
SKIN_TONES = ((255, 232, 218), (252, 222, 200), (246, 210, 185), (232, 190, 160), (205, 155, 120))
SKIN_WEIGHTS = (0.32, 0.30, 0.20, 0.12, 0.06)


@dataclass(frozen=True)
class ChibiParams:
    """Every random factor of one portrait; coordinates are fractions of the image size."""

    # coarse
    tilt: float            # degrees, positive = counter-clockwise
    cx: float
    cy: float
    head: float            # head scale, 1 = nominal
    face_shape: str
    hair_style: str
    bangs: str
    side_locks: bool
    # middle
    eye_w: float
    eye_h: float
    eye_gap: float
    eye_y: float
    eye_shape: str
    brows: str
    mouth: str
    accessory: str
    # fine
    hair: RGB
    eye: RGB
    skin: RGB
    clothes: RGB
    accent: RGB            # accessory / ribbon colour
    background: RGB
    blush: float           # 0..1 opacity of the cheeks
    shading: float         # 0..1 strength of shadows and hair highlights

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _jitter_hsv(rng: np.random.Generator, hsv: Sequence[float], dh: float, ds: float, dv: float) -> RGB:
    h, s, v = hsv
    return _hsv(h + rng.uniform(-dh, dh), s + rng.uniform(-ds, ds), v + rng.uniform(-dv, dv))


def _choice(rng: np.random.Generator, options: Sequence, p: Sequence[float] | None = None):
    return options[int(rng.choice(len(options), p=p))]


def sample_params(rng: np.random.Generator) -> ChibiParams:
    """Draw one portrait's factors."""
    hair = _jitter_hsv(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 12, 0.08, 0.06)
    eye = _jitter_hsv(rng, _choice(rng, EYE_COLOURS, EYE_COLOUR_WEIGHTS), 8, 0.08, 0.08)
    skin = tuple(int(np.clip(c + rng.normal(0, 4), 0, 255)) for c in _choice(rng, SKIN_TONES, SKIN_WEIGHTS))
    bg_hue = rng.uniform(0, 360)
    return ChibiParams(
        tilt=float(rng.normal(0, 7.0)),
        cx=float(0.5 + rng.uniform(-0.05, 0.05)),
        cy=float(0.47 + rng.uniform(-0.035, 0.035)),
        head=float(rng.uniform(0.9, 1.06)),
        face_shape=_choice(rng, FACE_SHAPES),
        hair_style=_choice(rng, HAIR_STYLES),
        bangs=_choice(rng, BANGS),
        side_locks=bool(rng.random() < 0.7),
        eye_w=float(rng.uniform(0.085, 0.115)),
        eye_h=float(rng.uniform(0.095, 0.14)),
        eye_gap=float(rng.uniform(0.095, 0.125)),
        eye_y=float(rng.uniform(0.035, 0.07)),
        eye_shape=_choice(rng, EYE_SHAPES, (0.38, 0.30, 0.24, 0.08)),
        brows=_choice(rng, BROWS),
        mouth=_choice(rng, MOUTHS),
        accessory=_choice(rng, ACCESSORIES, (0.3, 0.16, 0.12, 0.12, 0.1, 0.1, 0.1)),
        hair=hair,
        eye=eye,
        skin=skin,
        clothes=_hsv(rng.uniform(0, 360), rng.uniform(0.2, 0.7), rng.uniform(0.35, 0.95)),
        accent=_hsv(rng.uniform(0, 360), rng.uniform(0.55, 0.9), rng.uniform(0.75, 1.0)),
        background=_hsv(bg_hue, rng.uniform(0.06, 0.3), rng.uniform(0.86, 1.0)),
        blush=float(rng.uniform(0.0, 0.85) if rng.random() < 0.85 else 0.0),
        shading=float(rng.uniform(0.3, 1.0)),
    )
