"""Every hyperparameter of a training run (stored in each snapshot and in the exported model's meta)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import WaifuError

AUGMENTS = ("ada", "fixed", "none")


@dataclass
class TrainConfig:
    """The defaults are the recipe of the shipped checkpoints/chibi-64.pt (procedural data, no --data)."""

    resolution: int = 64
    dataset_seed: int = 0              # procedural: which data set; --data: the seed of the epoch shuffles
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
    # the user's images (interpolate.train.folder); None: the procedural chibi set
    data: str | None = None
    square: str = "crop"               # crop | pad
    xflip: bool = False
    cond: bool = False                 # condition G and D on the dataset.json labels
    c_dim: int = 0                     # set from the data set's labels (or the --init generator)
    # augmentation (interpolate.train.augment): None = 'ada' with --data, 'none' on the procedural set
    augment: str | None = None
    aug_p: float = 0.0                 # starting p ('ada') or the constant p ('fixed')
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 100.0
    # fine-tuning (interpolate.train.finetune): the file and the networks' kwargs it dictates
    init: str | None = None
    g_kwargs: dict | None = None
    d_kwargs: dict | None = None

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.augment is None:
            self.augment = "ada" if self.data else "none"
        if self.augment not in AUGMENTS:
            raise WaifuError(f"--augment {self.augment}: use ada, fixed or none")
        if not 0 <= self.aug_p <= 1:
            raise WaifuError(f"--aug-p {self.aug_p}: a probability, between 0 and 1")
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise WaifuError(f"--resolution {self.resolution}: use a power of two >= 8, e.g. 64")
        if self.g_architecture not in ("skip", "resnet", "orig"):
            raise WaifuError(f"--g-arch {self.g_architecture}: use skip, resnet or orig")
        if self.batch < 1 or self.batch % min(self.mbstd_group, self.batch):
            raise WaifuError(f"--batch {self.batch}: use a multiple of the minibatch-std group {self.mbstd_group}")
        if self.square not in ("crop", "pad"):
            raise WaifuError(f"--square {self.square}: use crop or pad")
        if self.cond and not self.data:
            raise WaifuError("--cond needs --data: a folder or zip whose dataset.json holds the labels")

    @property
    def gamma(self) -> float:
        return 0.0002 * self.resolution ** 2 / self.batch if self.r1_gamma is None else self.r1_gamma

    @property
    def ema_nimg(self) -> float:
        return 1000 * (self.batch * 10 / 32 if self.ema_kimg is None else self.ema_kimg)

    def generator_kwargs(self) -> dict[str, Any]:
        """Constructor kwargs of interpolate.networks.stylegan2.Generator (= official names)."""
        if self.g_kwargs is not None:
            return dict(self.g_kwargs)
        return dict(z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim, img_resolution=self.resolution, img_channels=3,
                    mapping_kwargs=dict(num_layers=self.map_layers), channel_base=self.channel_base,
                    channel_max=self.channel_max, num_fp16_res=0, conv_clamp=256, architecture=self.g_architecture,
                    use_noise=self.noise)

    def discriminator_kwargs(self) -> dict[str, Any]:
        if self.d_kwargs is not None:
            return dict(self.d_kwargs)
        g = self.generator_kwargs()
        base, cmax = (self.channel_base, self.channel_max) if self.g_kwargs is None else \
            (g.get("channel_base", 32768), g.get("channel_max", 512))
        return dict(img_resolution=self.resolution, img_channels=3, channel_base=base, channel_max=cmax,
                    mbstd_group_size=self.mbstd_group, c_dim=self.c_dim)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d
