"""`waifu-morph join`: the parts of a `render --shard I/N` into one clip (render/shards.py)."""

from __future__ import annotations

import typer

from .app import app, console


@app.command()
def join(
    parts: list[str] = typer.Argument(..., help="The part files (or folders) of one sharded render, any order, e.g. clip.part-*-of-4.mp4."),
    output: str = typer.Option(..., "--output", "-o", help="The clip: .mp4 for MP4 parts, a folder or pattern for frame parts."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output."),
    remove_parts: bool = typer.Option(False, "--remove-parts", help="Delete the parts and their sidecars once the clip is written."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
) -> None:
    """Join the parts of `render --shard I/N` by stream copy into one clip, frame for frame, with one
    sidecar. Refuses parts of another render (a plan hash in each part's sidecar), a missing or repeated
    part, and GIF/WebP (they are never rendered in parts).

    Examples:

      waifu-morph join clip.part-*-of-4.mp4 -o clip.mp4

      waifu-morph join frames.part-0-of-2 frames.part-1-of-2 -o frames/ --remove-parts
    """
    from ..render.shards import join_parts, remove_parts as remove

    out = join_parts(parts, output, overwrite=overwrite)
    if remove_parts:
        remove(parts)
    if not quiet:
        console.print(f"joined {len(parts)} parts into {output}: {out['frames']} frames", highlight=False, soft_wrap=True)
