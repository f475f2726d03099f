"""The `beats` command: a song's tempo, beats and the render plan (interpolate/audio)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from .app import app, console


@app.command()
def beats(
    song: str = typer.Argument(..., help="A song: any file ffmpeg decodes (mp3, wav, flac, m4a, ogg)."),
    audio_start: float = typer.Option(0.0, "--audio-start", help="Seconds into the song where the clip starts."),
    audio_seconds: Optional[float] = typer.Option(None, "--audio-seconds", help="Length of the clip in seconds (default: to the end)."),
    bpm: Optional[float] = typer.Option(None, "--bpm", help="Set the tempo instead of estimating it (beats still sit on the onsets)."),
    fps: float = typer.Option(30.0, "--fps", help="Frames per second of the planned render."),
    beats_per_key: Optional[int] = typer.Option(None, "--beats-per-key", help="A keyframe every N beats (default 1), counted from the first downbeat."),
    bars: Optional[int] = typer.Option(None, "--bars", help="A keyframe every N bars (on downbeats, 4 beats a bar) instead of --beats-per-key."),
    loop: bool = typer.Option(False, "--loop/--no-loop", help="Plan a loop: the clip is cut on the key beat where the first key returns."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis and the plan as JSON."),
) -> None:
    """Print a song's tempo, its beat and downbeat times, and the render plan (which frame each key lands on, frames per key at --fps).

    Examples:

      waifu-morph beats song.mp3

      waifu-morph beats song.mp3 --audio-start 30 --audio-seconds 15 --beats-per-key 2 --fps 24

      waifu-morph beats song.mp3 --bars 1 --loop --json
    """
    from ..audio.command import print_beats

    print_beats(song, start=audio_start, seconds=audio_seconds, bpm=bpm, fps=fps, beats_per_key=beats_per_key,
                bars=bars, loop=loop, as_json=as_json, console=Console(), err_console=console)
