"""The `studio` command: a local web page (interpolate/studio, the optional extra waifu-morph[studio])."""

from __future__ import annotations

from typing import Optional

import typer

from .app import app, console


@app.command()
def studio(
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pkl or .pt). Default: the model shipped in checkpoints/."),
    port: Optional[int] = typer.Option(None, "--port", help="Port to listen on (default 8765; 0 picks a free one)."),
    workdir: str = typer.Option("studio", "--workdir", help="Work folder: the only place the page reads W files from and writes renders and recipes to (created if missing)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL; do not open a browser."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but 127.0.0.1 / localhost makes the studio reachable from other machines (a warning is printed)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
) -> None:
    """Open a local web page to pick seeds, build and scrub a morph frame by frame, mix styles and render.

    The page talks only to this process, on 127.0.0.1 by default, with a random token made at each start
    (the printed URL carries it). It reads and writes files only inside the work folder. Needs the extra:
    pip install 'waifu-morph\\[studio]'.

    Examples:

      waifu-morph studio

      waifu-morph studio ffhq.pkl --workdir my-morphs --port 8800 --no-browser
    """
    from ..studio.server import run_studio

    run_studio(checkpoint, port=port, workdir=workdir, no_browser=no_browser, host=host, device=device, console=console)
