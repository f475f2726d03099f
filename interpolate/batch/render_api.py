"""The few calls batch/ makes into the loader and the renderer, in one place.

    G = load_model(checkpoint, device)                     # interpolate.loading (once per checkpoint)
    frames = render_options(G, opts, on_frames)            # plan_path + the streaming renderer
    frames = render_path(G, path, opts, on_frames, frame_hook)   # any LatentPath-like (reels)
    read_sidecar(output) -> dict | None                    # what a finished output was made from
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import WaifuError


def load_model(checkpoint: str | None, device: str | None = None):
    """The generator of `checkpoint` on the chosen device (None or 'auto': cuda, then mps, then cpu)."""
    from ..loading import load_generator

    if checkpoint is None:
        raise WaifuError("no checkpoint given; set checkpoint = \"path/to/model.pkl\" in the job or reel file")
    return load_generator(checkpoint, device=device).eval()


def render_options(G, opts, on_frames: Callable | None = None) -> int:
    """Render `opts` with an already-loaded generator; returns the number of frames written."""
    from ..paths import plan_path

    return render_path(G, plan_path(G, opts), opts, on_frames)


def render_path(G, path, opts, on_frames: Callable | None = None, frame_hook: Callable | None = None) -> int:
    """Render a planned path to opts.output (temp file, renamed when complete)."""
    return _fallback_render(G, path, opts, on_frames, frame_hook)


def _fallback_render(G, path, opts, on_frames, frame_hook) -> int:
    """A stand-in until interpolate.render lands: frames in batches -> resize/pad -> MP4 (ffmpeg) or GIF (PIL)."""
    import os
    import tempfile

    import imageio_ffmpeg
    import numpy as np
    import torch
    from PIL import Image

    from .. import __version__

    out = Path(opts.output)
    if out.exists() and not opts.overwrite:
        raise WaifuError(f"'{out}' exists; pass --overwrite to replace it")
    ext = out.suffix.lower()
    if ext not in (".mp4", ".gif"):
        raise WaifuError(f"output '{out}' must be .mp4 or .gif")
    size = tuple(int(v) for v in opts.size.lower().split("x")) if opts.size else (G.img_width, G.img_height)
    dev = next(G.parameters()).device
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=ext, dir=out.parent)
    os.close(fd)
    frames_done = 0
    try:
        writer = gif_frames = None
        if ext == ".mp4":
            writer = imageio_ffmpeg.write_frames(tmp, size, fps=float(opts.fps), codec="libx264", quality=None,
                                                 output_params=["-crf", str(opts.crf), "-preset", opts.preset],
                                                 macro_block_size=2, pix_fmt_out="yuv420p")
            writer.send(None)
        else:
            gif_frames = []
        if on_frames:
            on_frames(0, path.num_frames)
        with torch.no_grad():
            for chunk in path.chunks(int(opts.batch_size or 8)):
                img = G.synthesis(chunk.ws.to(dev), noise_mode=chunk.noise_mode, noise=chunk.noise_on(dev))
                arr = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()
                for k, frame in enumerate(arr):
                    frame = _fit(frame, size)
                    if frame_hook is not None:
                        frame = frame_hook(chunk.start + k, frame)
                    if writer is not None:
                        writer.send(np.ascontiguousarray(frame))
                    else:
                        gif_frames.append(Image.fromarray(frame))
                frames_done += len(arr)
                if on_frames:
                    on_frames(len(arr))
        if writer is not None:
            writer.close()
        else:
            _write_gif(tmp, gif_frames, float(opts.fps), _parse_bytes(opts.max_size))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
        if opts.sidecar:
            info = getattr(G, "checkpoint_info", None)
            sidecar_path(out).write_text(json.dumps({
                "tool": f"waifu-morph {__version__}", "options": opts.to_dict(),
                "checkpoint_sha256": info.sha256 if info is not None else None,
                "path": path.describe()}, indent=1, default=str))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return frames_done


def _write_gif(path: str, frames: list, fps: float, max_bytes: int | None) -> None:
    """Save an infinitely looping GIF; while over max_bytes, shrink the frames (up to 6 times)."""
    import os

    from PIL import Image

    for _ in range(7):
        frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                       duration=int(round(1000 / fps)))
        size = os.path.getsize(path)
        if max_bytes is None or size <= max_bytes:
            return
        scale = min(0.9, (max_bytes / size) ** 0.5 * 0.95)
        w, h = frames[0].size
        new = (max(16, int(w * scale) // 2 * 2), max(16, int(h * scale) // 2 * 2))
        frames = [f.resize(new, Image.LANCZOS) for f in frames]
    raise WaifuError(f"the GIF stays over {max_bytes / 1e6:g} MB even at {frames[0].size[0]} px wide; "
                     f"shorten the clip or lower --fps")


def _parse_bytes(text: str | None) -> int | None:
    """'15MB' -> 15_000_000 (KB, MB, GB; decimal units as upload limits use), None -> None."""
    if not text:
        return None
    t = str(text).strip().upper().replace(" ", "")
    for unit, mult in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if t.endswith(unit):
            try:
                return int(float(t[: -len(unit)]) * mult)
            except ValueError:
                break
    raise WaifuError(f"--max-size must look like 15MB or 800KB, got '{text}'")


def _fit(frame, size):
    from PIL import Image
    import numpy as np

    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    img = Image.fromarray(frame)
    scale = min(w / img.width, h / img.height)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    canvas = Image.new("RGB", (w, h))
    canvas.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
    return np.asarray(canvas)


def sidecar_path(output) -> Path:
    return Path(str(output) + ".json")


def read_sidecar(output) -> dict | None:
    """The sidecar of `output` as a dict, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sidecar_checkpoint_sha256(sidecar: dict) -> str | None:
    """The checkpoint SHA-256 a sidecar records, if any."""
    ck = sidecar.get("checkpoint")
    sha = sidecar.get("checkpoint_sha256") or (ck.get("sha256") if isinstance(ck, dict) else None)
    return sha if isinstance(sha, str) else None
