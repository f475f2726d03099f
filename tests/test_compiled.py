"""torch.compile'd synthesis (render/compiled.py, bench/bench_compile.py) agrees with eager (< 1e-4)."""

from __future__ import annotations

import os
import shutil

import pytest
import torch


def test_compiled_synthesis_agrees_with_eager(tmp_path):
    from fakes import tiny_stylegan2_file

    from interpolate.loading import load_generator
    from interpolate.render.compiled import compile_available, compile_synthesis

    if os.environ.get("WAIFU_MORPH_COMPILE_TESTS") != "1":
        pytest.skip("compiling takes about 100 s on 2 CPU cores; set WAIFU_MORPH_COMPILE_TESTS=1 to run it")
    if not compile_available() or shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("torch.compile needs PyTorch 2 and a C++ compiler (inductor) on this CPU")
    G = load_generator(tiny_stylegan2_file(tmp_path, channel_base=256, channel_max=8), device=torch.device("cpu"))
    ws = G.mapping(torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(0)), None)
    synth = compile_synthesis(G, batch=4)
    with torch.inference_mode():
        eager = G.synthesis(ws, noise_mode="const")
        compiled = synth(ws, noise_mode="const")          # 3 frames padded to the fixed batch of 4
    assert compiled.shape == eager.shape == (3, G.img_channels, G.img_resolution, G.img_resolution)
    assert (compiled - eager).abs().max().item() < 1e-4
