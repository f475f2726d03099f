"""Rendering a planned path: stream it, shape and encode the frames, rename into place, write the sidecar.

    result = render(opts)                                         # RenderOptions: loads the checkpoint itself
    result = render_path(G, path, OutputSpec(output="a.gif"))     # a loaded G and any RenderablePath
    result = render_path(G, path, "a.gif", device=DeviceSpec(batch_size=4))
    result = render_paths(G, [p1, p2, ...], out, cols=3, rows=2)  # a grid

`output` is an OutputSpec, a file name, or a RenderOptions (then its output and device specs and its
flat options for the sidecar). `recipe` is the flat options the sidecar records (default: built
from the specs and the path).

`on_frames(0, total)` is called once at the start, then `on_frames(n)` after every n frames written
(batch runner's progress); without it a rich progress bar is shown unless opts.quiet.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..device import DeviceSpec
from ..errors import WaifuError
from ..interrupts import signals_deferred
from ..options import RenderOptions
from ..paths.path import RenderablePath
from .budget import parse_bytes
from .codecs import check_encoder, choose_encoder
from .containers import output_kind
from .encode import EncodeSettings, check_settings, make_encoder
from .ffmpeg import stop_pipes_under
from .frames import FITS, Geometry, Labeler, output_size, parse_grid, parse_size
from .pipeline import FrameSource, RenderResult, stream
from .sidecar import recipe_for, sidecar_path, write_sidecar
from .spec import OutputSpec
from .target import OutputTarget

# checkpoints/chibi-64.pt, found through the package (interpolate/checkpoints links to the repository's
# checkpoints/ folder, and a wheel carries the file itself)
SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"


def default_checkpoint() -> str:
    """The model shipped in checkpoints/ (a one-line error when it is not there)."""
    if not SHIPPED_CHECKPOINT.is_file():
        raise WaifuError(f"no checkpoint given and the shipped model {SHIPPED_CHECKPOINT} is not there; "
                         f"pass one: waifu-morph render model.pkl --seeds 3,17,42")
    return str(SHIPPED_CHECKPOINT)


def check_output_options(opts: OutputSpec | RenderOptions, fps: float | None = None, create: bool = True) -> OutputTarget:
    """Everything about the output that can be checked before a model is loaded (create=False: without
    creating the output's folder, for dry runs)."""
    if isinstance(opts, RenderOptions):
        opts, fps = opts.output_spec(), opts.fps
    check_settings(encode_settings(opts, float(fps if fps is not None else 30.0)))
    check_encoder(opts.encoder)
    if opts.encoder == "nvenc" and output_kind(opts.output) == "mp4":
        choose_encoder("nvenc", "", opts.codec)      # no NVENC: one line now, before a folder or a model
    target = OutputTarget.plan(opts.output, bool(opts.overwrite), create=create)
    parse_size(opts.size)
    parse_grid(opts.grid)
    if opts.fit not in FITS:
        raise WaifuError(f"unknown fit '{opts.fit}'; use pad (black bars) or crop (fill the frame)")
    if opts.max_size and target.kind == "frames":
        raise WaifuError("--max-size applies to .mp4, .gif and .webp files, not to PNG frames")
    return target


def encode_settings(opts: OutputSpec, fps: float, encoder: str = "x264") -> EncodeSettings:
    """The encoder's settings; `encoder` is the one chosen for an MP4 (render.codecs.choose_encoder)."""
    return EncodeSettings(fps=fps, crf=opts.crf, x264_preset=opts.x264_preset, codec=opts.codec, encoder=encoder,
                          gif_quality=opts.gif_quality, max_bytes=parse_bytes(opts.max_size))


def grid_options(opts: RenderOptions, cols: int, rows: int) -> list[RenderOptions]:
    """One RenderOptions per grid cell: the keys split in order into equal runs (as gen_video.py does)."""
    from ..paths import parse_keys

    cells = cols * rows
    if cells == 1:
        return [opts]
    sources = parse_keys(opts.keys)
    tokens = [str(s.seed) if s.seed is not None else s.path for s in sources]
    per = len(tokens) // cells
    need = cells if opts.loop else 2 * cells
    if len(tokens) < need or len(tokens) % cells:
        raise WaifuError(f"--grid {cols}x{rows} splits the keys into {cells} equal runs (one per cell, at least "
                         f"{need // cells} each); got {len(tokens)} keys, e.g. pass --seeds 0-{2 * cells - 1}")
    hold = opts.hold
    if isinstance(hold, (list, tuple)) and len(hold) != len(tokens):
        raise WaifuError(f"--hold gives {len(hold)} holds for {len(tokens)} keys; with --grid give one per key "
                         f"(split with them, one run per cell) or one number for every key")
    cell_hold = (lambda i: list(hold[i * per:(i + 1) * per])) if isinstance(hold, (list, tuple)) else (lambda i: hold)
    return [dataclasses.replace(opts, keys=tokens[i * per:(i + 1) * per], hold=cell_hold(i)) for i in range(cells)]


def render(opts: RenderOptions, console=None, sidecar_data: dict | None = None) -> RenderResult:
    """Load the checkpoint, plan the path(s) and render opts.output; prints notes and a summary line."""
    from ..audio.music import prepare, recorded_audio, with_song_path
    from ..device import pick_device
    from ..loading import load_generator
    from .pipeline import resolve_precision
    from .sidecar import check_checkpoint_matches

    check_output_options(opts)
    track = prepare(opts, recorded_audio(sidecar_data))          # --audio: beats (before the model loads)
    opts = with_song_path(opts, track)
    checkpoint = opts.checkpoint or default_checkpoint()
    device = pick_device(opts.device)
    resolve_precision(opts.precision, device)
    G = load_generator(checkpoint, device=device)
    if sidecar_data is not None:
        check_checkpoint_matches(sidecar_data, G)
    paths, cols, rows = plan_render(G, opts, track)
    if console is not None and not opts.quiet and track is not None:
        from rich.markup import escape

        for note in track.notes + track.latents_notes(paths[0]):
            console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    result = render_paths(G, paths, opts.output_spec(), device=opts.device_spec(), recipe=opts.to_dict(),
                          cols=cols, rows=rows, console=console)
    if console is not None and not opts.quiet:
        from rich.markup import escape

        for note in result.notes:
            console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    return result


def plan_render(G, opts: RenderOptions, track=None) -> tuple[list, int, int]:
    """(paths, cols, rows) of opts with G loaded: every check of the keys, styles and timing runs here.
    With --audio the keys sit on the song's beats: `track` is its analysis (audio.music.prepare; made
    here when not given)."""
    from ..audio.music import plan_paths, prepare

    cols, rows = parse_grid(opts.grid)
    if opts.save_latents and cols * rows > 1:
        raise WaifuError("--save-latents writes one path; it cannot be combined with --grid")
    if track is None:
        track = prepare(opts)
    paths = plan_paths(G, grid_options(opts, cols, rows), track, opts)   # keys + o.path_spec() (+ beats), or a replay
    return paths, cols, rows


def check_render(G, opts: RenderOptions) -> None:
    """What rendering opts with G would check, and nothing written (dry runs): the output, then the
    planned path(s). A one-line WaifuError on the first problem."""
    check_output_options(opts, create=False)
    plan_render(G, opts)


def render_path(G, path, output, on_frames: Callable | None = None,
                frame_hook: Callable[[int, np.ndarray], np.ndarray] | None = None, *, device: DeviceSpec | None = None,
                recipe: dict | None = None, console=None) -> RenderResult:
    """Render one planned path (a LatentPath or any RenderablePath) to `output`."""
    return render_paths(G, [path], output, on_frames=on_frames, frame_hook=frame_hook, device=device, recipe=recipe,
                        console=console)


def _specs(output, device: DeviceSpec | None, recipe: dict | None):
    """(OutputSpec, DeviceSpec, recipe or None) from what the caller passed."""
    if isinstance(output, RenderOptions):
        return output.output_spec(), device or output.device_spec(), recipe or output.to_dict()
    if isinstance(output, (str, Path)):
        output = OutputSpec(output=str(output))
    return output, device or DeviceSpec(), recipe


def render_paths(G, paths: Sequence, output, *, device: DeviceSpec | None = None, recipe: dict | None = None,
                 cols: int = 1, rows: int = 1, on_frames: Callable | None = None, frame_hook: Callable | None = None,
                 console=None, span: tuple[int, int] | None = None) -> RenderResult:
    """Render paths tiled cols x rows: stream, encode, rename into place, write the sidecar. `span`:
    only frames [a, b) of the paths (a shard of the clip, render/sharded.py)."""
    t_start = time.perf_counter()
    out, dev, recipe = _specs(output, device, recipe)
    for p in paths:
        if not isinstance(p, RenderablePath):
            raise TypeError(f"{type(p).__name__} is not a RenderablePath (num_frames, fps, chunk, label, describe)")
    fps = float(paths[0].fps)
    target = check_output_options(out, fps)
    source = FrameSource(G, paths, cols, rows, dev.precision, dev.batch_size, span=span)
    chosen, chosen_note = (choose_encoder(out.encoder, source.device.type, out.codec) if target.kind == "mp4"
                           else (out.encoder, None))          # MP4: x264 or NVENC (render/codecs.py)
    settings = encode_settings(out, fps, chosen if target.kind == "mp4" else "x264")
    if out.audio and target.kind == "mp4":           # the song span, muxed by the same ffmpeg process
        from ..audio.music import mux_args

        audio_in, audio_out = mux_args(out.audio, float(out.audio_start or 0.0), source.num_frames / fps)
        settings = dataclasses.replace(settings, audio_in=tuple(audio_in), audio_out=tuple(audio_out))
    out_w, out_h, size_how = output_size(out.size, source.width, source.height, source.cell_w, source.cell_h)
    geometry = Geometry(source.width, source.height, out_w, out_h, out.fit)
    labeler = Labeler(paths, geometry, cols, rows, source.cell_w, source.cell_h) if out.label else None
    shaped = source.shape_on_device(geometry)    # CUDA: resized before the host copy (render/shaping.py)
    if out.save_latents:
        if not hasattr(paths[0], "save_latents"):
            raise WaifuError("--save-latents writes one planned path; this render has none to save")
        paths[0].save_latents(out.save_latents)

    total = source.num_frames
    progress, on_batch = _progress(total, on_frames, console, out.quiet, target.final.name)
    encoder = None
    try:
        target.open()          # inside the try: a Ctrl-C right after the temp file appears still removes it
        encoder = make_encoder(target.kind, target.tmp, out_w, out_h, settings, target.pattern)

        def handle(index: int, frame: np.ndarray) -> None:
            if not shaped:
                frame = geometry.apply(frame)
            if labeler is not None:
                frame = labeler(index + source.offset, frame)
            if frame_hook is not None:
                frame = frame_hook(index, frame)
            encoder.write(frame)

        with progress:
            stats = stream(source, handle, abort=encoder.abort, on_batch=on_batch)
        enc = encoder.finish()
        target.commit()
    except BaseException:
        with signals_deferred():    # a second Ctrl-C / SIGTERM waits until the cleanup is done
            try:
                if encoder is not None:
                    encoder.abort()
            finally:
                if target.tmp is not None:
                    stop_pipes_under(target.tmp)
                target.abort()
        raise

    wall = time.perf_counter() - t_start
    result = RenderResult(output=str(target.output), kind=target.kind, frames=enc.frames, width=enc.width,
                          height=enc.height, fps=enc.fps, duration=enc.duration, bytes=target.size_bytes(),
                          wall_s=wall, notes=[*([chosen_note] if chosen_note else []), *enc.notes],
                          batch_size=stats.batch_size, size_how=size_how, encoder=enc.encoder or "")
    if out.audio and target.kind != "mp4":
        from ..audio.music import silent_note

        result.notes.append(silent_note(target.kind, out.audio))
    side = sidecar_path(target.output)
    if out.sidecar:
        info = {"kind": result.kind, "frames": result.frames, "width": result.width, "height": result.height,
                "fps": result.fps, "duration": result.duration, "bytes": result.bytes, "notes": result.notes,
                "gif_delays_cs": enc.delays_cs, "grid": [cols, rows], "batch_size": stats.batch_size}
        if enc.encoder:
            info["encoder"] = enc.encoder                     # ffmpeg's: libx264, libx265, h264_nvenc, hevc_nvenc
        describe = [p.describe() for p in paths] if len(paths) > 1 else paths[0].describe()
        recipe = recipe if recipe is not None else recipe_for(paths[0], out, dev)
        recipe = {**recipe, "encoder": chosen}               # what was used (auto resolved): --from replays it
        result.sidecar = str(write_sidecar(target.output, recipe, G, describe, info))
    elif side.exists():                       # a sidecar of the output just replaced would lie
        side.unlink()
    return result


def _progress(total: int, on_frames, console, quiet: bool, name: str):
    """(context manager, per-batch callback): the caller's on_frames, a rich bar, or nothing."""
    from contextlib import nullcontext

    if on_frames is not None:
        on_frames(0, total)
        return nullcontext(), on_frames
    if quiet:
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class FramesPerSecond(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text("   ? frames/s" if speed is None else f"{speed:6.1f} frames/s")

    console = console or Console(stderr=True)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("frames"), FramesPerSecond(), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal)
    task = progress.add_task(name, total=total)
    return progress, lambda n: progress.advance(task, n)


__all__ = ["render", "render_path", "render_paths", "default_checkpoint", "check_output_options", "check_render",
           "plan_render", "grid_options",
           "SHIPPED_CHECKPOINT"]
