"""Checkpoint readers: one per on-disk format, all read as data, never executed.

Each reader turns a file into a `CheckpointData`: which architecture, the constructor kwargs of the
matching class in `interpolate.networks`, and a state dict whose names are that class's names. Readers
know nothing about rendering; networks know nothing about files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class CheckpointData:
    arch: str                          # 'stylegan1' | 'stylegan2' | 'stylegan3'
    init_kwargs: dict[str, Any]        # kwargs for networks.build(arch, **init_kwargs)
    state_dict: dict[str, torch.Tensor]
    format: str                        # human-readable name of the on-disk format
    meta: dict[str, Any] = field(default_factory=dict)  # anything else worth reporting (truncation defaults, training kwargs, ...)


# --- sniffing: the format is read from the content, never from the file name ---------------------

ZIP_MAGIC = b"PK\x03\x04"
# A legacy (pre-1.6, non-zip) torch.save starts with a protocol-2 pickle of this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
HEAD_BYTES = 1 << 16


def read_checkpoint(path: "str | os.PathLike[str]") -> CheckpointData:
    """Read any supported checkpoint file; the format is detected from its bytes.

    torch zip / legacy torch.save -> rosinality .pt or waifu-morph native .pt (weights_only=True);
    pickle naming torch_utils.persistence -> NVIDIA stylegan2-ada-pytorch / stylegan3 pickle;
    pickle naming dnnlib.tflib.network.Network -> NVIDIA TensorFlow StyleGAN1/2 pickle.
    Anything else (missing, empty, truncated, text, unknown) -> a one-line CheckpointError.
    """
    from pathlib import Path

    from ..errors import CheckpointError

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}; check the path")
    if p.is_dir():
        raise CheckpointError(f"{p} is a folder, not a checkpoint file")
    try:
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise CheckpointError(f"cannot read {p}: {exc.strerror or exc}") from None
    if not head:
        raise CheckpointError(f"{p} is empty (0 bytes); the download or copy did not finish")
    if head.startswith(ZIP_MAGIC) or head.startswith(TORCH_LEGACY_MAGIC):
        return _read_torch_file(p)
    if head[:1] == b"\x80":  # a binary pickle (protocol 2+)
        from . import nvidia_pickle, tf_pickle

        if nvidia_pickle.looks_like_nvidia_pickle(head):
            return nvidia_pickle.read_nvidia_pickle(p)
        if tf_pickle.looks_like_tf_pickle(head):
            return tf_pickle.read_tf_checkpoint(p)
        first = first_global(head)
        what = f"it names '{first}' first" if first else "it names no class"
        raise CheckpointError(f"{p.name} is a pickle but not a known StyleGAN checkpoint ({what}); waifu-morph reads NVIDIA StyleGAN2/3 .pkl, StyleGAN1/2 TensorFlow .pkl, rosinality .pt and waifu-morph .pt files")
    if _looks_like_text(head):
        raise CheckpointError(f"{p.name} is a text file, not a checkpoint; pass the .pkl or .pt file itself")
    raise CheckpointError(f"{p.name} is not a checkpoint waifu-morph knows (it is neither a pickle nor a torch file); waifu-morph reads NVIDIA .pkl, TensorFlow StyleGAN .pkl, rosinality .pt and waifu-morph .pt files")


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if b"\0" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a cut multi-byte char at the end is fine
            return False
    return True


def first_global(head: bytes) -> str | None:
    """The first 'module.name' a pickle asks for, read from its first bytes (None if none is found)."""
    import pickletools

    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(head):
            if opcode.name == "GLOBAL":
                return str(arg).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # the head ends mid-stream, or the stream is not a pickle
        return None
    return None


def _read_torch_file(p) -> CheckpointData:
    import argparse
    import pickle
    import zipfile

    import torch

    from ..errors import CheckpointError
    from . import native, rosinality

    try:
        # rosinality's train.py stores its argparse.Namespace of options: plain data, allowed.
        with torch.serialization.safe_globals([argparse.Namespace]):
            data = torch.load(p, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError, pickle.UnpicklingError, ValueError, KeyError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Unsupported global" in str(exc) or "WeightsUnpickler" in str(exc):
            glob = msg.split("GLOBAL", 1)[-1].strip().split(" ")[0] if "GLOBAL" in msg else "a non-tensor object"
            raise CheckpointError(f"{p.name} is a torch file that holds {glob}, which waifu-morph does not load (it would run code); nothing was executed") from None
        first = msg.split(". ")[0].rstrip(".")          # torch's zip reader appends a long internal note
        raise CheckpointError(f"{p.name} is a torch file that cannot be read ({first}); it may be truncated or "
                              f"corrupt: download or copy it again") from None
    if native.is_native(data):
        return native.from_dict(data)
    if rosinality.is_rosinality(data):
        return rosinality.convert(data)
    keys = ", ".join(map(str, list(data)[:8])) if isinstance(data, dict) else type(data).__name__
    raise CheckpointError(f"{p.name} is a torch file but not a known generator checkpoint (it holds {keys}); waifu-morph reads rosinality .pt (g_ema) and waifu-morph .pt files")
