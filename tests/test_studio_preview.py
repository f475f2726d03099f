"""The timeline's preview through the studio's HTTP API on a real server and a tiny checkpoint:
every k-th planned frame streamed as drawn (equal to G.synthesis of the CLI-planned ws), the order
and step the page plays, and what stops it: a newer preview, a scrub (a frame request), a closed
connection; the same guard as every endpoint (token)."""

from __future__ import annotations

import base64
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from studio_helpers import (cli_planned_frame, error_of, post_on_socket, read_until, request,  # noqa: E402
                            studio, tiny_checkpoint)  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VALUES = {"keys": ["3", "7", "21"], "style": "fine", "frames": 6}
LONG = {**VALUES, "frames": 300, "loop": True}        # 900 frames: still drawing when the test stops it


def events(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.decode().splitlines()]


def pixels(event: dict, plan: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(event["rgb"]), np.uint8).reshape(plan["height"], plan["width"], 3)


def open_preview(studio, body: dict):
    sock = post_on_socket(studio, "/api/preview", json.dumps(body).encode(), "application/json")
    read_until(sock, b'"state": "frame"')                # the first frame has come: it is drawing
    return sock


def read_to_end(sock) -> bytes:
    seen = b""
    while chunk := sock.recv(65536):
        seen += chunk
    return seen


def wait_until(condition, what: str) -> None:
    """Wait (at most a minute) for the server to reach a state; not a timing assertion."""
    done = threading.Event()
    for _ in range(6000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(what)


def test_the_preview_needs_the_token(studio):
    assert request(studio, "POST", "/api/preview", {"values": VALUES}, token=False)[0] == 403
    assert request(studio, "POST", "/api/preview", {"values": VALUES}, token="wrong")[0] == 403
    status, _, _ = request(studio, "POST", "/api/preview", {"values": VALUES},
                           headers={"Origin": "http://evil.example"})
    assert status == 403


def test_the_preview_streams_every_kth_planned_frame_as_the_cli_plans_it(studio, tiny_checkpoint, tmp_path):
    status, headers, body = request(studio, "POST", "/api/preview", {"values": VALUES, "start": 1, "fps": 10})
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    got = events(body)
    plan, frames, last = got[0], got[1:-1], got[-1]
    assert plan["state"] == "plan" and last == {"state": "done"}
    assert plan["k"] == 3 and plan["num_frames"] == 13 and plan["fps"] == 30.0 and plan["preview_fps"] == 10.0
    assert plan["order"] == [1, 4, 7, 10, 12]                   # by k from the start; the clip's end shown
    assert [f["index"] for f in frames] == plan["order"]
    assert (plan["width"], plan["height"]) == (64, 64)           # under 256 px: native
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, ["--seeds", "3,7,21", "--style", "fine", "--frames", "6"],
                             7, tmp_path)
    assert np.array_equal(pixels(frames[2], plan), want)
    assert not np.array_equal(pixels(frames[1], plan), want)


def test_a_looping_preview_goes_once_round_the_clip(studio):
    _, _, body = request(studio, "POST", "/api/preview", {"values": {**VALUES, "loop": True}, "start": 14, "fps": 6})
    plan = events(body)[0]
    assert plan["k"] == 5 and plan["loop"] is True and plan["num_frames"] == 18
    assert plan["order"] == [14, 1, 6, 11]


def test_auto_keeps_the_preview_under_its_frame_rate_cap(studio):
    from interpolate.studio.preview import MAX_PREVIEW_FPS

    _, _, body = request(studio, "POST", "/api/preview", {"values": VALUES, "fps": "auto"})
    plan = events(body)[0]
    assert plan["preview_fps"] <= MAX_PREVIEW_FPS and plan["k"] >= 3


def test_bad_preview_requests_are_one_line_errors(studio):
    for body, words in [({"values": {**VALUES, "style": "sideways"}}, "style"), ({"values": VALUES, "fps": 0}, "fps"),
                        ({"values": VALUES, "fps": "fast"}, "fps"), ({"values": VALUES, "start": "x"}, "start")]:
        status, _, reply = request(studio, "POST", "/api/preview", body)
        assert status == 400 and words in error_of(reply), body


def test_a_scrub_supersedes_the_preview(studio):
    previews = studio.app.previews
    sock = open_preview(studio, {"values": LONG, "fps": 1000})       # k = 1: 900 frames to draw
    status, _, _ = request(studio, "POST", "/api/frame", {"values": VALUES, "frame": 2})
    assert status == 200
    read_until(sock, b'{"state": "superseded"}')                    # the stream says so and ends
    sock.close()
    wait_until(lambda: previews.running == 0, "the superseded preview did not end")
    assert previews.current is None and previews.drawn < 900


def test_a_newer_preview_supersedes_the_one_playing(studio):
    previews = studio.app.previews
    sock = open_preview(studio, {"values": LONG, "fps": 1000})
    status, _, body = request(studio, "POST", "/api/preview", {"values": VALUES, "fps": 10})
    assert status == 200 and events(body)[-1] == {"state": "done"}   # the newer one runs to its end
    read_until(sock, b'{"state": "superseded"}')
    sock.close()
    wait_until(lambda: previews.running == 0, "the older preview did not end")


def test_a_closed_connection_stops_the_preview(studio):
    previews = studio.app.previews
    sock = open_preview(studio, {"values": LONG, "fps": 1000})
    sock.close()                                                    # the tab is closed
    wait_until(lambda: previews.running == previews.busy == 0, "the preview went on drawing for a closed tab")
    drawn = previews.drawn
    assert request(studio, "GET", "/api/info")[0] == 200
    assert previews.drawn == drawn < 900 and previews.current is None


def test_a_model_larger_than_256_px_is_previewed_at_256_by_the_renderers_resize(tmp_path):
    """A 512 px model: preview frames are 256 px, the frame the page scrubs to shrunk as `render --size` does."""
    import torch

    from interpolate.formats.native import save_native
    from interpolate.networks import build
    from interpolate.render.frames import Geometry
    from interpolate.studio.server import Studio
    from studio_helpers import decode_png

    kwargs = dict(z_dim=16, w_dim=16, img_resolution=512, img_channels=3, mapping_kwargs={"num_layers": 2},
                  channel_base=2048, channel_max=4)
    torch.manual_seed(0)
    ckpt = save_native(tmp_path / "big.pt", build("stylegan2", **kwargs), init_kwargs=kwargs)
    big = Studio.start(str(ckpt), workdir=tmp_path / "work", port=0, device="cpu")
    try:
        values = {"keys": ["3", "7"], "frames": 4}
        status, _, body = request(big, "POST", "/api/preview", {"values": values, "start": 2, "fps": 1000})
        assert status == 200
        got = events(body)
        plan = got[0]
        assert (plan["width"], plan["height"]) == (256, 256) and plan["order"] == [2, 3, 4]
        full = decode_png(request(big, "POST", "/api/frame", {"values": values, "frame": 2})[2])
        assert full.shape == (512, 512, 3)
        assert np.array_equal(pixels(got[1], plan), Geometry(512, 512, 256, 256).apply(full))
    finally:
        big.stop()
