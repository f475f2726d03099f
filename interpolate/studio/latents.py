"""The studio's endpoints for your own characters and attributes (interpolate.directions, .projection).

    GET  /api/directions?name=  a directions .npz of the work folder: labels, eigenvalue shares, layers
    POST /api/directions        {style, name?, overwrite?} -> SeFa on a style group, saved as sefa-STYLE.npz
    POST /api/project?name=IMG&steps=&space=&class_idx=&output=&overwrite=   the image's bytes -> NDJSON progress

Names go through the same confinement as every other endpoint (security.confine), and the Guard in
front of the app checks token, Host and origin; the work itself is the Engine's (engine.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import WaifuError
from .jobs import MAX_QUEUED_RENDERS, stream_job
from .security import confine
from .slots import Compute

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_PROJECT_STEPS = 300
MAX_PROJECT_STEPS = 5000
DIRECTION_STYLES = ("all", "coarse", "middle", "fine")


def is_directions_file(path: Path) -> bool:
    """Is this .npz a directions file (`waifu-morph directions`), not a W file?"""
    if not str(path).lower().endswith(".npz"):
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return hasattr(data, "files") and "directions" in data.files
    except Exception:                              # unreadable: not a directions file (the W check says why)
        return False


def latent_routes(engine, workdir: Path, compute: Compute, renders, body_json, limited_body, too_large) -> list[Route]:
    """The routes, sharing the app's compute thread, job queue and body readers."""

    async def directions(request: Request) -> Response:
        if request.method == "GET":
            path = confine(workdir, request.query_params.get("name", ""), (".npz",))
            if not path.is_file():
                raise WaifuError(f"'{path.name}' is not in the work folder")
            return JSONResponse(await compute.run(lambda: engine.direction_info(str(path)), Compute.FRAME))
        body = await body_json(request)
        style = str(body.get("style") or "all")
        if style not in DIRECTION_STYLES:
            raise WaifuError(f"unknown style group '{style}' for directions; use {', '.join(DIRECTION_STYLES)}")
        path = confine(workdir, str(body.get("name") or f"sefa-{style}.npz"), (".npz",))
        if path.exists() and not body.get("overwrite"):
            if not is_directions_file(path):
                raise WaifuError(f"'{path.name}' exists in the work folder and holds no directions; choose another name")
            return JSONResponse(await compute.run(lambda: engine.direction_info(str(path)), Compute.FRAME))
        return JSONResponse(await compute.run(lambda: engine.compute_directions(style, str(path)), Compute.FRAME))

    async def project(request: Request) -> Response:
        """An image dropped on the page -> NAME.npz in the work folder, fitted by interpolate.project."""
        image_name = request.query_params.get("name", "")
        confine(workdir, image_name, IMAGE_SUFFIXES)            # only to check the name: nothing is kept
        stem = Path(image_name.replace("\\", "/")).stem
        path = confine(workdir, str(request.query_params.get("output") or stem + ".npz"), (".npz",))
        try:
            steps = int(request.query_params.get("steps") or DEFAULT_PROJECT_STEPS)
        except ValueError:
            raise WaifuError("steps must be a whole number") from None
        if not 1 <= steps <= MAX_PROJECT_STEPS:
            raise WaifuError(f"steps must be 1-{MAX_PROJECT_STEPS}, got {steps}")
        space = request.query_params.get("space") or "w"
        if space not in ("w", "wplus"):
            raise WaifuError(f"unknown space '{space}'; use w or wplus")
        cls = request.query_params.get("class_idx")
        try:
            cls = None if cls in (None, "") else int(cls)
        except ValueError:
            raise WaifuError("class_idx must be a whole number") from None
        if path.exists() and request.query_params.get("overwrite") != "1":
            raise WaifuError(f"'{path.name}' exists in the work folder; choose another name")
        data = await limited_body(request)
        if data is None:
            return too_large()
        if renders.ahead() >= MAX_QUEUED_RENDERS:
            raise WaifuError("too many jobs are waiting; try again when one has finished")

        def work(emit, cancelled) -> dict:
            started = time.perf_counter()

            def on_step(step: int, total: int, psnr: float) -> None:
                wall = max(time.perf_counter() - started, 1e-9)
                emit({"state": "progress", "done": step, "total": total, "psnr": round(psnr, 2),
                      "steps_per_s": round(step / wall, 2)})

            result = engine.project_image(data, Path(image_name.replace("\\", "/")).name, str(path), steps=steps,
                                          space=space, class_idx=cls, on_step=on_step,
                                          cancelled=cancelled)
            return {**result, "output": path.name}

        return stream_job(renders, work)

    return [Route("/api/directions", directions, methods=["GET", "POST"]), Route("/api/project", project, methods=["POST"])]
