"""A compact StyleGAN2 trainer (pure PyTorch) for the project's own small generator.

One step (batch B, the StyleGAN2 recipe of Karras et al. 2020 / stylegan2-ada-pytorch):
  G      z -> mapping (+ style mixing) -> synthesis -> D; non-saturating loss; Adam
  D      D(G(z)) and D(real) with the logistic loss; every `r1_interval` steps also the lazy R1
         penalty gamma/2 * ||grad D(real)||^2 * interval; Adam with lr and betas rescaled for lazy
         regularization (c = interval / (interval + 1))
  EMA    G_ema = lerp(G, G_ema, beta), beta = 0.5 ** (B / ema_nimg) with the ema ramp-up
  w_avg  tracked on G by the mapping (beta 0.998), copied to G_ema with the other buffers
  ADA    with --data (or --augment ada) every image D sees (reals, fakes, the R1 reals) goes through
         the differentiable augmentation of interpolate.train.augment with probability p, steered
         every few steps by r_t = E[sign(D(real))] towards 0.6; p is part of the snapshot
Real images (interpolate.train.reals) come from the procedural data set, drawn on the fly, or from the
user's folder / zip (--data); either way step k's images depend only on k, so a resumed run sees
exactly the images it would have seen. `--init` starts G (and D, where the file has one) from a
trained StyleGAN2 (interpolate.train.finetune). Path-length regularization is not implemented.

Run folder:
  snapshot.pt    the whole training state (G, D, G_ema, optimizers, RNG, step), torch.load(weights_only)
  model.pt       the generator (G_ema) as a waifu-morph native checkpoint, rewritten at each snapshot
  samples/       a grid of fixed seeds from G_ema at each snapshot
  stats.jsonl    one line of losses and speed per log interval
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
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
from ..files import atomic_path, atomic_write
from ..images import to_uint8_numpy
from ..networks.stylegan2 import Generator
from . import loss as L
from .augment import AdaController, augment
from .config import TrainConfig
from .dataset import contact_sheet
from .discriminator import Discriminator
from .folder import ImageSet, load_image_set
from .reals import FolderImages, RealImages, real_batch
from .snapshots import SNAPSHOT_FORMAT, load_snapshot, write_model

__all__ = ["TrainConfig", "Trainer", "StepStats", "RealImages", "real_batch", "train"]


@dataclass
class StepStats:
    g_loss: float = float("nan")
    d_loss: float = float("nan")
    r1: float = float("nan")
    real_score: float = float("nan")
    fake_score: float = float("nan")
    aug_p: float = 0.0
    r_t: float = float("nan")


class Trainer:
    """Owns G, D, G_ema, their optimizers and the augmentation; `step()` runs one training iteration.

    `images`: the already-loaded ImageSet of cfg.data (else it is loaded here); `init`: the
    InitWeights of cfg.init (else read here)."""

    def __init__(self, cfg: TrainConfig, outdir: Path | None = None, device: str | None = None, workers: int = 0,
                 images: ImageSet | None = None, init: Any = None):
        self.cfg = cfg
        self.outdir = None if outdir is None else Path(outdir)
        self.device = pick_device(device or "cpu")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.data:
            images = images if images is not None else load_image_set(Path(cfg.data), cfg.resolution, cfg.square, cfg.cond)
            self.reals: Any = FolderImages(images, cfg.batch, cfg.dataset_seed, cfg.xflip)
            self.data_sha256 = hashlib.sha256(images.images.tobytes() + images.labels.tobytes()).hexdigest()
        else:
            self.reals = RealImages(cfg, workers)
            self.data_sha256 = None
        torch.manual_seed(cfg.seed)
        self.G = Generator(**cfg.generator_kwargs()).to(self.device)
        self.D = Discriminator(**cfg.discriminator_kwargs()).to(self.device)
        if self.G.img_resolution != cfg.resolution or self.D.img_resolution != cfg.resolution:
            raise WaifuError(f"the networks are {self.G.img_resolution} px but the run is {cfg.resolution} px")
        if self.G.c_dim != self.reals.c_dim or self.D.c_dim != self.reals.c_dim:
            raise WaifuError(f"the generator has {self.G.c_dim} label dimensions but the data set gives "
                             f"{self.reals.c_dim}; use --cond with a data set of {self.G.c_dim} classes"
                             if self.G.c_dim else "the data set has labels but the generator is unconditional; drop --cond")
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G.mapping.w_avg.copy_(self._mean_w(self.G, 64))
        if cfg.init:
            self._load_init(init)
        c = cfg.r1_interval / (cfg.r1_interval + 1)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.g_lr, betas=cfg.betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr * c,
                                      betas=(cfg.betas[0] ** c, cfg.betas[1] ** c), eps=1e-8)
        self.ada = AdaController(cfg.ada_target, cfg.ada_interval, cfg.ada_kimg, p=cfg.aug_p)
        self.step_idx = 0
        self.train_seconds = 0.0
        self.sample_z = torch.from_numpy(np.random.RandomState(123).randn(16, self.G.z_dim)).float().to(self.device)
        self.notes: list[str] = []

    def _load_init(self, init: Any) -> None:
        from .finetune import load_discriminator_state, read_init

        init = init if init is not None else read_init(Path(self.cfg.init))
        self.G.load_state_dict(init.g_state)
        self.G_ema.load_state_dict(init.g_ema_state)
        if init.d_state is not None:
            load_discriminator_state(self.D, init.d_state, init.path)

    @staticmethod
    @torch.no_grad()
    def _mean_w(G: torch.nn.Module, n: int) -> torch.Tensor:
        c = None
        if G.c_dim:
            c = torch.nn.functional.one_hot(torch.arange(n) % G.c_dim, G.c_dim).float().to(G.w_avg.device)
        return G.mapping(torch.randn(n, G.z_dim, device=G.w_avg.device), c)[:, 0].mean(dim=0)

    @property
    def nimg(self) -> int:
        return self.step_idx * self.cfg.batch

    def _run_D(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """D of the (augmented) images: every image D sees goes through the same augmentation."""
        if self.cfg.augment != "none":
            img = augment(img, self.ada.p)
        return self.D(img, c)

    def _gen_c(self) -> torch.Tensor | None:
        c = self.reals.random_labels(self.cfg.batch)
        return None if c is None else c.to(self.device)

    def step(self) -> StepStats:
        cfg, G, D = self.cfg, self.G, self.D
        stats = StepStats(aug_p=self.ada.p)
        real, real_c = self.reals.get(self.step_idx)
        real = real.to(self.device, non_blocking=True)
        real_c = None if real_c is None else real_c.to(self.device)

        # G: non-saturating loss through a frozen D.
        D.requires_grad_(False)
        G.requires_grad_(True)
        gen_c = self._gen_c()
        ws = L.mixed_ws(G, torch.randn(cfg.batch, G.z_dim, device=self.device), cfg.mixing_prob, c=gen_c)
        fake_logits = self._run_D(G.synthesis(ws, noise_mode="random"), gen_c)
        g_loss = L.generator_loss(fake_logits)
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        stats.g_loss = float(g_loss.detach())

        # D: logistic loss on fakes and reals, plus the lazy R1 penalty every r1_interval steps.
        G.requires_grad_(False)
        D.requires_grad_(True)
        gen_c = self._gen_c()
        with torch.no_grad():
            ws = L.mixed_ws(G, torch.randn(cfg.batch, G.z_dim, device=self.device), cfg.mixing_prob,
                            update_w_avg_beta=cfg.w_avg_beta, c=gen_c)
            fake = G.synthesis(ws, noise_mode="random")
        do_r1 = cfg.gamma > 0 and self.step_idx % cfg.r1_interval == 0
        real.requires_grad_(do_r1)
        real_logits = self._run_D(real, real_c)
        fake_logits = self._run_D(fake, gen_c)
        self.ada.observe(real_logits)
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

        if cfg.augment == "ada":
            self.ada.maybe_adjust(self.step_idx, cfg.batch)
        stats.r_t = self.ada.r_t
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
        return {"format": SNAPSHOT_FORMAT, "version": 2, "config": self.cfg.to_dict(), "step": self.step_idx,
                "train_seconds": self.train_seconds, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "G_ema": self.G_ema.state_dict(), "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "augment": self.ada.state(), "data_sha256": self.data_sha256, "model_meta": self.model_meta(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}

    def save_snapshot(self, path: Path | None = None) -> Path:
        path = Path(path) if path is not None else self._require_outdir() / "snapshot.pt"
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)
        return path

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("data_sha256") != self.data_sha256:
            raise WaifuError(f"the images under {self.cfg.data} changed since the snapshot was taken; an exact "
                             "resume needs the same data set (start a new run with --init on the exported model)")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if "augment" in state:
            self.ada.load(state["augment"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.step_idx = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

    @classmethod
    def resume(cls, path: Path, outdir: Path | None = None, device: str | None = None, workers: int = 0,
               images: ImageSet | None = None, **overrides: Any) -> "Trainer":
        """Continue a run from its snapshot; `overrides` may change e.g. kimg or snapshot_minutes."""
        state = load_snapshot(path)
        config = {**state["config"], **{k: v for k, v in overrides.items() if v is not None}}
        cfg = TrainConfig(**config)
        # the snapshot already holds the --init weights: build without reading that file again
        trainer = cls(dataclasses.replace(cfg, init=None), outdir=outdir if outdir is not None else Path(path).parent,
                      device=device, workers=workers, images=images)
        trainer.cfg = cfg
        trainer.load_state(state)
        return trainer

    def model_meta(self) -> dict[str, Any]:
        cfg = self.cfg
        if cfg.data:
            reals = self.reals.data
            name = f"{Path(cfg.data).stem}-{cfg.resolution}"
            dataset = {"source": str(cfg.data), "images": len(reals.images), "skipped": len(reals.skipped),
                       "square": cfg.square, "xflip": cfg.xflip, "c_dim": reals.c_dim, "sha256": self.data_sha256,
                       "resolution": cfg.resolution}
        else:
            name = f"chibi-{cfg.resolution}"
            dataset = {"generator": "interpolate.train.dataset (procedural chibi portraits)",
                       "seed": cfg.dataset_seed, "resolution": cfg.resolution}
        return {"name": name, "trained_by": "waifu-morph train", "dataset": dataset,
                "training": {**cfg.to_dict(), "step": self.step_idx, "kimg": self.nimg / 1000,
                             "train_seconds": round(self.train_seconds, 1), "torch": str(torch.__version__),
                             "hardware": _hardware(self.device), "threads": cfg.threads or torch.get_num_threads(),
                             "augment_p": self.ada.p},
                "truncation_psi": 0.7}

    def export_model(self, path: Path, w_avg_samples: int = 10000) -> Path:
        """Write G_ema as the native checkpoint; w_avg is re-measured on G_ema's own mapping."""
        return _export(self.G_ema, self.cfg, self.step_idx, self.model_meta(), Path(path), w_avg_samples)

    @torch.no_grad()
    def sample_grid(self, path: Path, psi: float = 1.0) -> Path:
        c = None
        if self.G_ema.c_dim:
            c = torch.nn.functional.one_hot(torch.arange(16) % self.G_ema.c_dim, self.G_ema.c_dim).float().to(self.device)
        ws = self.G_ema.mapping(self.sample_z, c, truncation_psi=psi)
        sheet = contact_sheet(to_uint8_numpy(self.G_ema.synthesis(ws, noise_mode="const")), cols=4)
        with atomic_path(path, suffix=".png") as tmp:
            sheet.save(tmp)
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


@torch.no_grad()
def _export(G_ema: torch.nn.Module, cfg: TrainConfig, step: int, meta: dict[str, Any], path: Path,
            w_avg_samples: int = 10000) -> Path:
    G = copy.deepcopy(G_ema).cpu()
    if step > 0:
        torch_state = torch.get_rng_state()
        torch.manual_seed(cfg.seed + 1)
        G.mapping.w_avg.copy_(Trainer._mean_w(G, w_avg_samples))
        torch.set_rng_state(torch_state)
    write_model(path, G, cfg.generator_kwargs(), meta)
    return path


def export_snapshot_model(snapshot: Path, path: Path) -> tuple[Path, int]:
    """`train export`: the snapshot's G_ema as a model file, without the run's data set (snapshots
    older than the stored model meta are resumed instead). Returns (path, step)."""
    state = load_snapshot(snapshot)
    if "model_meta" not in state:
        trainer = Trainer.resume(snapshot)
        return trainer.export_model(path), trainer.step_idx
    cfg = TrainConfig(**state["config"])
    G = Generator(**cfg.generator_kwargs())
    G.load_state_dict(state["G_ema"])
    return _export(G, cfg, int(state["step"]), state["model_meta"], Path(path)), int(state["step"])


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


def train(trainer: Trainer, progress: Callable[[Trainer, StepStats], None] | None = None,
          log: Callable[[str], None] | None = None) -> Trainer:
    """Step until cfg.kimg thousand images were shown, checkpointing every snapshot_minutes and at the end."""
    cfg = trainer.cfg
    total_steps = math.ceil(cfg.kimg * 1000 / cfg.batch)
    out = trainer._require_outdir()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "config.json", "w") as f:
        f.write(json.dumps(cfg.to_dict(), indent=2))
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
                    sec_per_step = (now - window_t) / max(window_steps, 1)
                    line = {"step": trainer.step_idx, "kimg": trainer.nimg / 1000, "sec_per_step": sec_per_step,
                            "images_per_s": cfg.batch / max(sec_per_step, 1e-9),
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
