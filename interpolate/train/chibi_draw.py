"""Drawing one chibi portrait with PIL: `draw_chibi(params, size, supersample)` -> RGB image.

Holds the pieces of the drawing: colour scaling and mixing, an RGBA canvas addressed in image
fractions, the derived head geometry, and one function per part (back hair, twin-tail ties, face,
bangs, side locks, eyes, brows, mouth, accessory), layered body -> head -> face -> features -> front
hair and rotated by the head tilt. Drawing happens at `supersample` x the output size and is
downsampled with a Lanczos filter (anti-aliasing). The factors come from `chibi_factors.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from .chibi_factors import RGB, ChibiParams


def _scale(c: RGB, k: float) -> RGB:
    return tuple(int(np.clip(v * k, 0, 255)) for v in c)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _ellipse(cx: float, cy: float, rx: float, ry: float, t0: float = 0.0, t1: float = 360.0,
             n: int = 40) -> list[tuple[float, float]]:
    """Points on an ellipse; angle 0 = top, increasing clockwise (screen coordinates)."""
    ts = np.radians(np.linspace(t0, t1, n))
    return [(cx + rx * math.sin(t), cy - ry * math.cos(t)) for t in ts]


class _Canvas:
    """An RGBA layer addressed in image fractions."""

    def __init__(self, size: int):
        self.size = size
        self.img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.img)

    def px(self, pts: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.size, y * self.size) for x, y in pts]

    def poly(self, pts, fill, alpha: int = 255) -> None:
        self.draw.polygon(self.px(pts), fill=(*fill, alpha))

    def line(self, pts, fill, width: float, alpha: int = 255) -> None:
        self.draw.line(self.px(pts), fill=(*fill, alpha), width=max(1, int(round(width * self.size))), joint="curve")

    def oval(self, cx, cy, rx, ry, fill, alpha: int = 255) -> None:
        s = self.size
        self.draw.ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=(*fill, alpha))

    def over(self, other: "_Canvas") -> None:
        self.img.alpha_composite(other.img)

    def mask(self) -> Image.Image:
        return self.img.getchannel("A")


def _clipped(layer: _Canvas, mask: Image.Image) -> _Canvas:
    """Keep `layer` only where `mask` is opaque."""
    layer.img.putalpha(ImageChops.multiply(layer.mask(), mask))
    return layer


@dataclass
class _Head:
    """Derived geometry of the head, shared by the drawing steps."""

    cx: float
    cy: float
    rx: float      # face half-width
    ry: float      # face half-height (forehead to chin)
    hx: float      # hair cap half-width
    hy: float      # hair cap half-height
    hcy: float     # hair cap centre y

    @property
    def chin(self) -> float:
        return self.cy + self.ry


def _face_outline(h: _Head, shape: str) -> list[tuple[float, float]]:
    pinch = {"round": 0.05, "oval": 0.22, "pointed": 0.42}[shape]
    low = {"round": 1.0, "oval": 1.06, "pointed": 1.1}[shape]
    pts = []
    for t in np.radians(np.linspace(0, 360, 64, endpoint=False)):
        s, c = math.sin(t), math.cos(t)
        if c >= 0:
            pts.append((h.cx + h.rx * s, h.cy - h.ry * c))
        else:
            u = -c
            pts.append((h.cx + h.rx * s * (1 - pinch * u ** 1.5), h.cy + h.ry * low * u))
    return pts


def _back_hair(cv: _Canvas, p: ChibiParams, h: _Head, colour: RGB) -> None:
    cap = _ellipse(h.cx, h.hcy, h.hx, h.hy)
    cv.poly(cap, colour)
    if p.hair_style == "short":
        cv.poly([(h.cx - h.hx * 0.98, h.hcy), (h.cx - h.rx * 1.08, h.cy + h.ry * 0.55),
                 (h.cx - h.rx * 0.8, h.cy + h.ry * 0.35), (h.cx, h.cy + h.ry * 0.3),
                 (h.cx + h.rx * 0.8, h.cy + h.ry * 0.35), (h.cx + h.rx * 1.08, h.cy + h.ry * 0.55),
                 (h.cx + h.hx * 0.98, h.hcy)], colour)
    elif p.hair_style == "bob":
        bottom = h.chin + 0.01
        pts = [(h.cx - h.hx, h.hcy)]
        pts += [(h.cx - h.hx * 1.04, bottom - 0.06), (h.cx - h.hx * 0.96, bottom)]
        for k in range(1, 6):
            x = h.cx - h.hx * 0.96 + k * h.hx * 1.92 / 6
            pts.append((x, bottom + (0.015 if k % 2 else -0.005)))
        pts += [(h.cx + h.hx * 0.96, bottom), (h.cx + h.hx * 1.04, bottom - 0.06), (h.cx + h.hx, h.hcy)]
        cv.poly(pts, colour)
    elif p.hair_style == "long":
        bottom = 1.08
        pts = [(h.cx - h.hx, h.hcy), (h.cx - h.hx * 1.22, h.chin), (h.cx - h.hx * 1.38, bottom)]
        for k in range(1, 8):
            x = h.cx - h.hx * 1.38 + k * h.hx * 2.76 / 8
            pts.append((x, bottom - (0.05 if k % 2 else 0.0)))
        pts += [(h.cx + h.hx * 1.38, bottom), (h.cx + h.hx * 1.22, h.chin), (h.cx + h.hx, h.hcy)]
        cv.poly(pts, colour)
    elif p.hair_style == "twintails":
        for side in (-1, 1):
            rx0 = h.cx + side * h.hx * 0.92
            ry0 = h.hcy - h.hy * 0.35
            tail = [(rx0, ry0 - 0.03), (rx0 + side * 0.09, ry0 + 0.03), (rx0 + side * 0.13, ry0 + 0.2),
                    (rx0 + side * 0.12, ry0 + 0.38), (rx0 + side * 0.07, ry0 + 0.55),
                    (rx0 + side * 0.075, ry0 + 0.4), (rx0 + side * 0.045, ry0 + 0.22), (rx0, ry0 + 0.06)]
            cv.poly(tail, colour)


def _tail_ties(cv: _Canvas, p: ChibiParams, h: _Head) -> None:
    if p.hair_style != "twintails":
        return
    for side in (-1, 1):
        x, y = h.cx + side * h.hx * 0.97, h.hcy - h.hy * 0.33
        cv.oval(x, y, 0.028, 0.028, p.accent)
        cv.oval(x - 0.008, y - 0.008, 0.009, 0.009, _mix(p.accent, (255, 255, 255), 0.6))


def _bangs(p: ChibiParams, h: _Head) -> list[tuple[float, float]]:
    """The fringe: the top of the hair cap, then a spiky or cut edge from right to left."""
    top = _ellipse(h.cx, h.hcy, h.hx * 1.005, h.hy * 1.005, -92, 92, 30)
    edge_y = h.cy - h.ry * 0.28   # where the fringe ends over the forehead
    xl, xr = h.cx - h.hx * 0.99, h.cx + h.hx * 0.99
    edge: list[tuple[float, float]] = [(xr, h.cy - h.ry * 0.05)]
    n = 7
    if p.bangs == "blunt":
        for k in range(n + 1):
            x = xr - k * (xr - xl) / n
            edge.append((x, edge_y + 0.012 * (k % 2) + (0.04 if k in (0, n) else 0.0)))
    elif p.bangs == "spiky":
        for k in range(2 * n + 1):
            x = xr - k * (xr - xl) / (2 * n)
            centre = 1 - abs(x - h.cx) / h.hx
            tip = edge_y + 0.025 * centre + 0.02
            edge.append((x, tip if k % 2 else edge_y - 0.05 - 0.02 * centre))
    elif p.bangs == "swept":
        for k in range(2 * n + 1):
            x = xr - k * (xr - xl) / (2 * n)
            t = k / (2 * n)
            if k % 2:
                edge.append((x + 0.03, edge_y + 0.035 * (1 - t) + 0.015))
            else:
                edge.append((x, edge_y - 0.06 + 0.02 * t))
    else:  # parted: two curtains that open over the middle of the forehead
        for k in range(2 * n + 1):
            x = xr - k * (xr - xl) / (2 * n)
            d = abs(x - h.cx) / h.hx
            if d < 0.18:
                edge.append((x, h.hcy - h.hy * 0.55))
            else:
                edge.append((x, (edge_y + 0.02 if k % 2 else edge_y - 0.04) - 0.05 * (1 - d)))
    edge.append((xl, h.cy - h.ry * 0.05))
    return top + edge


def _side_locks(cv: _Canvas, h: _Head, colour: RGB) -> None:
    for side in (-1, 1):
        x0 = h.cx + side * h.rx * 1.05
        lock = [(x0, h.cy - h.ry * 0.45), (x0 - side * 0.045, h.cy - h.ry * 0.2),
                (x0 - side * 0.05, h.cy + h.ry * 0.5), (x0 - side * 0.02, h.chin + 0.04),
                (x0 + side * 0.02, h.cy + h.ry * 0.45), (x0 + side * 0.03, h.cy - h.ry * 0.3)]
        cv.poly(lock, colour)


def _eye(cv: _Canvas, p: ChibiParams, x: float, y: float, side: int, lash: RGB) -> None:
    """One big anime eye at (x, y); side = -1 left, +1 right (for the outer-corner flick)."""
    w, hgt = p.eye_w / 2, p.eye_h / 2
    if p.eye_shape == "tall":
        hgt *= 1.15
    elif p.eye_shape == "sharp":
        hgt *= 0.78
        w *= 1.1
    if p.eye_shape == "happy":   # closed, smiling eye: ^
        pts = _ellipse(x, y + hgt * 0.3, w, hgt * 0.55, -80, 80, 12)
        cv.line(pts, lash, 0.02)
        return
    cv.oval(x, y, w, hgt, (255, 255, 255))
    iris_dark = _scale(p.eye, 0.45)
    iris_light = _mix(p.eye, (255, 255, 255), 0.35)
    irx, iry = w * 0.8, hgt * 0.92
    iy = y + hgt * 0.06
    cv.oval(x, iy, irx, iry, iris_dark)
    cv.oval(x, iy + iry * 0.12, irx * 0.86, iry * 0.82, p.eye)
    cv.oval(x, iy + iry * 0.45, irx * 0.62, iry * 0.38, iris_light)
    cv.oval(x, iy - iry * 0.05, irx * 0.42, iry * 0.5, _scale(p.eye, 0.22))
    # highlights: a big one up and outward, a small one low and inward
    cv.oval(x - side * irx * 0.35, iy - iry * 0.42, irx * 0.36, iry * 0.28, (255, 255, 255))
    cv.oval(x + side * irx * 0.38, iy + iry * 0.45, irx * 0.16, iry * 0.12, (255, 255, 255))
    # upper lash: a thick dark arc with a flick at the outer corner
    thick = 0.22 if p.eye_shape == "sharp" else 0.16
    outer = _ellipse(x, y + hgt * 0.02, w * 1.12, hgt * 1.08, -100, 100, 20)
    inner = _ellipse(x, y + hgt * 0.02 + hgt * thick, w * 1.02, hgt * 1.0, 95, -95, 20)
    cv.poly(outer + inner, lash)
    fx = x + side * w * 1.12
    cv.poly([(fx - side * 0.01, y - hgt * 0.35), (fx + side * 0.018, y - hgt * 0.5), (fx, y - hgt * 0.05)], lash)
    # lower lash: a short thin stroke
    cv.line(_ellipse(x, y, w * 0.8, hgt * 1.03, 150, 210, 6), lash, 0.007, alpha=200)


def _brow(cv: _Canvas, p: ChibiParams, x: float, y: float, side: int, colour: RGB) -> None:
    w = p.eye_w * 0.45
    inner_dy = {"neutral": 0.0, "raised": -0.012, "worried": -0.018, "angry": 0.02}[p.brows]
    outer_dy = {"neutral": 0.0, "raised": -0.006, "worried": 0.012, "angry": -0.01}[p.brows]
    pts = [(x - side * w, y + inner_dy), (x, y - 0.008 + (inner_dy + outer_dy) / 2), (x + side * w, y + outer_dy)]
    cv.line(pts, colour, 0.011)


def _mouth(cv: _Canvas, p: ChibiParams, x: float, y: float, line: RGB) -> None:
    if p.mouth == "smile":
        cv.line(_ellipse(x, y - 0.018, 0.03, 0.025, 125, 235, 10), line, 0.009)
    elif p.mouth == "open":
        pts = [(x - 0.035, y - 0.012), (x + 0.035, y - 0.012)] + _ellipse(x, y - 0.012, 0.035, 0.04, 90, 270, 16)
        cv.poly(pts, (150, 40, 55))
        cv.oval(x, y + 0.016, 0.018, 0.01, (240, 120, 130))
    elif p.mouth == "cat":
        cv.line(_ellipse(x - 0.013, y - 0.006, 0.013, 0.012, 110, 250, 8), line, 0.008)
        cv.line(_ellipse(x + 0.013, y - 0.006, 0.013, 0.012, 110, 250, 8), line, 0.008)
    elif p.mouth == "o":
        cv.oval(x, y, 0.014, 0.017, (150, 40, 55))
    else:
        cv.line([(x - 0.018, y), (x + 0.018, y)], line, 0.008)


def _accessory(cv: _Canvas, p: ChibiParams, h: _Head, hair_dark: RGB) -> None:
    a, ad = p.accent, _scale(p.accent, 0.7)
    side = 1 if p.tilt >= 0 else -1
    if p.accessory == "ribbon":
        x, y = h.cx + side * h.hx * 0.62, h.hcy - h.hy * 0.78
        cv.poly([(x, y), (x - 0.07, y - 0.05), (x - 0.075, y + 0.04)], a)
        cv.poly([(x, y), (x + 0.07, y - 0.05), (x + 0.075, y + 0.04)], a)
        cv.poly([(x, y), (x - 0.03, y + 0.08), (x - 0.01, y + 0.075)], ad)
        cv.poly([(x, y), (x + 0.03, y + 0.08), (x + 0.01, y + 0.075)], ad)
        cv.oval(x, y, 0.016, 0.016, ad)
    elif p.accessory == "clip":
        x, y = h.cx - side * h.hx * 0.6, h.cy - h.ry * 0.45
        cv.line([(x - 0.035, y - 0.02), (x + 0.035, y + 0.02)], a, 0.014)
        cv.line([(x - 0.035, y + 0.02), (x + 0.035, y - 0.02)], a, 0.014)
    elif p.accessory == "cat_ears":
        for s in (-1, 1):
            bx = h.cx + s * h.hx * 0.55
            by = h.hcy - h.hy * 0.8
            cv.poly([(bx - 0.07, by + 0.03), (bx + s * 0.03, by - 0.13), (bx + 0.07, by + 0.02)], p.hair)
            cv.poly([(bx - 0.04, by + 0.02), (bx + s * 0.025, by - 0.08), (bx + 0.04, by + 0.015)],
                    (250, 175, 190))
    elif p.accessory == "headband":
        cv.line(_ellipse(h.cx, h.hcy + h.hy * 0.02, h.hx * 0.96, h.hy * 0.9, -78, 78, 20), a, 0.03)
    elif p.accessory == "flower":
        x, y = h.cx + side * h.hx * 0.7, h.hcy - h.hy * 0.5
        for k in range(5):
            t = 2 * math.pi * k / 5
            cv.oval(x + 0.025 * math.cos(t), y + 0.025 * math.sin(t), 0.02, 0.02, a)
        cv.oval(x, y, 0.015, 0.015, (255, 225, 90))
    elif p.accessory == "ahoge":
        x, y = h.cx + 0.01, h.hcy - h.hy * 0.97
        cv.poly([(x - 0.02, y + 0.02), (x + 0.02, y - 0.09), (x + 0.07, y - 0.11),
                 (x + 0.03, y - 0.08), (x + 0.015, y + 0.02)], p.hair)


def draw_chibi(p: ChibiParams, size: int = 64, supersample: int = 2) -> Image.Image:
    """Render one portrait as an RGB image of `size` x `size` pixels."""
    S = size * supersample
    h = _Head(cx=p.cx, cy=p.cy, rx=0.2 * p.head, ry=0.215 * p.head, hx=0.245 * p.head, hy=0.25 * p.head,
              hcy=p.cy - 0.045 * p.head)
    k = p.shading
    hair_dark = _scale(p.hair, 1 - 0.32 * k - 0.08)
    hair_line = _scale(p.hair, 0.45)
    skin_shadow = _mix(p.skin, (200, 120, 130), 0.25 + 0.2 * k)
    lash = _mix(_scale(p.hair, 0.25), (40, 20, 30), 0.6)

    ramp = np.linspace(1.03, 0.9, S, dtype=np.float32)[:, None, None]   # light from above
    bg_rgb = np.clip(np.asarray(p.background, np.float32) * ramp, 0, 255).astype(np.uint8)
    bg = Image.fromarray(np.broadcast_to(bg_rgb, (S, S, 3)).copy()).convert("RGBA")

    body = _Canvas(S)
    body.poly([(h.cx - 0.045, h.chin - 0.05), (h.cx + 0.045, h.chin - 0.05),
               (h.cx + 0.045, h.chin + 0.08), (h.cx - 0.045, h.chin + 0.08)], skin_shadow)
    body.poly(_ellipse(h.cx, h.chin + 0.24, 0.26, 0.2, -90, 90, 24) + [(h.cx + 0.26, 1.1), (h.cx - 0.26, 1.1)],
              p.clothes)
    body.poly([(h.cx - 0.1, h.chin + 0.055), (h.cx, h.chin + 0.14), (h.cx + 0.1, h.chin + 0.055),
               (h.cx + 0.05, h.chin + 0.05), (h.cx, h.chin + 0.09), (h.cx - 0.05, h.chin + 0.05)],
              (250, 250, 250))

    head = _Canvas(S)
    _back_hair(head, p, h, hair_dark)
    _tail_ties(head, p, h)
    face_pts = _face_outline(h, p.face_shape)
    face = _Canvas(S)
    face.poly(face_pts, p.skin)
    face_mask = face.mask()
    shade = _Canvas(S)   # shadow the fringe casts on the forehead
    shade.poly(_ellipse(h.cx, h.cy - h.ry * 0.62, h.rx * 1.2, h.ry * 0.55), skin_shadow, alpha=int(120 + 100 * k))
    face.over(_clipped(shade, face_mask))
    if p.blush > 0:
        blush = _Canvas(S)
        for s in (-1, 1):
            blush.oval(h.cx + s * p.eye_gap * 1.1, h.cy + p.eye_y + p.eye_h * 0.75, 0.045, 0.022,
                       (255, 110, 130), alpha=int(200 * p.blush))
        face.over(_clipped(blush, face_mask))
    face.line(face_pts + face_pts[:1], _scale(p.skin, 0.62), 0.008, alpha=200)
    head.over(face)

    feat = _Canvas(S)
    ey = h.cy + p.eye_y
    for s in (-1, 1):
        _eye(feat, p, h.cx + s * p.eye_gap, ey, s, lash)
        _brow(feat, p, h.cx + s * p.eye_gap, ey - p.eye_h * 0.82, s, hair_line)
    feat.line([(h.cx + 0.004, ey + p.eye_h * 0.55), (h.cx + 0.0, ey + p.eye_h * 0.62)], _scale(p.skin, 0.7), 0.006)
    _mouth(feat, p, h.cx, h.cy + h.ry * 0.62, (120, 50, 60))
    head.over(feat)

    front = _Canvas(S)
    if p.side_locks or p.hair_style in ("bob", "long"):
        _side_locks(front, h, p.hair)
    front.poly(_bangs(p, h), p.hair)
    hair_mask = front.mask()
    ring = _Canvas(S)   # the glossy 'angel ring' highlight
    ring.line(_ellipse(h.cx, h.hcy + h.hy * 0.1, h.hx * 0.78, h.hy * 0.62, -55, 55, 16),
              _mix(p.hair, (255, 255, 255), 0.5), 0.022, alpha=int(90 + 130 * k))
    front.over(_clipped(ring, hair_mask))
    dark = _Canvas(S)   # strands: a few darker lines down the fringe
    for t in (-0.45, 0.05, 0.5):
        x = h.cx + t * h.hx
        dark.line([(x, h.hcy - h.hy * 0.35), (x - 0.02 * t, h.cy - h.ry * 0.33)], hair_line, 0.006,
                  alpha=int(60 + 80 * k))
    front.over(_clipped(dark, hair_mask))
    _accessory(front, p, h, hair_dark)
    head.over(front)

    pivot = (h.cx * S, h.chin * S)
    head_img = head.img.rotate(p.tilt, resample=Image.BICUBIC, center=pivot)
    bg.alpha_composite(body.img)
    bg.alpha_composite(head_img)
    out = bg.convert("RGB")
    return out.resize((size, size), Image.LANCZOS) if supersample != 1 else out
