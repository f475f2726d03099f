"""VGG16's convolutional features in plain PyTorch, loaded safely from torchvision's weights file.

The network is torchvision's `vgg16().features` (Simonyan & Zisserman 2015, configuration D): 13 3x3
convolutions with ReLU, max-pooled after conv 2, 4, 7, 10 and 13. Parameters carry torchvision's
state-dict names, `features.N.weight` / `features.N.bias` with N the index in its nn.Sequential, so
the file torchvision downloads (`vgg16-397923af.pth`) loads as it is; its `classifier.*` tensors are
ignored. Only the stack up to relu5_3 is built: the perceptual distance reads relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3, the taps LPIPS uses (Zhang et al. 2018).

Loading never runs code from the file: `torch.load(weights_only=True)` (a plain tensor dict) or
safetensors. NVIDIA's TorchScript `vgg16.pt` (what the official projector downloads) is an archive of
code and is refused by name.

Where the weights are looked for: `--vgg FILE`, else `$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth`
(TORCH_HOME defaults to ~/.cache/torch, or $XDG_CACHE_HOME/torch), torchvision's own cache place.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WaifuError

TORCHVISION_FILE = "vgg16-397923af.pth"
# (index in torchvision's features Sequential, in channels, out channels) of each conv
CONVS = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
         (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512))
POOL_AFTER = (2, 7, 14, 21)            # conv indices followed by a 2x2 max pool (the last pool is not needed)
TAPS = (2, 7, 14, 21, 28)              # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (after these convs)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Features(nn.Module):
    """images [N, 3, H, W] in [-1, 1] -> the five LPIPS taps, each [N, C, h, w]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Module()
        for index, cin, cout in CONVS:
            self.features.add_module(str(index), nn.Conv2d(cin, cout, 3, padding=1))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        assert images.ndim == 4 and images.shape[1] == 3, images.shape
        x = ((images + 1) / 2 - self.mean) / self.std
        taps = []
        for index, _, _ in CONVS:
            x = F.relu(getattr(self.features, str(index))(x))
            if index in TAPS:
                taps.append(x)
            if index in POOL_AFTER:
                x = F.max_pool2d(x, 2)
        return taps


def default_path() -> Path:
    """torchvision's cache place: $TORCH_HOME/hub/checkpoints/vgg16-397923af.pth."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(home) / "hub" / "checkpoints" / TORCHVISION_FILE


def find_weights(vgg: str | os.PathLike | None) -> Path | None:
    """The weights file to use: `vgg` (must exist), else torchvision's cached file if present, else None."""
    if vgg is not None:
        path = Path(vgg)
        if not path.is_file():
            raise WaifuError(f"--vgg file '{path}' not found; pass torchvision's {TORCHVISION_FILE} "
                             f"(a VGG16 state dict, .pth or .safetensors)")
        return path
    path = default_path()
    return path if path.is_file() else None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A VGG16 state dict from .pth (weights_only) or .safetensors; TorchScript archives are refused."""
    name = path.name
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WaifuError(f"'{name}' is a safetensors file; pip install safetensors, or pass torchvision's "
                             f"{TORCHVISION_FILE}") from None
        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for damaged files
            raise WaifuError(f"'{name}' cannot be read as safetensors ({type(exc).__name__}); download it again") from None
    if _is_torchscript(path):
        raise WaifuError(f"'{name}' is a TorchScript archive (e.g. NVIDIA's vgg16.pt), which holds code and is never "
                         f"loaded; pass torchvision's {TORCHVISION_FILE} (a plain state dict) instead")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and plain containers
        raise WaifuError(f"'{name}' is not a plain VGG16 state dict ({type(exc).__name__}); pass torchvision's "
                         f"{TORCHVISION_FILE}") from None
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WaifuError(f"'{name}' is not a VGG16 state dict of tensors; pass torchvision's {TORCHVISION_FILE}")
    return data


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith(("constants.pkl", "/code/")) or "/code/" in n for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_vgg16(path: Path, device: torch.device | str = "cpu") -> VGG16Features:
    """Build VGG16Features and fill it from `path`, strictly: every conv tensor must be there, shaped right."""
    state = read_state_dict(path)
    model = VGG16Features()
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise WaifuError(f"'{path.name}' lacks {missing[0]} (and {len(missing) - 1} more); it is not torchvision's VGG16 "
                         f"({TORCHVISION_FILE})")
    for key, ref in wanted.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise WaifuError(f"'{path.name}': {key} has shape {list(state[key].shape)}, VGG16 needs {list(ref.shape)}")
    model.load_state_dict({k: state[k].float() for k in wanted})
    return model.to(device).eval().requires_grad_(False)
