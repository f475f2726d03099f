"""A compact StyleGAN2 trainer (pure PyTorch) for the project's own small generator.

One step (batch B, the StyleGAN2 recipe of Karras et al. 2020 / stylegan2-ada-pytorch):
  G      z -> mapping (+ style mixing) -> synthesis -> D; non-saturating loss; Adam
  D      D(G(z)) and D(real) with the logistic loss; every `r1_interval` steps also the lazy R1
         penalty gamma/2 * ||grad D(real)||^2 * interval; Adam with lr and betas rescaled for lazy
         regularization (c = interval / (interval + 1))
  EMA    G_ema = lerp(G, G_ema, beta), beta = 0.5 ** (B / ema_nimg) with the ema ramp-up
  w_avg  tracked on G by the mapping (beta 0.998), copied to G_ema with the other buffers
Real images come from the procedural data set, drawn on the fly: step k uses images k*B .. k*B+B-1 of
data set `dataset_seed`, so a run needs no files and a resumed run sees exactly the images it would
have seen. Path-length regularization and ADA are not implemented (the data set is unlimited).

Run folder:
  snapshot.pt    the whole training state (G, D, G_ema, optimizers, RNG, step), torch.load(weights_only)
  model.pt       the generator (G_ema) as a waifu-morph native checkpoint, rewritten at each snapshot
  samples/       a grid of fixed seeds from G_ema at each snapshot
  stats.jsonl    one line of losses and speed per log interval
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..device import pick_device
from ..errors import WaifuError
from ..formats.native import save_native
from ..networks.stylegan2 import Generator
from . import loss as L
from .dataset import chibi_images, contact_sheet
from .discriminator import Discriminator

SNAPSHOT_FORMAT = "waifu-morph-train-snapshot"


@dataclass
class TrainConfig:
    """Every hyperparameter of a run; stored in each snapshot and in the model's meta.

    The defaults are the recipe of the shipped checkpoints/chibi-64.pt."""

    resolution: int = 64
    dataset_seed: int = 0
    seed: int = 0
    batch: int = 8
    kimg: float = 200.0                # stop after this many thousand real images
    z_dim: int = 256
    w_dim: int = 256
    map_layers: int = 4
    channel_base: int = 1024           # channels at resolution r: min(channel_base // r, channel_max), G and D
    channel_max: int = 128
    g_architecture: str = "skip"       # generator: 'skip' (StyleGAN2 config F), 'resnet' or 'orig' (one ToRGB, at the end)
    noise: bool = False                # per-pixel noise inputs in the generator (use_noise); flat cartoons need none
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float | None = None      # None: 0.0002 * resolution^2 / batch (stylegan2-ada 'auto')
    r1_interval: int = 16
    mixing_prob: float = 0.9
    ema_kimg: float | None = None      # None: batch * 10 / 32
    ema_rampup: float | None = 0.05
    w_avg_beta: float = 0.998
    mbstd_group: int = 4
    snapshot_minutes: float = 5.0
    log_every: int = 10                # steps between stats lines
    threads: int | None = None         # torch CPU threads (None: torch's default)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise WaifuError(f"--resolution {self.resolution}: use a power of two >= 8, e.g. 64")
        if self.g_architecture not in ("skip", "resnet", "orig"):
            raise WaifuError(f"--g-arch {self.g_architecture}: use skip, resnet or orig")
        if self.batch < 1 or self.batch % min(self.mbstd_group, self.batch):
            raise WaifuError(f"--batch {self.batch}: use a multiple of the minibatch-std group {self.mbstd_group}")

    @property
    def gamma(self) -> float:
        return 0.0002 * self.resolution ** 2 / self.batch if self.r1_gamma is None else self.r1_gamma

    @property
    def ema_nimg(self) -> float:
        return 1000 * (self.batch * 10 / 32 if self.ema_kimg is None else self.ema_kimg)

    def generator_kwargs(self) -> dict[str, Any]:
        """Constructor kwargs of interpolate.networks.stylegan2.Generator (= official names)."""
        return dict(z_dim=self.z_dim, c_dim=0, w_dim=self.w_dim, img_resolution=self.resolution, img_channels=3,
                    mapping_kwargs=dict(num_layers=self.map_layers), channel_base=self.channel_base,
                    channel_max=self.channel_max, num_fp16_res=0, conv_clamp=256, architecture=self.g_architecture,
                    use_noise=self.noise)

    def discriminator_kwargs(self) -> dict[str, Any]:
        return dict(img_resolution=self.resolution, img_channels=3, channel_base=self.channel_base,
                    channel_max=self.channel_max, mbstd_group_size=self.mbstd_group)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


def real_batch(cfg: TrainConfig, step: int) -> torch.Tensor:
    """The real images of `step`: [B, 3, R, R] float in [-1, 1]."""
    return _to_float(chibi_images(cfg.dataset_seed, cfg.batch, cfg.resolution, start=step * cfg.batch))


def _to_float(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


class RealImages:
    """Real batches by step; with `workers` > 0, drawn ahead of time in worker processes (for GPUs,
    where drawing on the training process would be the bottleneck)."""

    def __init__(self, cfg: TrainConfig, workers: int = 0, prefetch: int = 8):
        self.cfg, self.prefetch = cfg, prefetch
        self.pool = None
        if workers > 0:
            import multiprocessing

            self.pool = multiprocessing.get_context("spawn").Pool(workers)
        self.pending: dict[int, Any] = {}

    def get(self, step: int) -> torch.Tensor:
        if self.pool is None:
            return real_batch(self.cfg, step)
        cfg = self.cfg
        for s in range(step, step + self.prefetch):
            if s not in self.pending:
                self.pending[s] = self.pool.apply_async(chibi_images, (cfg.dataset_seed, cfg.batch, cfg.resolution,
                                                                       s * cfg.batch))
        for s in [s for s in self.pending if s < step]:
            del self.pending[s]
        return _to_float(self.pending.pop(step).get())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] about [-1, 1] -> uint8 [N, H, W, 3] (as NVIDIA's gen_images.py)."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_model(path: Path, G: torch.nn.Module, init_kwargs: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the generator as a waifu-morph native checkpoint (loadable with weights_only=True)."""
    save_native(path, arch="stylegan2", init_kwargs=init_kwargs, state_dict=G.state_dict(), meta=meta)


@dataclass
class StepStats:
    g_loss: float = float("nan")
    d_loss: float = float("nan")
    r1: float = float("nan")
    real_score: float = float("nan")
    fake_score: float = float("nan")


class Trainer:
    """Owns G, D, G_ema and their optimizers; `step()` runs one training iteration."""

    def __init__(self, cfg: TrainConfig, outdir: Path | None = None, device: str | None = None, workers: int = 0):
        self.cfg = cfg
        self.outdir = None if outdir is None else Path(outdir)
        self.device = pick_device(device or "cpu")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.G = Generator(**cfg.generator_kwargs()).to(self.device)
        self.D = Discriminator(**cfg.discriminator_kwargs()).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G.mapping.w_avg.copy_(self._mean_w(self.G, 64))
        c = cfg.r1_interval / (cfg.r1_interval + 1)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.g_lr, betas=cfg.betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr * c,
                                      betas=(cfg.betas[0] ** c, cfg.betas[1] ** c), eps=1e-8)
        self.step_idx = 0
        self.train_seconds = 0.0
        self.sample_z = torch.from_numpy(np.random.RandomState(123).randn(16, cfg.z_dim)).float().to(self.device)
        self.reals = RealImages(cfg, workers)

    @staticmethod
    @torch.no_grad()
    def _mean_w(G: torch.nn.Module, n: int) -> torch.Tensor:
        return G.mapping(torch.randn(n, G.z_dim, device=G.w_avg.device))[:, 0].mean(dim=0)

    @property
    def nimg(self) -> int:
        return self.step_idx * self.cfg.batch

    def step(self) -> StepStats:
        cfg, G, D = self.cfg, self.G, self.D
        stats = StepStats()
        real = self.reals.get(self.step_idx).to(self.device, non_blocking=True)

        # G: non-saturating loss through a frozen D.
        D.requires_grad_(False)
        G.requires_grad_(True)
        ws = L.mixed_ws(G, torch.randn(cfg.batch, cfg.z_dim, device=self.device), cfg.mixing_prob)
        fake_logits = D(G.synthesis(ws, noise_mode="random"))
        g_loss = L.generator_loss(fake_logits)
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        stats.g_loss = float(g_loss.detach())

        # D: logistic loss on fakes and reals, plus the lazy R1 penalty every r1_interval steps.
        G.requires_grad_(False)
        D.requires_grad_(True)
        with torch.no_grad():
            ws = L.mixed_ws(G, torch.randn(cfg.batch, cfg.z_dim, device=self.device), cfg.mixing_prob,
                            update_w_avg_beta=cfg.w_avg_beta)
            fake = G.synthesis(ws, noise_mode="random")
        do_r1 = cfg.gamma > 0 and self.step_idx % cfg.r1_interval == 0
        real.requires_grad_(do_r1)
        real_logits = D(real)
        fake_logits = D(fake)
        d_loss = L.discriminator_loss(real_logits, fake_logits)
        total = d_loss
        if do_r1:
            r1 = L.r1_penalty(real, real_logits)
            total = total + r1 * (cfg.gamma / 2) * cfg.r1_interval
            stats.r1 = float(r1.detach())
        self.opt_D.zero_grad(set_to_none=True)
        total.backward()
        self.opt_D.step()
        stats.d_loss = float(d_loss.detach())
        stats.real_score = float(real_logits.detach().mean())
        stats.fake_score = float(fake_logits.detach().mean())

        self.step_idx += 1
        self._update_ema()
        return stats

    @torch.no_grad()
    def _update_ema(self) -> None:
        cfg = self.cfg
        ema_nimg = cfg.ema_nimg
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # ---- snapshots -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"format": SNAPSHOT_FORMAT, "version": 1, "config": self.cfg.to_dict(), "step": self.step_idx,
                "train_seconds": self.train_seconds, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "G_ema": self.G_ema.state_dict(), "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}

    def save_snapshot(self, path: Path | None = None) -> Path:
        path = Path(path) if path is not None else self._require_outdir() / "snapshot.pt"
        _atomic_save(self.state(), path)
        return path

    def load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.step_idx = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

    @classmethod
    def resume(cls, path: Path, outdir: Path | None = None, device: str | None = None, workers: int = 0,
               **overrides: Any) -> "Trainer":
        """Continue a run from its snapshot; `overrides` may change e.g. kimg or snapshot_minutes."""
        state = load_snapshot(path)
        config = {**state["config"], **{k: v for k, v in overrides.items() if v is not None}}
        trainer = cls(TrainConfig(**config), outdir=outdir if outdir is not None else Path(path).parent,
                      device=device, workers=workers)
        trainer.load_state(state)
        return trainer

    def model_meta(self) -> dict[str, Any]:
        cfg = self.cfg
        return {"name": f"chibi-{cfg.resolution}", "trained_by": "waifu-morph train",
                "dataset": {"generator": "interpolate.train.dataset (procedural chibi portraits)",
                            "seed": cfg.dataset_seed, "resolution": cfg.resolution},
                "training": {**cfg.to_dict(), "step": self.step_idx, "kimg": self.nimg / 1000,
                             "train_seconds": round(self.train_seconds, 1), "torch": str(torch.__version__),
                             "hardware": _hardware(self.device), "threads": cfg.threads or torch.get_num_threads()},
                "truncation_psi": 0.7}

    @torch.no_grad()
    def export_model(self, path: Path, w_avg_samples: int = 10000) -> Path:
        """Write G_ema as the native checkpoint; w_avg is re-measured on G_ema's own mapping."""
        G = copy.deepcopy(self.G_ema).cpu()
        if self.step_idx > 0:
            torch_state = torch.get_rng_state()
            torch.manual_seed(self.cfg.seed + 1)
            G.mapping.w_avg.copy_(self._mean_w(G, w_avg_samples))
            torch.set_rng_state(torch_state)
        write_model(Path(path), G, self.cfg.generator_kwargs(), self.model_meta())
        return Path(path)

    @torch.no_grad()
    def sample_grid(self, path: Path, psi: float = 1.0) -> Path:
        ws = self.G_ema.mapping(self.sample_z, truncation_psi=psi)
        sheet = contact_sheet(to_uint8(self.G_ema.synthesis(ws, noise_mode="const")), cols=4)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.png")
        sheet.save(tmp)
        os.replace(tmp, path)
        return path

    def _require_outdir(self) -> Path:
        if self.outdir is None:
            raise WaifuError("this trainer has no run folder; pass --out")
        return self.outdir

    def checkpoint(self) -> None:
        """Snapshot, model export and sample grid into the run folder."""
        out = self._require_outdir()
        self.save_snapshot(out / "snapshot.pt")
        self.export_model(out / "model.pt")
        self.sample_grid(out / "samples" / f"step{self.step_idx:07d}.png")


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu} ({os.cpu_count()} cores)"


def load_snapshot(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise WaifuError(f"no training snapshot at {path}; pass the snapshot.pt of a run folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise WaifuError(f"{path} is not a readable training snapshot ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
        raise WaifuError(f"{path} is not a waifu-morph training snapshot (for a model file use 'waifu-morph info')")
    return state


def train(trainer: Trainer, progress: Callable[[Trainer, StepStats], None] | None = None,
          log: Callable[[str], None] | None = None) -> Trainer:
    """Step until cfg.kimg thousand images were shown, checkpointing every snapshot_minutes and at the end."""
    cfg = trainer.cfg
    total_steps = math.ceil(cfg.kimg * 1000 / cfg.batch)
    out = trainer._require_outdir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    last_snapshot = time.monotonic()
    window_t, window_steps = time.monotonic(), 0
    try:
        with open(out / "stats.jsonl", "a") as stats_file:
            while trainer.step_idx < total_steps:
                t0 = time.monotonic()
                stats = trainer.step()
                trainer.train_seconds += time.monotonic() - t0
                window_steps += 1
                if progress is not None:
                    progress(trainer, stats)
                if trainer.step_idx % cfg.log_every == 0 or trainer.step_idx == total_steps:
                    now = time.monotonic()
                    line = {"step": trainer.step_idx, "kimg": trainer.nimg / 1000,
                            "sec_per_step": (now - window_t) / max(window_steps, 1),
                            "train_hours": trainer.train_seconds / 3600, **dataclasses.asdict(stats)}
                    stats_file.write(json.dumps(line) + "\n")
                    stats_file.flush()
                    if log is not None:
                        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()))
                    window_t, window_steps = now, 0
                if time.monotonic() - last_snapshot >= cfg.snapshot_minutes * 60:
                    trainer.checkpoint()
                    last_snapshot = time.monotonic()
                    if log is not None:
                        log(f"snapshot at step {trainer.step_idx} -> {out}")
        trainer.checkpoint()
    finally:
        trainer.reals.close()
    if log is not None:
        log(f"done: step {trainer.step_idx}, {trainer.nimg / 1000:.1f} kimg, model {out / 'model.pt'}")
    return trainer
