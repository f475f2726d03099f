"""The synthesis network through torch.compile at one fixed batch size (for a `render --compile`).

    synth = compile_synthesis(G, batch=4)      # a callable like G.synthesis(ws, noise_mode=, noise=)
    img = synth(ws, noise_mode="const")        # fewer than 4 frames: padded to 4, the extra dropped

Every call has the same shapes (the last, shorter batch of a clip is padded), so nothing recompiles for
the clip's last batch (dynamic=False; dynamo still compiles several graphs around its graph breaks). The first call pays the compile (tens of seconds on a CPU). A
build without a working compiler (no C++ toolchain for inductor on CPU, no Triton on CUDA) is a
one-line WaifuError at that first call. bench/bench_compile.py measures whether it pays off: on this
project's 2-core CPU it does not (chibi-64, batch 4: 0.73x eager after a 131 s compile), so `render` has
no --compile flag yet; a lent GPU should measure it (CUDA graphs, mode="reduce-overhead").
"""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import WaifuError


def compile_available() -> bool:
    return hasattr(torch, "compile")


def compile_synthesis(G, batch: int, mode: str = "default") -> Callable[..., torch.Tensor]:
    """G.synthesis compiled for [batch, num_ws, w_dim] ws."""
    if not compile_available():
        raise WaifuError(f"--compile needs torch.compile (PyTorch 2.0 or newer); this is {torch.__version__}")
    assert batch >= 1, batch
    try:
        fn = torch.compile(G.synthesis, mode=mode, dynamic=False, fullgraph=False)
    except Exception as exc:         # e.g. an unsupported Python version for dynamo
        raise WaifuError(f"--compile is unavailable here ({str(exc).splitlines()[0][:120]}); render without it") from None
    state = {"tried": False}

    def synthesis(ws: torch.Tensor, noise_mode: str = "const", noise=None) -> torch.Tensor:
        n = ws.shape[0]
        assert 1 <= n <= batch and ws.ndim == 3, (ws.shape, batch)
        if n < batch:                # the same shape every call: no recompile for the last batch
            ws = torch.cat([ws, ws[-1:].expand(batch - n, -1, -1)])
            if noise is not None:
                noise = [torch.cat([t, t[-1:].expand(batch - n, *t.shape[1:])]) for t in noise]
        try:
            img = fn(ws, noise_mode=noise_mode, noise=noise)
        except Exception as exc:
            if state["tried"]:
                raise
            raise WaifuError(f"--compile failed on this machine ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:140]}); render without --compile") from None
        state["tried"] = True
        return img[:n]

    return synthesis
