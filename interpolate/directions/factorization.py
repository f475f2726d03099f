"""Closed-form factorisation (SeFa, Shen & Zhou 2021) of a generator's style affine layers.

Every synthesis layer turns w into styles with an affine map s = A w + b. A unit step n in W moves the
styles by A n, so the directions that move the chosen layers' styles the most are the top
eigenvectors of A^T A, A the stacked affine weights of those layers. Each row of A (one style
channel) is first scaled to unit length, as genforce's SeFa does, so wide layers and large weight
gains do not outvote the others.

Which affine feeds which ws index, per architecture (the network files' own structure):
    stylegan1  b{R}.epilogue0 / epilogue1 .style (scale and shift rows): ws 2k and 2k + 1
    stylegan2  b{R}.conv0 / conv1 .affine: the indices the synthesis reads; b{R}.torgb.affine: ToRGB
    stylegan3  L{i}.affine: ws 1 + i (the last layer is ToRGB); input.affine (rotation and
               translation): ws 0
ToRGB and the StyleGAN3 input transform are left out, as rosinality's and genforce's SeFa leave
ToRGB out, except for a chosen ws index that feeds nothing else (the last index of a StyleGAN2
'orig' or 'resnet' model feeds only ToRGB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import WaifuError


@dataclass(frozen=True)
class StyleAffine:
    index: int                      # the ws index it reads
    name: str                       # its parameter name in G.state_dict()
    weight: torch.Tensor            # [out, w_dim]
    main: bool                      # False for ToRGB and the StyleGAN3 input transform


def style_affines(G) -> list[StyleAffine]:
    """Every style affine of G with the ws index it reads."""
    arch = getattr(G, "arch", None)
    if arch == "stylegan2":
        return _stylegan2(G)
    if arch == "stylegan1":
        return _stylegan1(G)
    if arch == "stylegan3":
        return _stylegan3(G)
    raise WaifuError(f"directions need a StyleGAN1/2/3 generator; this one is '{arch}'")


def _stylegan2(G) -> list[StyleAffine]:
    out, w_idx = [], 0
    for block in G.synthesis.blocks():
        prefix = f"synthesis.b{block.resolution}"
        convs = [("conv1", block.conv1)] if block.in_channels == 0 else [("conv0", block.conv0), ("conv1", block.conv1)]
        for k, (name, layer) in enumerate(convs):
            out.append(StyleAffine(w_idx + k, f"{prefix}.{name}.affine.weight", layer.affine.weight, True))
        if block.num_torgb:
            out.append(StyleAffine(w_idx + block.num_conv, f"{prefix}.torgb.affine.weight", block.torgb.affine.weight, False))
        w_idx += block.num_conv
    return out


def _stylegan1(G) -> list[StyleAffine]:
    out = []
    for k, res in enumerate(G.synthesis.resolutions):
        block = getattr(G.synthesis, f"b{res}")
        for j, epi in enumerate((block.epilogue0, block.epilogue1)):
            out.append(StyleAffine(2 * k + j, f"synthesis.b{res}.epilogue{j}.style.weight", epi.style.weight, True))
    return out


def _stylegan3(G) -> list[StyleAffine]:
    s = G.synthesis
    out = [StyleAffine(0, "synthesis.input.affine.weight", s.input.affine.weight, False)]
    for i, name in enumerate(s.layer_names):
        layer = getattr(s, name)
        out.append(StyleAffine(1 + i, f"synthesis.{name}.affine.weight", layer.affine.weight, not layer.is_torgb))
    return out


def chosen_affines(G, layers) -> list[StyleAffine]:
    """The affines SeFa stacks for ws indices `layers` (see the module docstring)."""
    layers = sorted(set(int(i) for i in layers))
    every = style_affines(G)
    picked = [a for a in every if a.main and a.index in layers]
    covered = {a.index for a in picked}
    picked += [a for a in every if not a.main and a.index in layers and a.index not in covered]
    if not picked:
        raise WaifuError(f"no style layer reads ws {layers}; pick other --layers")
    return picked


def sefa(G, layers=None) -> tuple[np.ndarray, np.ndarray]:
    """(directions [w_dim, w_dim] rows unit and orthogonal, eigenvalues [w_dim] descending) for ws `layers`
    (default all). Signs are fixed so each direction's largest-magnitude entry is positive."""
    layers = range(G.num_ws) if layers is None else layers
    rows = torch.cat([a.weight.detach().to("cpu", torch.float64) for a in chosen_affines(G, layers)])
    assert rows.ndim == 2 and rows.shape[1] == G.w_dim, rows.shape
    a = rows.numpy()
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    a = a[norms[:, 0] > 0] / norms[norms[:, 0] > 0]
    values, vectors = np.linalg.eigh(a.T @ a)                   # ascending, columns
    order = np.argsort(values)[::-1]
    values, directions = values[order], vectors[:, order].T
    flip = np.sign(directions[np.arange(len(directions)), np.abs(directions).argmax(axis=1)])
    directions = directions * flip[:, None]
    return directions, values
