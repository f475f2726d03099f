"""Helpers of the studio tests: a running studio on a tiny checkpoint (fixtures), raw HTTP, the CLI's own plan."""

from __future__ import annotations

import http.client
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

# every studio test module imports this one first: without the studio extra they all skip, saying why
pytest.importorskip("starlette", reason="the studio extra is not installed: pip install 'waifu-morph[studio]'")
pytest.importorskip("uvicorn", reason="the studio extra is not installed: pip install 'waifu-morph[studio]'")

from test_render_cli import cli  # noqa: F401  (the console script's entry point; its exit code)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"), channel_base=256, channel_max=8)


@pytest.fixture(scope="module")
def studio(tiny_checkpoint, tmp_path_factory):
    """A studio serving the tiny checkpoint on a free port of 127.0.0.1, in a thread."""
    from interpolate.studio.server import Studio

    server = Studio.start(tiny_checkpoint, workdir=tmp_path_factory.mktemp("work"), port=0, device="cpu")
    yield server
    server.stop()


def request(studio, method: str, path: str, body=None, *, token: bool | str = True, host: str | None = None,
            headers: dict | None = None, raw: bytes | None = None):
    """(status, headers, body bytes) of one request; `host` replaces the Host header, token=False
    sends none, a string sends that token."""
    conn = http.client.HTTPConnection("127.0.0.1", studio.port, timeout=120)
    h = {"Host": f"127.0.0.1:{studio.port}" if host is None else host}
    if token:
        h["X-Studio-Token"] = studio.token if token is True else token
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    if data is not None:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read()
    conn.close()
    return out


def cli_command(command: str) -> int:
    """Run a `waifu-morph ...` line the page shows."""
    words = shlex.split(command)
    assert words[0] == "waifu-morph"
    return cli(*words[1:])


@torch.no_grad()
def cli_planned_frame(G, ckpt: str, flags: list[str], frame: int, tmp: Path) -> np.ndarray:
    """uint8 [H, W, 3]: G.synthesis of frame `frame`'s ws as `waifu-morph render FLAGS --save-latents` plans it."""
    latents = tmp / "cli-plan.npz"
    assert cli("render", ckpt, *flags, "-o", tmp / "cli-plan.mp4", "--save-latents", latents, "-q", "-y") == 0
    with np.load(latents) as data:
        ws = torch.from_numpy(np.array(data["ws"][frame:frame + 1]))
    img = G.synthesis(ws.float(), noise_mode="const")
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0, :, :, :3].numpy()


def decode_png(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def video_frames(path: Path) -> int:
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return frames


def post_on_socket(studio, target: str, data: bytes, content_type: str):
    """POST on a raw socket, so a test can drop the connection as a closed tab does."""
    import socket

    sock = socket.create_connection(("127.0.0.1", studio.port), timeout=120)
    head = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{studio.port}\r\nX-Studio-Token: {studio.token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n")
    sock.sendall(head.encode() + data)
    return sock


def read_until(sock, words: bytes) -> bytes:
    """Bytes from the socket up to (and past) `words`; fails if the server closes first."""
    seen = b""
    while words not in seen:
        chunk = sock.recv(4096)
        assert chunk, seen
        seen += chunk
    return seen


@pytest.fixture
def clean_workdir(studio):
    """The shared studio's work folder, emptied of files after the test."""
    yield studio.workdir
    for p in studio.workdir.iterdir():
        if p.is_file() or p.is_symlink():
            p.unlink()


def error_of(body: bytes) -> str:
    """The one-line error of a JSON reply (never a traceback)."""
    msg = json.loads(body)["error"]
    assert "\n" not in msg and "Traceback" not in msg
    return msg
