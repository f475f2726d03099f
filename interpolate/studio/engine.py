"""The studio's one door into the project: plan, draw one frame, seed images, the mixing figure, render.

Everything the studio knows about paths/, render/, directions/ and projection/ is in this module, so a change of their API is
a change of this file only. It holds no planning or rendering of its own: it turns the page's flat
values (the names of `render --help`, as in presets and sidecars) into typed specs at the edge
(RenderOptions -> PathSpec, OutputSpec, DeviceSpec), keeps the keys in memory (seeds, and the W files
of the work folder read once into WKey values), and calls the same functions the CLI calls:

    engine = Engine(checkpoint)                 # loads G once
    path = engine.plan(values)                  # paths.plan_path(G, keys, PathSpec), cached by value
    frame = engine.frame(values, 60)            # uint8 [H, W, 3]: the renderer's FrameSource, one frame
    engine.render(values, "/work/out.mp4", on_frames, cancelled)    # render.video.render_path
    engine.recipe_toml(values), engine.command_line(values, "out.mp4")

`values` is a dict: `keys` (a list of seed numbers and W file paths, the same tokens as --keys) plus
any of PATH_NAMES and OUTPUT_NAMES.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import WaifuError
from ..options import RenderOptions

# the flat names the page may send (those of `render --help`, presets and sidecars)
PATH_NAMES = ("interp", "space", "easing", "seconds", "frames", "hold", "loop", "pace", "style", "layers",
              "stagger", "psi", "psi_end", "cutoff", "noise", "noise_seed", "noise_drift", "class_idx", "fps",
              "direction", "strength")
OUTPUT_NAMES = ("size", "fit", "crf", "codec", "x264_preset", "gif_quality", "max_size", "label")
FORMATS = ("mp4", "gif", "webp")
PLAN_CACHE = 8
PREVIEW_SHORT_SIDE = 256               # preview frames: the short side at most this (native when smaller)


class Cancelled(Exception):
    """The page that asked for a render went away (or asked to stop)."""


def _coerce(name: str, value: Any) -> Any:
    from ..presets import coerce

    return coerce(name, value, "the studio page")


def options(values: dict[str, Any], **extra) -> RenderOptions:
    """The page's flat values -> RenderOptions, each value type-checked as a preset's would be."""
    data: dict[str, Any] = {}
    keys = values.get("keys") or []
    if not isinstance(keys, list):
        raise WaifuError("keys must be a list of seeds and W files")
    data["keys"] = [str(k) for k in keys]
    for name in PATH_NAMES + OUTPUT_NAMES:
        if name in values and values[name] is not None and values[name] != "":
            data[name] = _coerce(name, values[name])
    unknown = set(values) - set(PATH_NAMES) - set(OUTPUT_NAMES) - {"keys"}
    if unknown:
        raise WaifuError(f"unknown option '{sorted(unknown)[0]}' from the studio page")
    return RenderOptions.from_dict({**data, **extra}, source="the studio page")


def non_defaults(opts: RenderOptions, names: tuple[str, ...]) -> dict[str, Any]:
    default = RenderOptions()
    return {n: getattr(opts, n) for n in names if getattr(opts, n) != getattr(default, n)}


@contextlib.contextmanager
def page_threads(device):
    """Torch threads for the page's frames, seeds and figures on a CPU: every usable core but one, which is
    left to the browser and the server. One frame of a small model gains little from threads, and threads
    that wait on a busy core lose a lot: on the loaded 2-core build machine a 64 px frame took a median
    134 ms (p95 759 ms) with 2 threads and 22 ms (p95 55 ms) with 1. Left so (torch's thread count is
    the process's): a render sets its own and restores this one after."""
    import torch

    from ..openmp import usable_cores

    if getattr(device, "type", str(device)) != "cpu":
        yield
        return
    wanted = max(1, usable_cores() - 1)
    if torch.get_num_threads() != wanted:       # set once, not per frame: each change costs ~8 ms (the pool)
        torch.set_num_threads(wanted)
    yield


def _png(frame: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Engine:
    """One loaded generator and the calls the studio makes on it."""

    def __init__(self, checkpoint: str | None, device: str = "auto"):
        from ..device import pick_device
        from ..loading import load_generator
        from ..render.video import default_checkpoint

        self.checkpoint = str(checkpoint or default_checkpoint())
        self.shipped = checkpoint is None
        self.device = pick_device(device)
        self.G = load_generator(self.checkpoint, device=self.device)
        self._plans: OrderedDict[str, Any] = OrderedDict()
        self._w_files: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    # --- what the page needs to draw its controls --------------------------------------------------
    def info(self) -> dict[str, Any]:
        from ..paths import EASINGS, INTERPS, NOISE_MODES, PACES, STYLES, resolve_truncation, style_groups

        G = self.G
        psi, cutoff = resolve_truncation(G, None, None)
        defaults = RenderOptions()
        return {
            "checkpoint": Path(self.checkpoint).name, "arch": getattr(G, "arch", "?"),
            "width": int(G.img_width), "height": int(G.img_height), "num_ws": int(G.num_ws),
            "c_dim": int(G.c_dim), "groups": style_groups(G), "default_psi": psi, "default_cutoff": cutoff,
            "choices": {"interp": list(INTERPS), "easing": list(EASINGS), "pace": list(PACES), "style": list(STYLES),
                        "noise": list(NOISE_MODES), "space": ["auto", "z", "w"], "format": list(FORMATS)},
            "defaults": {n: getattr(defaults, n) for n in PATH_NAMES + OUTPUT_NAMES},
            "output_names": list(OUTPUT_NAMES),
            "directions": True,         # direction sliders: PathSpec direction/strength, one or a list
            "direction_styles": ["all", "coarse", "middle", "fine"],
        }

    def presets(self) -> list[dict[str, Any]]:
        """Every preset (shipped and the user's), resolved to flat values."""
        from ..presets import list_presets, resolve

        return [{"name": p.name, "description": p.description, "values": resolve(str(p.path))}
                for p in list_presets()]

    # --- planning and one frame ---------------------------------------------------------------------
    def keys(self, tokens: list[str]) -> list:
        """The flat schema's key tokens as in-memory keys: seed numbers, and each W file read once into a
        WKey (labelled as the CLI labels the file), re-read when the file changes."""
        import os

        from ..paths import WKey, read_w_file

        keys: list = []
        for token in tokens:
            if token.isdigit():
                keys.append(int(token))
                continue
            st = os.stat(token)
            stamp = (token, st.st_mtime_ns, st.st_size)
            with self._lock:
                w = self._w_files.get(stamp)
            if w is None:
                w = read_w_file(token, self.G.num_ws, self.G.w_dim)
                with self._lock:
                    self._w_files = {k: v for k, v in self._w_files.items() if k[0] != token}
                    self._w_files[stamp] = w
            keys.append(WKey(w, os.path.basename(token)))
        return keys

    def plan(self, values: dict[str, Any]):
        """The LatentPath the CLI would plan for these values (cached: scrubbing re-plans nothing)."""
        from ..paths import plan_path

        key = json.dumps(values, sort_keys=True, default=str)
        direction = values.get("direction") or []
        for one in direction if isinstance(direction, list) else [direction]:   # a rewritten file is read again
            import os

            from ..directions import parse_direction

            with contextlib.suppress(OSError, WaifuError):
                st = os.stat(parse_direction(str(one))[0])
                key += f"|{st.st_mtime_ns}:{st.st_size}"
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
        opts = options(values)
        path = plan_path(self.G, self.keys(opts.keys), opts.path_spec())
        with self._lock:
            self._plans[key] = path
            while len(self._plans) > PLAN_CACHE:
                self._plans.popitem(last=False)
        return path

    def forget_plans(self) -> None:
        """Drop the cached plans (a W file they read has changed)."""
        with self._lock:
            self._plans.clear()
            self._w_files.clear()

    def describe(self, values: dict[str, Any]) -> dict[str, Any]:
        path = self.plan(values)
        return {"num_frames": path.num_frames, "fps": path.fps, "duration": path.duration,
                "key_frames": [int(f) for f in path.key_frames], "key_labels": path.key_labels}

    def frame(self, values: dict[str, Any], index: int) -> tuple[np.ndarray, str]:
        """(uint8 [H, W, 3], caption) of one frame, drawn by the renderer's own FrameSource."""
        from ..render.pipeline import FrameSource

        path = self.plan(values)
        if not 0 <= index < path.num_frames:
            raise WaifuError(f"frame {index} is outside the clip (0-{path.num_frames - 1})")
        source = FrameSource(self.G, [path], precision="auto")        # what `render` uses by default
        with page_threads(self.device):
            frame = source.synthesize(index, index + 1)[0].cpu().numpy()
        assert frame.shape == (self.G.img_height, self.G.img_width, 3) and frame.dtype == np.uint8
        return frame, path.label(index)

    # --- the low-resolution preview (studio/preview.py streams it) -------------------------------------
    def preview_size(self) -> tuple[int, int]:
        """(width, height) of preview frames: the short side at most PREVIEW_SHORT_SIDE, native when smaller."""
        w, h = int(self.G.img_width), int(self.G.img_height)
        scale = min(1.0, PREVIEW_SHORT_SIDE / min(w, h))
        return max(1, round(w * scale)), max(1, round(h * scale))

    def preview_frame(self, values: dict[str, Any], index: int) -> np.ndarray:
        """uint8 [h, w, 3] of one planned frame at the preview size: the renderer's FrameSource, shrunk by the
        renderer's own Geometry (Lanczos) when the model is larger than the preview."""
        from ..render.frames import Geometry

        frame, _ = self.frame(values, index)
        w, h = self.preview_size()
        frame = Geometry(frame.shape[1], frame.shape[0], w, h).apply(frame)
        assert frame.shape == (h, w, 3) and frame.dtype == np.uint8
        return np.ascontiguousarray(frame)

    def frame_png(self, values: dict[str, Any], index: int) -> tuple[bytes, str]:
        frame, label = self.frame(values, index)
        return _png(frame), label

    # --- seeds and the mixing figure ----------------------------------------------------------------
    def seed_png(self, seed: int, psi: float | None, class_idx: int | None) -> bytes:
        """One seed as `waifu-morph image` draws it (the checkpoint's own truncation when psi is None)."""
        from ..paths import resolve_truncation
        from ..render.stills import render_seeds

        if not 0 <= seed < 2 ** 32:
            raise WaifuError(f"seeds are 0-{2 ** 32 - 1}, got {seed}")
        psi_r, cutoff = resolve_truncation(self.G, psi, None)
        with page_threads(self.device):
            ((_, image),) = list(render_seeds(self.G, [seed], psi_r, cutoff, "const", class_idx, batch_size=1))
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        return _png(np.ascontiguousarray(image[:, :, :3]))

    def mix_png(self, seeds: list[int], style: str, psi: float | None, noise: str = "const") -> bytes:
        """The style-mixing figure of `waifu-morph mix` with the seeds as rows and columns."""
        from ..render.figures import style_mixing
        if len(seeds) < 1:
            raise WaifuError("the mixing figure needs seed keys; add seeds to the strip")
        seeds_text = ",".join(str(int(s)) for s in seeds[:6])
        with tempfile.TemporaryDirectory(prefix="waifu-studio-") as tmp:
            out = Path(tmp) / "mix.png"
            with page_threads(self.device):
                style_mixing(self.checkpoint, rows=seeds_text, cols=seeds_text, style=style, psi=psi, noise=noise,
                             output=str(out), device=str(self.device), quiet=True,
                             cell=min(int(self.G.img_height), 256))    # the page scales it; no upscaled copy
            return out.read_bytes()

    # --- directions (interpolate.directions) and the projector (interpolate.projection) ----------------
    def direction_info(self, path: str) -> dict[str, Any]:
        """What the page shows of a dirs.npz: labels, each direction's share of the eigenvalues, layers."""
        from ..directions import load_directions

        dirs = load_directions(path)
        dirs.check_model(self.G, f"the directions in '{Path(path).name}'")
        values = np.abs(np.asarray(dirs.values, np.float64))
        share = values / values.sum() if values.sum() > 0 else values
        return {"name": Path(path).name, "count": len(dirs), "labels": list(dirs.labels), "method": dirs.method,
                "share": [round(float(v), 4) for v in share], "layers": list(dirs.layers)}

    def compute_directions(self, style: str, path: str, count: int | None = 16) -> dict[str, Any]:
        """SeFa on the ws of a style group (or 'all'), saved to `path` so recipes and commands can name it."""
        from ..directions import sefa

        dirs = sefa(self.G, None if style == "all" else style, count=count)
        dirs.save(path)
        self.forget_plans()                         # a replaced directions file changes the paths that use it
        return self.direction_info(path)

    def project_image(self, image: bytes, filename: str, path: str, *, steps: int, space: str,
                      class_idx: int | None = None, on_step: Callable[[int, int, float], None], cancelled: threading.Event) -> dict[str, Any]:
        """Fit an image (the bytes of a .png/.jpg/... file) with interpolate.project; write its W file as
        `waifu-morph project` does (NAME.npz, w [1, num_ws, w_dim]); `cancelled` stops it, nothing written."""
        from ..projection import project
        from ..projection.command import write_w

        def step(info) -> None:
            if cancelled.is_set():
                raise Cancelled()
            on_step(int(info.step), int(info.steps), float(info.psnr.float().mean()))

        with tempfile.TemporaryDirectory(prefix="waifu-studio-") as tmp:
            target = Path(tmp) / Path(filename).name      # read as `waifu-morph project` reads its images
            target.write_bytes(image)
            fit = project(self.G, str(target), steps=int(steps), space=space, class_idx=class_idx,
                          callback=step)
        if cancelled.is_set():
            raise Cancelled()
        write_w(fit.ws[0], Path(path))
        self.forget_plans()
        return {"psnr": round(float(fit.psnr[0]), 2), "steps": fit.steps, "loss": fit.loss_name, "space": fit.space}

    def check_w_file(self, path: str) -> int:
        """Rows in a W file for this model (a one-line error when it does not fit)."""
        from ..paths import read_w_file

        return int(read_w_file(path, self.G.num_ws, self.G.w_dim).shape[0])

    # --- rendering, recipes, the equivalent command -------------------------------------------------
    def render(self, values: dict[str, Any], output: str, *, overwrite: bool,
               on_frames: Callable[[int, int | None], None], cancelled: threading.Event) -> dict[str, Any]:
        """Render through the CLI's streaming renderer; `cancelled` stops it with nothing left behind."""
        from ..device import DeviceSpec
        from ..paths import plan_path
        from ..render.video import render_path

        opts = options(values, output=output, overwrite=bool(overwrite), quiet=True, checkpoint=self.checkpoint,
                       device=str(self.device))
        path = plan_path(self.G, self.keys(opts.keys), opts.path_spec())
        done = [0]

        def progress(n: int, total: int | None = None) -> None:
            if cancelled.is_set():
                raise Cancelled()
            if total is not None:
                on_frames(0, total)
            else:
                done[0] += n
                on_frames(done[0], None)

        result = render_path(self.G, path, opts.output_spec(), on_frames=progress,
                             device=DeviceSpec(device=str(self.device), precision=opts.precision,
                                               batch_size=opts.batch_size),
                             recipe=opts.to_dict())          # the sidecar records the files, as the CLI's
        return {"output": result.output, "frames": result.frames, "width": result.width, "height": result.height,
                "fps": result.fps, "bytes": result.bytes, "wall_s": result.wall_s, "notes": result.notes,
                "summary": result.summary()}

    def recipe_toml(self, values: dict[str, Any], output: str | None = None, description: str = "") -> str:
        """A preset TOML that `render --preset` takes unchanged (studio/recipes.py)."""
        from .recipes import preset_toml

        return preset_toml(self, values, output, description)

    def reel_toml(self, values: dict[str, Any], output: str | None = None, description: str = "") -> tuple[str, list[str]]:
        """(a reel TOML that `waifu-morph reel` takes unchanged, what a reel cannot carry)."""
        from .recipes import reel_toml

        return reel_toml(self, values, output, description)

    def command_line(self, values: dict[str, Any], output: str) -> str:
        """The `waifu-morph render ...` line that renders the same thing."""
        from .recipes import command_line

        return command_line(self, values, output)


def with_output_format(name: str, fmt: str) -> str:
    """'clip' + 'gif' -> 'clip.gif' (a name with another video extension gets this one)."""
    if fmt not in FORMATS:
        raise WaifuError(f"unknown format '{fmt}'; use {', '.join(FORMATS)}")
    stem = name
    for f in FORMATS:
        if stem.lower().endswith("." + f):
            stem = stem[: -len(f) - 1]
    return f"{stem}.{fmt}"


__all__ = ["Engine", "Cancelled", "options", "PATH_NAMES", "OUTPUT_NAMES", "FORMATS", "with_output_format"]
