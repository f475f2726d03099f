"""Commands that draw: info, image, render and mix (interpolate/render)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .app import app, console


@app.command()
def info(
    checkpoint: Path = typer.Argument(..., help="Checkpoint file (.pkl or .pt); its format is detected from its content."),
) -> None:
    """Describe a checkpoint: format, architecture, resolution, num_ws, style groups, default truncation, parameters.

    Example:  waifu-morph info stylegan2-ffhq-1024x1024.pkl
    """
    from ..loading import describe

    describe(checkpoint, console=Console())


@app.command()
def image(
    checkpoint: Optional[Path] = typer.Argument(None, help="Checkpoint file (.pkl or .pt). Default: the model shipped in checkpoints/."),
    seeds: str = typer.Option("0-7", "--seeds", "-s", help="Seeds: a list and/or ranges, e.g. 3,17,42 or 0-31."),
    psi: Optional[float] = typer.Option(None, "--psi", help="Truncation psi (default: the checkpoint's own setting, see `info`, else 1 = off; 0.7 is a common choice)."),
    cutoff: Optional[int] = typer.Option(None, "--cutoff", help="Truncate only ws[:cutoff] (default: the checkpoint's own setting, else all)."),
    noise_mode: str = typer.Option("const", "--noise-mode", help="Noise inputs: const, random or none."),
    class_idx: Optional[int] = typer.Option(None, "--class-idx", help="Class of a conditional model (required when it has classes)."),
    outdir: Path = typer.Option(Path("out"), "--outdir", "-o", help="Folder for the PNGs (created if missing)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write one PNG per seed, exactly as NVIDIA's gen_images.py draws it.

    Example:  waifu-morph image ffhq.pkl --seeds 0-7 --psi 0.7 -o out/
    """
    from ..render.stills import write_seed_images

    write_seed_images(checkpoint, seeds=seeds, psi=psi, cutoff=cutoff, noise_mode=noise_mode, class_idx=class_idx,
                      outdir=outdir, device=device, quiet=quiet, console=console)


# --- videos, GIFs and frames (interpolate/render) -----------------------------------------------------
def _given(ctx: typer.Context) -> set[str]:
    """Names of the parameters the user typed (not defaults), for `render --from`."""
    return {name for name in ctx.params
            if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE", "ENVIRONMENT")}


@app.command(no_args_is_help=False)
def render(
    ctx: typer.Context,
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pkl or .pt). Default: the model shipped in checkpoints/ (chibi-64.pt)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", "-s", help="Keyframe seeds in order: a list and/or ranges, e.g. 3,17,42 or 0-9.", rich_help_panel="Keyframes"),
    keys: Optional[list[str]] = typer.Option(None, "--keys", "-k", help="More keyframes after --seeds: seeds and/or W files (.npy/.npz, e.g. projected_w.npz); repeat or separate by commas.", rich_help_panel="Keyframes"),
    base: Optional[str] = typer.Option(None, "--base", help="Seed or W file for the styles that do not move (default: the first key).", rich_help_panel="Keyframes"),
    shuffle_seed: Optional[int] = typer.Option(None, "--shuffle-seed", help="Shuffle the keys with this seed.", rich_help_panel="Keyframes"),
    class_idx: Optional[int] = typer.Option(None, "--class-idx", help="Class of a conditional model (required when it has classes).", rich_help_panel="Keyframes"),
    style: str = typer.Option("all", "--style", help="Which styles move: all, coarse (pose, face shape), middle (features, hair), fine (colours), cascade or cascade-reverse.", rich_help_panel="Styles (which layers move)"),
    layers: Optional[str] = typer.Option(None, "--layers", help="Explicit ws indices that move, e.g. 0-3,8-15 (overrides --style groups).", rich_help_panel="Styles (which layers move)"),
    stagger: float = typer.Option(0.5, "--stagger", help="Cascade: overlap of the coarse/middle/fine windows, 0 (one after another) to 1 (together).", rich_help_panel="Styles (which layers move)"),
    direction: Optional[list[str]] = typer.Option(None, "--direction", metavar="FILE:INDEX", help="Walk along a direction, FILE:INDEX from `waifu-morph directions` (e.g. dirs.npz:2), on the layers it was made for; with one key it is the whole clip, with a morph it is added to every frame. Repeat it for several at once (their edits add up): --direction dirs.npz:3 --strength 2 --direction dirs.npz:5 --strength -1:1.", rich_help_panel="Directions (attributes)"),
    strength: Optional[list[str]] = typer.Option(None, "--strength", metavar="A:B", help="--direction strength in W units: A:B runs from A to B over the clip (and back with --loop); B alone from 0. Default -3:3. With several --direction, one --strength each, paired in order (or none).", rich_help_panel="Directions (attributes)"),
    interp: str = typer.Option("cubic", "--interp", help="Interpolation: cubic, catmull-rom, linear (in W) or slerp (in Z for seeds).", rich_help_panel="Motion"),
    space: str = typer.Option("auto", "--space", help="Interpolate in z or w; auto: z for slerp between seeds, w otherwise.", rich_help_panel="Motion"),
    easing: str = typer.Option("linear", "--easing", help="Easing of each transition: linear, smoothstep, sine or cubic.", rich_help_panel="Motion"),
    seconds: float = typer.Option(2.0, "--seconds", help="Seconds per transition (ignored when --frames or --durations is set).", rich_help_panel="Motion"),
    frames: Optional[int] = typer.Option(None, "--frames", help="Frames per transition (instead of --seconds).", rich_help_panel="Motion"),
    durations: Optional[str] = typer.Option(None, "--durations", help="Seconds of each transition, e.g. 2,1,3 (one per transition).", rich_help_panel="Motion"),
    hold: str = typer.Option("0", "--hold", help="Seconds to hold still on each keyframe: one number for every key (--hold 0.5), or one per key in key order (--hold 0,1.5,0; with --loop too). A key is shown on round(seconds x fps) + 1 frames; without --loop the last key's hold is the still the clip ends on. With --audio: one number.", rich_help_panel="Motion"),
    loop: bool = typer.Option(False, "--loop/--no-loop", help="Return to the first key so the clip loops seamlessly.", rich_help_panel="Motion"),
    pace: str = typer.Option("key", "--pace", help="key: equal time per transition; even: equal speed in W (arc length).", rich_help_panel="Motion"),
    psi: Optional[float] = typer.Option(None, "--psi", help="Truncation psi (default: the checkpoint's own setting, see `info`, else 1 = off; 0.7 gives cleaner, less varied images).", rich_help_panel="Truncation and noise"),
    psi_end: Optional[float] = typer.Option(None, "--psi-end", help="Animate psi from --psi to this value over the clip.", rich_help_panel="Truncation and noise"),
    cutoff: Optional[int] = typer.Option(None, "--cutoff", help="Truncate only ws[:cutoff] (default: the checkpoint's own setting, else all).", rich_help_panel="Truncation and noise"),
    noise: str = typer.Option("const", "--noise", help="Noise inputs: const, random, none or smooth (slowly drifting).", rich_help_panel="Truncation and noise"),
    noise_seed: int = typer.Option(0, "--noise-seed", help="Seed of random / smooth noise.", rich_help_panel="Truncation and noise"),
    noise_drift: float = typer.Option(0.25, "--noise-drift", help="Smooth noise: cycles per second of its slowest component.", rich_help_panel="Truncation and noise"),
    audio: Optional[str] = typer.Option(None, "--audio", help="A song (mp3, wav, flac, m4a, ogg): keys land on its beats, the clip lasts the span, and an MP4 carries it as AAC in sync.", rich_help_panel="Music"),
    audio_start: float = typer.Option(0.0, "--audio-start", help="Seconds into the song where the clip starts (video frame 0).", rich_help_panel="Music"),
    audio_seconds: Optional[float] = typer.Option(None, "--audio-seconds", help="Length of the clip in seconds (default: to the end of the song).", rich_help_panel="Music"),
    beats_per_key: Optional[int] = typer.Option(None, "--beats-per-key", help="A keyframe every N beats (default 1), counted from the first downbeat; the keys cycle if there are more beats than keys.", rich_help_panel="Music"),
    bars: Optional[int] = typer.Option(None, "--bars", help="A keyframe every N bars (downbeats, 4 beats a bar) instead of --beats-per-key.", rich_help_panel="Music"),
    bpm: Optional[float] = typer.Option(None, "--bpm", help="Set the tempo instead of estimating it (also the grid when the song has no clear beat).", rich_help_panel="Music"),
    react_pulse: float = typer.Option(0.0, "--react-pulse", help="Hits (onset pulse) flash the fine styles (colours); 0 off, 0.3 subtle, 1 strong.", rich_help_panel="Music"),
    react_bass: float = typer.Option(0.0, "--react-bass", help="Bass energy swells the coarse styles (pose, face shape); 0 off.", rich_help_panel="Music"),
    react_treble: float = typer.Option(0.0, "--react-treble", help="Treble energy shimmers the middle styles (features, hair); 0 off.", rich_help_panel="Music"),
    react_attack: float = typer.Option(0.0, "--react-attack", help="Seconds a reaction takes to rise (0: on the frame of the hit).", rich_help_panel="Music"),
    react_decay: float = typer.Option(0.25, "--react-decay", help="Seconds a reaction takes to fall back.", rich_help_panel="Music"),
    output: str = typer.Option("waifu.mp4", "--output", "-o", help="Output: .mp4, .gif, .webp, a folder (frames/) or a pattern (frames/%05d.png). The extension picks the format.", rich_help_panel="Output"),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output (it is replaced only once the new one is complete).", rich_help_panel="Output"),
    fps: float = typer.Option(30.0, "--fps", help="Frames per second (GIF: delays are whole 1/100 s, so 30 fps alternates 3 and 4; at most 50).", rich_help_panel="Output"),
    crf: int = typer.Option(18, "--crf", help="MP4 quality: 0 lossless, 18 visually lossless, 23 smaller, 51 worst.", rich_help_panel="Output"),
    x264_preset: str = typer.Option("veryfast", "--x264-preset", help="x264/x265 speed: ultrafast ... veryslow (veryfast: about the size of medium, 2x faster).", rich_help_panel="Output"),
    codec: str = typer.Option("h264", "--codec", help="MP4 codec: h264 (plays everywhere) or h265 (smaller; tagged hvc1 for Apple).", rich_help_panel="Output"),
    encoder: str = typer.Option("auto", "--encoder", help="MP4 video encoder: auto (NVENC when rendering on CUDA and a two-frame test encode works, else x264; the summary and sidecar say which), x264 (libx264/libx265 on the CPU, per --codec) or nvenc (h264_nvenc/hevc_nvenc; --crf becomes its constant quality, -cq). --from replays the one used.", rich_help_panel="Output"),
    gif_quality: str = typer.Option("normal", "--gif-quality", help="GIF: normal (one palette for the clip, bayer dithering) or hq (a palette per frame, larger).", rich_help_panel="Output"),
    max_size: Optional[str] = typer.Option(None, "--max-size", help="Largest file, e.g. 15MB or 8MB (Discord) or 800KB: width, then fps, are lowered until it fits; each change is reported.", rich_help_panel="Output"),
    size: Optional[str] = typer.Option(None, "--size", help="Output WIDTHxHEIGHT, e.g. 512x512 or 1080x1920 (Lanczos; see --fit), or native: the model's own size. Default: a model under 256 px is upscaled to 256 px on the short side (the shipped 64 px model gives 256x256).", rich_help_panel="Output"),
    fit: str = typer.Option("pad", "--fit", help="When --size has another shape: pad (black bars) or crop (fill the frame).", rich_help_panel="Output"),
    grid: Optional[str] = typer.Option(None, "--grid", help="Tile several paths, COLSxROWS, e.g. 3x2: the keys are split in order into equal runs, one per cell.", rich_help_panel="Output"),
    label: bool = typer.Option(False, "--label/--no-label", help="Write the seed numbers on the frames ('seed 3 -> 17' during a transition).", rich_help_panel="Output"),
    sidecar: bool = typer.Option(True, "--sidecar/--no-sidecar", help="Write OUTPUT.json: checkpoint SHA-256, every option, the tool version (for --from).", rich_help_panel="Output"),
    from_file: Optional[str] = typer.Option(None, "--from", help="Render again from a sidecar (waifu.mp4.json); flags given here override what it records.", rich_help_panel="Recipes and replays"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="A recipe from `waifu-morph presets` (e.g. color-cycle, x-gif) or a .toml file; flags typed here override it. An x264 speed (veryfast ... veryslow) here sets --x264-preset.", rich_help_panel="Recipes and replays"),
    save_latents: Optional[str] = typer.Option(None, "--save-latents", help="Also write every frame's ws and the plan to this .npz.", rich_help_panel="Recipes and replays"),
    from_latents: Optional[str] = typer.Option(None, "--from-latents", help="Replay a --save-latents .npz bit for bit (the path flags are ignored).", rich_help_panel="Recipes and replays"),
    device: str = typer.Option("auto", "--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps.", rich_help_panel="Device"),
    precision: str = typer.Option("auto", "--precision", help="auto (fp16 on CUDA, else fp32), fp32, fp16 or bf16.", rich_help_panel="Device"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Frames per synthesis call (default: adapts to the device).", rich_help_panel="Device"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, notes or summary (errors still print).", rich_help_panel="Device"),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: render part I (from 0) of N of the clip into OUTPUT.part-I-of-N (MP4 or PNG frames); the last part to finish joins them (see `waifu-morph join`). For job arrays.", rich_help_panel="Workers"),
    ray: Optional[str] = typer.Option(None, "--ray", help="Split the clip across a Ray cluster (auto, or ray://head:10001), one part per worker, joined here (pip install 'waifu-morph\\[ray]').", rich_help_panel="Workers"),
) -> None:
    """Render a morph between keyframes to MP4, GIF, WebP or PNG frames, streamed and written safely.

    The output's extension picks the format. The file appears only when it is complete; a JSON sidecar beside it records how to make it again.

    Examples:

      waifu-morph render --seeds 3,17,42 --style fine -o waifu.mp4

      waifu-morph render --preset color-cycle --seeds 3,17,42 -o colours.gif

      waifu-morph render ffhq.pkl --seeds 0-5 --loop --interp slerp --psi 0.7 -o loop.gif --max-size 8MB

      waifu-morph render --seeds 0-11 --grid 3x2 --label --size 1080x1920 --fit crop -o grid.mp4

      waifu-morph render --seeds 1,2 --style cascade --frames 60 -o frames/%05d.png

      waifu-morph render --seeds 3,17,42 --hold 0,1.5,0 -o pause-on-17.mp4

      waifu-morph render --from waifu.mp4.json -o again.mp4

      waifu-morph render --seeds 0-15 --audio song.mp3 --audio-start 30 --audio-seconds 20 --beats-per-key 4 --react-pulse 0.4 -o clip.mp4
      waifu-morph render --seeds 3 --direction dirs.npz:1 --strength -3:3 --loop -o walk.gif

      waifu-morph render --seeds 3,17 --direction dirs.npz:3 --strength 2 --direction dirs.npz:5 --strength -1:1 -o both.mp4

      waifu-morph render --seeds 0-99 --shard $SLURM_ARRAY_TASK_ID/8 -o long.mp4
    """
    from ..render.command import run_render

    values = {k: v for k, v in ctx.params.items() if k not in ("from_file", "preset", "shard", "ray")}
    run_render(values, _given(ctx), from_file, console, preset=preset, shard=shard, ray=ray)


@app.command()
def mix(
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pkl or .pt). Default: the model shipped in checkpoints/."),
    rows: str = typer.Option(..., "--rows", help="Seeds of the rows: each row's character keeps its other styles."),
    cols: str = typer.Option(..., "--cols", help="Seeds of the columns: each gives the chosen styles to its column."),
    style: str = typer.Option("coarse", "--style", help="Styles taken from the column: coarse, middle, fine or all."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Explicit ws indices taken from the column, e.g. 0-3 (overrides --style)."),
    psi: Optional[float] = typer.Option(None, "--psi", help="Truncation psi (default: the checkpoint's own setting, as render, else 1 = off)."),
    noise: str = typer.Option("const", "--noise", help="Noise inputs: const, random or none."),
    output: str = typer.Option("mix.png", "--output", "-o", help="A .png figure, or with --video an .mp4/.gif/.webp."),
    video: bool = typer.Option(False, "--video", help="Animate: each cell morphs from its row's character to the mix and back."),
    seconds: float = typer.Option(2.0, "--seconds", help="--video: seconds from the row's character to the mix."),
    fps: float = typer.Option(30.0, "--fps", help="--video: frames per second."),
    cell: Optional[int] = typer.Option(None, "--cell", help="Pixels per cell (default 256, Lanczos: a smaller model is upscaled, a larger one reduced; e.g. --cell 64 for the shipped model's own size)."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """The style-mixing figure of the StyleGAN paper: rows x columns, each cell a row's character with
    the chosen styles taken from its column's; the sources are drawn along the top and the left.

    Examples:

      waifu-morph mix --rows 1,2,3 --cols 7,8,9 --style coarse -o mix.png

      waifu-morph mix ffhq.pkl --rows 1,2 --cols 7,8,9 --style fine --video -o mix.mp4
    """
    from ..render.figures import style_mixing

    style_mixing(checkpoint, rows=rows, cols=cols, style=style, layers=layers, psi=psi, noise=noise, output=output,
                 video=video, seconds=seconds, fps=fps, cell=cell, overwrite=overwrite, device=device, quiet=quiet,
                 console=console)
