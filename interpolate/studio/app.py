"""The studio's HTTP API (Starlette): the page, frames on demand, seeds, files, renders, recipes.

    app = build_app(engine, workdir, token, host, port)      # an ASGI app, wrapped in the Guard

    GET  /                      the page (static/index.html with the token filled in)
    GET  /static/NAME           studio.js, render.js, latents.js, studio.css
    GET  /api/info              model, style groups, choices and defaults of every control
    GET  /api/presets           the presets of `waifu-morph presets`, resolved
    GET  /api/files             W files, directions files, outputs and recipes in the work folder
    GET  /api/seed/N.png        one seed, as `waifu-morph image` draws it (?psi=&class_idx=)
    GET  /api/file?name=        a file of the work folder (videos play in the page)
    POST /api/plan              {values, output?} -> frames, fps, key frames, the equivalent command
    POST /api/frame             {values, frame, encoding?} -> PNG (or raw RGB bytes with encoding 'rgb');
                                204 when a newer request superseded it; it also stops a playing preview
    POST /api/preview           {values, start, fps} -> NDJSON: every k-th planned frame at <= 256 px, streamed
                                as drawn (preview.py); a newer preview or a frame request supersedes it
    POST /api/mix               {seeds, style, psi, noise} -> the style-mixing figure PNG (204: superseded)
    POST /api/upload?name=      a W file (.npy/.npz, at most MAX_UPLOAD bytes) into the work folder
    POST /api/render            {values, output, format, overwrite} -> NDJSON progress lines; closing the
                                connection (a closed tab, the Stop button) cancels it, nothing partial left
    POST /api/recipe            {values, name, output?, kind?} -> writes NAME.toml for `render --preset`, or
                                with kind 'reel' a reel TOML for `waifu-morph reel` (notes: what it leaves out)
    (latents.py:)
    GET  /api/directions?name=  a directions .npz of the work folder: labels, eigenvalue shares, layers
    POST /api/directions        {style, name?, overwrite?} -> SeFa (interpolate.directions.sefa) on a style
                                group, saved as sefa-STYLE.npz in the work folder (so recipes can name it)
    POST /api/project?name=IMG&steps=&space=&output=&overwrite=   the image's bytes -> NDJSON progress (steps,
                                PSNR) while interpolate.project fits it; writes NAME.npz (a W key); queued
                                with the renders (one job at a time), cancelled by a closed connection

`values` are the flat names of `render --help` plus `keys`: seed numbers, or 'w:NAME' for a W file
in the work folder, and `direction` as 'NAME.npz:I' (a directions file of the work folder, as
`render --direction`) with `strength` 'A:B', or lists of both (several directions at once).
"""

from __future__ import annotations

import contextlib
import html
import json
import shlex
import sys
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import WaifuError
from .engine import Engine, with_output_format
from .jobs import MAX_QUEUED_RENDERS, Renders, stream_job
from .latents import is_directions_file, latent_routes
from .preview import Previews
from .security import Guard, confine, listing
from .slots import SUPERSEDED, Compute, LatestWins

W_SUFFIXES = (".npy", ".npz")
OUTPUT_SUFFIXES = (".mp4", ".gif", ".webp")
READABLE_SUFFIXES = W_SUFFIXES + OUTPUT_SUFFIXES + (".toml", ".json", ".png")
MAX_UPLOAD = 16 * 1024 * 1024          # bytes of one uploaded W file
MAX_JSON = 1024 * 1024                 # bytes of one JSON request
STATIC_FILES = {"studio.js": "text/javascript", "render.js": "text/javascript", "latents.js": "text/javascript",
                "preview.js": "text/javascript", "studio.css": "text/css"}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                 b"script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                 b"base-uri 'none'; form-action 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def static_text(name: str) -> str:
    return (resources.files("interpolate.studio") / "static" / name).read_text(encoding="utf-8")


def build_app(engine: Engine, workdir: Path, token: str, host: str, port: int) -> Guard:
    workdir = Path(workdir).resolve()
    compute = Compute()
    frames = LatestWins(compute)
    # the mixing figure (many syntheses, seconds on a large model on CPU) runs beside, on its own thread,
    # so it never holds up the frame under the pointer; a newer figure request replaces a waiting one
    figures = LatestWins(Compute())
    renders = Renders()
    previews = Previews(engine, compute)

    def page_values(raw: Any) -> dict[str, Any]:
        """The page's values with its key tokens turned into what --keys takes."""
        if not isinstance(raw, dict):
            raise WaifuError("values must be an object of render options")
        values = dict(raw)
        keys = []
        for key in values.get("keys") or []:
            text = str(key)
            if text.startswith("w:"):
                name = text[2:]
                if "," in name:
                    raise WaifuError(f"'{name}': W file names with commas cannot be keys; rename the file")
                keys.append(str(confine(workdir, name, W_SUFFIXES)))
            elif text.isdigit():
                keys.append(text)
            else:
                raise WaifuError(f"key '{text}' is neither a seed number nor a W file of the work folder")
        values["keys"] = keys
        if values.get("direction"):               # 'NAME.npz:I' or a list of them: directions files of the work folder
            from ..directions import parse_direction

            def inside(text: str) -> str:
                name, index = parse_direction(str(text))
                return f"{confine(workdir, name, ('.npz',))}:{index}"

            given = values["direction"]
            values["direction"] = [inside(d) for d in given] if isinstance(given, list) else inside(given)
        return values

    async def body_json(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise WaifuError("send JSON (content-type application/json)")
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_JSON:
                raise WaifuError("request too large")
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            raise WaifuError("the request is not valid JSON") from None
        if not isinstance(body, dict):
            raise WaifuError("the request must be a JSON object")
        return body

    # --- the page -----------------------------------------------------------------------------------
    async def index(request: Request) -> Response:
        text = static_text("index.html").replace("{{TOKEN}}", html.escape(token, quote=True))
        return Response(text, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(static_text(name), media_type=STATIC_FILES[name], headers={"cache-control": "no-store"})

    # --- reading ------------------------------------------------------------------------------------
    async def info(request: Request) -> Response:
        return JSONResponse({**engine.info(), "workdir": str(workdir), "max_upload": MAX_UPLOAD})

    async def presets(request: Request) -> Response:
        return JSONResponse(await compute.run(engine.presets))

    async def files(request: Request) -> Response:
        npz = listing(workdir, W_SUFFIXES)
        dirs = [f for f in npz if is_directions_file(workdir / f["name"])]
        return JSONResponse({"w": [f for f in npz if f not in dirs], "directions": dirs,
                             "outputs": listing(workdir, OUTPUT_SUFFIXES), "recipes": listing(workdir, (".toml",))})

    async def seed(request: Request) -> Response:
        try:
            number = int(request.path_params["seed"])
            psi = request.query_params.get("psi")
            psi = None if psi in (None, "") else float(psi)
            cls = request.query_params.get("class_idx")
            cls = None if cls in (None, "") else int(cls)
        except ValueError:
            raise WaifuError("seed, psi and class_idx must be numbers") from None
        png = await compute.run(lambda: engine.seed_png(number, psi, cls))
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=3600"})

    async def get_file(request: Request) -> Response:
        path = confine(workdir, request.query_params.get("name", ""), READABLE_SUFFIXES)
        if not path.is_file():
            raise WaifuError(f"'{path.name}' is not in the work folder")
        return FileResponse(path, headers={"cache-control": "no-store"})

    # --- the path and its frames --------------------------------------------------------------------
    async def plan(request: Request) -> Response:
        body = await body_json(request)
        values = page_values(body.get("values"))
        described = await compute.run(lambda: engine.describe(values), Compute.FRAME)
        fmt = body.get("format") or "mp4"
        output = with_output_format(str(body.get("output") or "studio"), fmt)
        confine(workdir, output, OUTPUT_SUFFIXES)
        described["command"] = engine.command_line(values, str(workdir / output))
        return JSONResponse(described)

    async def frame(request: Request) -> Response:
        body = await body_json(request)
        values = page_values(body.get("values"))
        try:
            index = int(body.get("frame", 0))
        except (TypeError, ValueError):
            raise WaifuError("frame must be a whole number") from None
        raw = body.get("encoding") == "rgb"       # the page: bytes it puts on its canvas without decoding
        t0 = time.perf_counter()
        previews.supersede()                      # a scrub stops the preview playing
        result = await frames.submit(lambda: engine.frame(values, index) if raw else engine.frame_png(values, index))
        if result is SUPERSEDED:
            return Response(status_code=204, headers={"x-superseded": "1"})
        image, label = result
        headers = {"x-frame": str(index), "x-label": quote(label), "cache-control": "no-store",
                   "x-server-ms": f"{(time.perf_counter() - t0) * 1000:.1f}"}
        if raw:
            headers.update({"x-width": str(image.shape[1]), "x-height": str(image.shape[0])})
            return Response(image.tobytes(), media_type="application/octet-stream", headers=headers)
        return Response(image, media_type="image/png", headers=headers)

    async def preview(request: Request) -> Response:
        body = await body_json(request)
        values = page_values(body.get("values"))
        described = await compute.run(lambda: engine.describe(values), Compute.FRAME)   # bad values: 400 here
        return previews.stream(values, described, body.get("start", 0), body.get("fps", "auto"))

    async def mix(request: Request) -> Response:
        body = await body_json(request)
        try:
            seeds = [int(s) for s in body.get("seeds") or []]
        except (TypeError, ValueError):
            raise WaifuError("seeds must be numbers") from None
        psi = body.get("psi")
        png = await figures.submit(lambda: engine.mix_png(seeds, str(body.get("style") or "coarse"),
                                                          None if psi in (None, "") else float(psi),
                                                          str(body.get("noise") or "const")))
        if png is SUPERSEDED:
            return Response(status_code=204, headers={"x-superseded": "1"})
        return Response(png, media_type="image/png", headers={"cache-control": "no-store"})

    # --- writing ------------------------------------------------------------------------------------
    async def limited_body(request: Request) -> bytes | None:
        """The request's bytes, or None past MAX_UPLOAD (read no further than that)."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_UPLOAD:
            return None
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD:
                return None
        return bytes(data)

    def too_large() -> Response:
        return JSONResponse({"error": f"uploads are limited to {MAX_UPLOAD // (1024 * 1024)} MB"}, status_code=413)

    async def upload(request: Request) -> Response:
        from ..files import atomic_path

        path = confine(workdir, request.query_params.get("name", ""), W_SUFFIXES)
        data = await limited_body(request)
        if data is None:
            return too_large()
        if path.exists() and request.query_params.get("overwrite") != "1":
            raise WaifuError(f"'{path.name}' exists in the work folder; choose another name")

        def save() -> int:
            with atomic_path(path, suffix=path.suffix) as tmp:
                Path(tmp).write_bytes(bytes(data))
                rows = engine.check_w_file(tmp)   # a file this model cannot use is not kept
            return rows

        rows = await compute.run(save)
        engine.forget_plans()                      # a replaced W file changes the paths that use it
        return JSONResponse({"name": path.name, "rows": rows})

    async def render(request: Request) -> Response:
        body = await body_json(request)
        values = page_values(body.get("values"))
        output = with_output_format(str(body.get("output") or "studio"), str(body.get("format") or "mp4"))
        path = confine(workdir, output, OUTPUT_SUFFIXES)
        overwrite = bool(body.get("overwrite"))
        if path.exists() and not overwrite:
            raise WaifuError(f"'{path.name}' exists in the work folder; tick overwrite or choose another name")
        await compute.run(lambda: engine.describe(values))       # bad options fail here, before queueing
        if renders.ahead() >= MAX_QUEUED_RENDERS:
            raise WaifuError("too many renders are waiting; try again when one has finished")
        started = [0.0]

        def work(emit, cancelled) -> dict:
            def on_frames(done: int, total: int | None) -> None:
                if total is not None:
                    started[0] = time.perf_counter()
                    emit({"state": "progress", "done": 0, "total": total, "fps": 0.0})
                else:
                    wall = max(time.perf_counter() - started[0], 1e-9)
                    emit({"state": "progress", "done": done, "fps": round(done / wall, 2)})

            result = engine.render(values, str(path), overwrite=overwrite, on_frames=on_frames, cancelled=cancelled)
            return {**result, "output": path.name}

        return stream_job(renders, work)

    async def recipe(request: Request) -> Response:
        from ..files import atomic_write

        body = await body_json(request)
        values = page_values(body.get("values"))
        name = str(body.get("name") or "recipe")
        name = name if name.lower().endswith(".toml") else name + ".toml"
        path = confine(workdir, name, (".toml",))
        output = body.get("output")
        if output:
            output = str(workdir / with_output_format(str(output), str(body.get("format") or "mp4")))
        kind = str(body.get("kind") or "preset")
        if kind not in ("preset", "reel"):
            raise WaifuError(f"unknown recipe kind '{kind}'; use preset (render --preset) or reel (waifu-morph reel)")
        await compute.run(lambda: engine.describe(values))
        description = str(body.get("description") or "")
        if kind == "reel":
            text, notes = engine.reel_toml(values, output, description)
            command = f"waifu-morph reel {shlex.quote(str(path))}"
        else:
            text, notes = engine.recipe_toml(values, output, description), []
            command = f"waifu-morph render --preset {shlex.quote(str(path))}"
        with atomic_write(path, "w", encoding="utf-8") as f:
            f.write(text)
        return JSONResponse({"name": path.name, "kind": kind, "text": text, "notes": notes, "command": command})

    routes = [
        Route("/", index), Route("/static/{name}", static),
        Route("/api/info", info), Route("/api/presets", presets), Route("/api/files", files),
        Route("/api/seed/{seed}.png", seed), Route("/api/file", get_file),
        Route("/api/plan", plan, methods=["POST"]), Route("/api/frame", frame, methods=["POST"]),
        Route("/api/preview", preview, methods=["POST"]),
        Route("/api/mix", mix, methods=["POST"]), Route("/api/upload", upload, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]), Route("/api/recipe", recipe, methods=["POST"]),
        *latent_routes(engine, workdir, compute, renders, body_json, limited_body, too_large),
    ]

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, WaifuError):
            return JSONResponse({"error": str(exc)}, status_code=400)
        traceback.print_exception(exc, file=sys.stderr)
        return JSONResponse({"error": f"bug: {type(exc).__name__}: {exc}"}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        renders.stop_all()
        previews.supersede()
        frames.close()
        figures.close()
        figures.compute.close()
        compute.close()

    app = Starlette(routes=routes, exception_handlers={WaifuError: on_error, Exception: on_error}, lifespan=lifespan)
    guard = Guard(_with_headers(app), token, host, port)
    guard.frames, guard.renders, guard.previews = frames, renders, previews
    return guard


def _with_headers(app):
    """Add the security headers (CSP: only this server's own scripts, styles and images) to every reply."""

    async def wrapped(scope, receive, send):
        async def send_with(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        await app(scope, receive, send_with if scope["type"] == "http" else send)

    wrapped.inner = app
    return wrapped
