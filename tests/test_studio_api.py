"""`waifu-morph studio`'s HTTP API on a real server (uvicorn on 127.0.0.1) and a tiny checkpoint:
security (token, Host, cross-origin writes, the work folder), frames equal to the CLI's plan, the
latest-wins frame slot, one render at a time, a dropped connection cancels its render and leaves
nothing, recipes and commands the CLI accepts."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from studio_helpers import (clean_workdir, cli, cli_command, error_of, cli_planned_frame, decode_png, hidden_files, post_on_socket, read_until,  # noqa: E402
                            request,
                            studio, tiny_checkpoint, video_frames)  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VALUES = {"keys": ["3", "7", "21"], "style": "fine", "frames": 6}


# --- who may talk to it ------------------------------------------------------------------------------
def test_requests_without_the_token_are_403(studio):
    for path in ("/", "/api/info", "/static/studio.js", f"/api/seed/3.png"):
        status, _, body = request(studio, "GET", path, token=False)
        assert status == 403, path
        assert b"token" in body
    assert request(studio, "GET", "/api/info", token="not-the-token")[0] == 403
    assert request(studio, "POST", "/api/plan", {"values": VALUES}, token=False)[0] == 403
    # the URL the studio prints carries it, and the page it serves has it for its own requests
    status, _, page = request(studio, "GET", f"/?token={studio.token}", token=False)
    assert status == 200 and studio.token.encode() in page
    assert request(studio, "GET", "/api/info")[0] == 200


def test_a_foreign_host_header_is_refused_even_with_the_token(studio):
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends Host: evil.example."""
    for host in ("evil.example", f"evil.example:{studio.port}", f"127.0.0.1:{studio.port + 1}",
                 f"127.0.0.1.evil.example:{studio.port}", ""):
        status, _, body = request(studio, "GET", "/api/info", host=host)
        assert status == 403, host
        assert b"Host" in body
    assert request(studio, "GET", "/api/info", host=f"localhost:{studio.port}")[0] == 200


def test_cross_origin_writes_are_refused(studio):
    plan = lambda **kw: request(studio, "POST", "/api/plan", {"values": VALUES}, **kw)[0]  # noqa: E731
    assert plan(headers={"Origin": "http://evil.example"}) == 403
    assert plan(headers={"Origin": "null"}) == 403
    assert plan(headers={"Sec-Fetch-Site": "cross-site"}) == 403
    assert plan(headers={"Origin": f"http://127.0.0.1:{studio.port}", "Sec-Fetch-Site": "same-origin"}) == 200
    # a write must carry the token in its header (a cross-site form can put it in the URL, not there)
    status, _, _ = request(studio, "POST", f"/api/plan?token={studio.token}", {"values": VALUES}, token=False)
    assert status == 403
    # and a form post (not JSON) is no request the API takes
    status, _, body = request(studio, "POST", "/api/plan", raw=b"values=1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "JSON" in error_of(body)


def test_replies_forbid_outside_scripts_and_referrers(studio):
    _, headers, _ = request(studio, "GET", f"/?token={studio.token}")
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "http" not in csp
    assert headers["referrer-policy"] == "no-referrer"


# --- the work folder ---------------------------------------------------------------------------------
TRAVERSALS = ["../outside.npy", "sub/../../outside.npy", "/etc/passwd", "..\\outside.npy", "C:\\outside.npy",
              "~/outside.npy", "link.npy"]


@pytest.fixture
def outside(studio, clean_workdir, tmp_path):
    """A W file outside the work folder and a symlink to it inside."""
    target = tmp_path / "outside.npy"
    np.save(target, np.zeros((10, 16), np.float32))
    for suffix in (".npy", ".toml", ".mp4"):
        if suffix != ".npy":
            (tmp_path / f"outside{suffix}").write_text("keep me")
        (studio.workdir / f"link{suffix}").symlink_to(tmp_path / f"outside{suffix}")
    (studio.workdir / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    yield target
    (studio.workdir / "linkdir").unlink()


@pytest.mark.parametrize("name", TRAVERSALS + ["linkdir/outside.npy"])
def test_no_name_from_the_page_leaves_the_work_folder(studio, outside, name):
    from urllib.parse import quote

    before = sorted(os.listdir(outside.parent))
    status, _, body = request(studio, "GET", f"/api/file?name={quote(name)}")
    assert status == 400 and b"NUMPY" not in body and b"root:" not in body
    status, _, body = request(studio, "POST", f"/api/upload?name={quote(name)}&overwrite=1", raw=outside.read_bytes(),
                              headers={"Content-Type": "application/octet-stream"})
    assert status == 400, body
    status, _, body = request(studio, "POST", "/api/plan", {"values": {**VALUES, "keys": ["3", "w:" + name]}})
    assert status == 400, body
    stem = name[:-4]
    status, _, _ = request(studio, "POST", "/api/recipe", {"values": VALUES, "name": stem})
    assert status == 400
    status, _, _ = request(studio, "POST", "/api/render", {"values": VALUES, "output": stem, "overwrite": True})
    assert status == 400
    assert sorted(os.listdir(outside.parent)) == before
    assert np.load(outside).shape == (10, 16)                    # untouched
    assert (outside.parent / "outside.toml").read_text() == (outside.parent / "outside.mp4").read_text() == "keep me"
    listed = json.loads(request(studio, "GET", "/api/files")[2])
    assert "link.npy" not in [f["name"] for f in listed["w"]]


def test_uploads_are_limited_checked_and_become_keys(studio, clean_workdir, monkeypatch):
    import interpolate.studio.app as app_module

    w = np.random.RandomState(0).randn(10, 16).astype(np.float32)
    import io

    buf = io.BytesIO()
    np.save(buf, w)
    data = buf.getvalue()
    monkeypatch.setattr(app_module, "MAX_UPLOAD", len(data) - 1)
    status, _, body = request(studio, "POST", "/api/upload?name=w.npy", raw=data,
                              headers={"Content-Type": "application/octet-stream"})
    assert status == 413 and "limited" in error_of(body)
    assert not (studio.workdir / "w.npy").exists() and not hidden_files(studio.workdir)
    monkeypatch.setattr(app_module, "MAX_UPLOAD", len(data))
    status, _, body = request(studio, "POST", "/api/upload?name=w.npy", raw=data,
                              headers={"Content-Type": "application/octet-stream"})
    assert status == 200, body
    status, _, body = request(studio, "POST", "/api/upload?name=bad.npy", raw=b"not numpy",
                              headers={"Content-Type": "application/octet-stream"})
    assert status == 400 and "W file" in error_of(body)
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["w.npy"]
    status, _, body = request(studio, "POST", "/api/plan", {"values": {**VALUES, "keys": ["3", "w:w.npy"]}})
    assert status == 200 and json.loads(body)["key_labels"] == ["3", "w.npy"]


# --- frames ------------------------------------------------------------------------------------------
def test_a_frame_is_the_generators_image_of_the_cli_planned_ws(studio, tiny_checkpoint, tmp_path):
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": VALUES})[2])
    assert plan["num_frames"] == 13 and plan["key_frames"] == [0, 6, 12]
    mid = plan["num_frames"] // 2 + 1
    status, headers, png = request(studio, "POST", "/api/frame", {"values": VALUES, "frame": mid})
    assert status == 200 and headers["content-type"] == "image/png"
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, ["--seeds", "3,7,21", "--style", "fine", "--frames", "6"],
                             mid, tmp_path)
    got = decode_png(png)
    assert got.shape == want.shape == (64, 64, 3)
    assert np.array_equal(got, want)
    other = decode_png(request(studio, "POST", "/api/frame", {"values": VALUES, "frame": 1})[2])
    assert not np.array_equal(other, got)                      # it really is that frame


def test_bad_values_are_one_line_errors(studio):
    for values, words in [({**VALUES, "style": "sideways"}, "style"), ({**VALUES, "keys": ["3"]}, "two keyframes"),
                          ({**VALUES, "seconds": "slow"}, "seconds"), ({**VALUES, "keys": ["3", "x.png"]}, "key")]:
        status, _, body = request(studio, "POST", "/api/plan", {"values": values})
        assert status == 400 and words in error_of(body), values
    status, _, body = request(studio, "POST", "/api/frame", {"values": VALUES, "frame": 999})
    assert status == 400 and "outside the clip" in error_of(body)


def test_newer_frame_requests_supersede_waiting_ones(studio, monkeypatch):
    """While a frame is drawn, the newest request waits; the ones it replaces are answered 204 at once."""
    engine = studio.engine
    gate, entered = threading.Event(), threading.Event()
    real = engine.frame_png

    def slow(values, index):
        if index == 1:
            entered.set()
            assert gate.wait(60)
        return real(values, index)

    monkeypatch.setattr(engine, "frame_png", slow)
    slot = studio.app.frames
    answers: dict[int, int] = {}

    def ask(i):
        answers[i] = request(studio, "POST", "/api/frame", {"values": VALUES, "frame": i})[0]

    def wait_until(condition):
        done = threading.Event()
        while not condition():
            assert not done.wait(0.01) and len(threads) < 10

    threads = [threading.Thread(target=ask, args=(1,))]
    threads[0].start()
    assert entered.wait(60)                         # frame 1 is being drawn
    threads.append(threading.Thread(target=ask, args=(2,)))
    threads[-1].start()
    wait_until(lambda: slot.waiting)                # frame 2 waits
    for i in (3, 4):                                # the drag goes on: each replaces the one waiting
        before = slot.superseded
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        wait_until(lambda: slot.superseded > before)
    threads[1].join(60)
    threads[2].join(60)
    assert answers == {2: 204, 3: 204}              # answered at once, never drawn: no queue builds up
    gate.set()
    for t in threads:
        t.join(60)
    assert answers == {1: 200, 2: 204, 3: 204, 4: 200}


# --- renders -----------------------------------------------------------------------------------------
def start_render(studio, body: dict):
    """POST /api/render on a raw socket (so the test can drop the connection as a closed tab does)."""
    return post_on_socket(studio, "/api/render", json.dumps(body).encode(), "application/json")


LONG = {**VALUES, "frames": 400}


def test_a_dropped_connection_cancels_its_render_and_leaves_nothing(studio, clean_workdir):
    sock = start_render(studio, {"values": LONG, "output": "long", "format": "mp4"})
    read_until(sock, b'"progress", "done": ')       # frames are being written
    sock.close()                                    # the tab is closed
    for thread, _ in list(studio.app.renders.jobs):
        thread.join(120)
    assert not list(studio.workdir.iterdir())       # no output, no sidecar, no hidden temp file


def test_one_render_at_a_time_the_next_waits_its_turn(studio, clean_workdir):
    first = start_render(studio, {"values": LONG, "output": "first", "format": "mp4"})
    read_until(first, b'"started"')
    second = start_render(studio, {"values": VALUES, "output": "second", "format": "gif"})
    assert b'"queued", "ahead": 1' in read_until(second, b'"queued"')
    first.close()                                   # cancelling the first lets the second run
    done = read_until(second, b'"state": "done"')
    second.close()
    for thread, _ in list(studio.app.renders.jobs):
        thread.join(120)
    assert b'"output": "second.gif"' in done
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["second.gif", "second.gif.json"]
    assert video_frames(studio.workdir / "second.gif") == 13


def test_render_writes_the_planned_clip_and_refuses_to_clobber(studio, clean_workdir):
    body = {"values": VALUES, "output": "clip", "format": "mp4"}
    status, _, lines = request(studio, "POST", "/api/render", body)
    events = [json.loads(x) for x in lines.decode().splitlines()]
    assert status == 200 and events[-1]["state"] == "done" and events[-1]["frames"] == 13
    assert any(e["state"] == "progress" and e.get("fps", 0) > 0 for e in events)
    assert video_frames(studio.workdir / "clip.mp4") == 13
    status, _, body_ = request(studio, "POST", "/api/render", body)
    assert status == 400 and "exists" in error_of(body_)
    status, headers, data = request(studio, "GET", "/api/file?name=clip.mp4")
    assert status == 200 and data == (studio.workdir / "clip.mp4").read_bytes()


def test_recipe_and_command_are_accepted_by_the_cli(studio, clean_workdir, tmp_path):
    status, _, body = request(studio, "POST", "/api/recipe", {"values": VALUES, "name": "mine", "output": "clip"})
    assert status == 200, body
    recipe = studio.workdir / "mine.toml"
    out = tmp_path / "from-recipe.mp4"
    assert cli("render", "--preset", recipe, "-o", out, "-q") == 0
    assert video_frames(out) == 13
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": VALUES, "output": "cmd", "format": "gif"})[2])
    assert plan["command"].startswith("waifu-morph render ") and "--style fine" in plan["command"]
    assert cli_command(plan["command"] + " -q") == 0
    assert video_frames(studio.workdir / "cmd.gif") == 13


def test_a_reel_recipe_is_accepted_by_waifu_morph_reel(studio, clean_workdir, tmp_path):
    import tomllib

    values = {**VALUES, "loop": True, "psi": 0.8, "easing": "sine", "interp": "linear"}
    status, _, body = request(studio, "POST", "/api/recipe", {"values": values, "name": "tour", "output": "tour",
                                                              "kind": "reel"})
    assert status == 200, body
    reply = json.loads(body)
    assert reply["kind"] == "reel" and reply["command"] == f"waifu-morph reel {studio.workdir / 'tour.toml'}"
    assert any(n.startswith("loop:") for n in reply["notes"])
    data = tomllib.loads((studio.workdir / "tour.toml").read_text())
    assert data["reel"]["psi"] == 0.8 and data["reel"]["output"] == str(studio.workdir / "tour.mp4")
    assert data["segment"] == [{"keys": ["3", "7", "21", "3"], "frames": 6, "style": "fine", "interp": "linear",
                                "easing": "sine"}]
    out = tmp_path / "reel.mp4"
    assert cli("reel", studio.workdir / "tour.toml", "-o", out, "-q") == 0
    assert video_frames(out) == 3 * 6 + 1                   # three transitions, back to the first key
    assert cli_command(reply["command"] + " -q") == 0        # the command it names, unchanged
    assert (studio.workdir / "tour.mp4").is_file()
    status, _, body = request(studio, "POST", "/api/recipe", {"values": values, "name": "x", "kind": "album"})
    assert status == 400 and "kind" in error_of(body)


def test_a_hold_per_key_plans_records_and_copies_as_the_cli_does(studio, clean_workdir, tiny_checkpoint, tmp_path):
    held = {**VALUES, "hold": [0, 0.2, 0]}                       # 30 fps: key 7 shown on 7 frames
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": held, "output": "held", "format": "gif"})[2])
    assert plan["num_frames"] == 13 + 6 and "--hold 0.0,0.2,0.0" in plan["command"]
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, ["--seeds", "3,7,21", "--style", "fine", "--frames", "6",
                                                                "--hold", "0,0.2,0"], 9, tmp_path)
    assert np.array_equal(decode_png(request(studio, "POST", "/api/frame", {"values": held, "frame": 9})[2]), want)
    assert cli_command(plan["command"] + " -q") == 0
    assert video_frames(studio.workdir / "held.gif") == 19
    request(studio, "POST", "/api/recipe", {"values": held, "name": "held", "output": "p"})
    assert cli("render", "--preset", studio.workdir / "held.toml", "-o", tmp_path / "p.mp4", "-q") == 0
    assert video_frames(tmp_path / "p.mp4") == 19
    status, _, body = request(studio, "POST", "/api/recipe", {"values": held, "name": "held-reel", "kind": "reel"})
    assert status == 200, body
    assert cli("reel", studio.workdir / "held-reel.toml", "-o", tmp_path / "r.mp4", "-q") == 0
    assert video_frames(tmp_path / "r.mp4") == 19
    status, _, body = request(studio, "POST", "/api/plan", {"values": {**VALUES, "hold": [0, 1]}})
    assert status == 400 and "hold" in error_of(body)


def test_seeds_and_the_mixing_figure(studio):
    from interpolate.render.stills import render_seeds

    status, _, png = request(studio, "GET", "/api/seed/5.png?psi=0.5")
    ((_, want),) = list(render_seeds(studio.engine.G, [5], 0.5))
    assert status == 200 and np.array_equal(decode_png(png), want)
    status, _, png = request(studio, "POST", "/api/mix", {"seeds": [3, 7], "style": "coarse"})
    assert status == 200 and decode_png(png).shape == (3 * 64, 3 * 64, 3)


# --- the command -------------------------------------------------------------------------------------
def test_studio_help_and_a_busy_port(studio, tiny_checkpoint, capfd):
    assert cli("studio", "--help") == 0
    out = capfd.readouterr().out
    assert "waifu-morph[studio]" in out and "--workdir" in out and "--no-browser" in out
    code = cli("studio", tiny_checkpoint, "--port", studio.port, "--no-browser", "--workdir", studio.workdir)
    err = capfd.readouterr().err
    assert code == 2 and f"port {studio.port} is in use" in err and "Traceback" not in err


def test_studio_command_warns_for_a_public_host_and_prints_the_url(tiny_checkpoint, tmp_path, monkeypatch, capfd):
    from interpolate.studio import server as server_module

    served = []
    monkeypatch.setattr(server_module.Studio, "serve", lambda self: served.append(self))
    assert cli("studio", tiny_checkpoint, "--port", 0, "--no-browser", "--workdir", tmp_path / "w") == 0
    err = capfd.readouterr().err
    assert "warning" not in err and f"http://127.0.0.1:{served[0].port}/?token={served[0].token}" in err
    assert (tmp_path / "w").is_dir()
    assert cli("studio", tiny_checkpoint, "--host", "0.0.0.0", "--port", 0, "--no-browser", "--workdir", tmp_path) == 0
    err = " ".join(capfd.readouterr().err.split())
    assert "warning: --host 0.0.0.0" in err and "reachable from other machines" in err
    assert served[1].token != served[0].token                  # a new token every start


def test_bound_to_all_interfaces_it_answers_ip_addresses_but_not_names(tiny_checkpoint, tmp_path):
    from interpolate.studio.server import Studio

    studio = Studio.start(tiny_checkpoint, workdir=tmp_path, host="0.0.0.0", port=0, device="cpu")
    try:
        assert request(studio, "GET", "/api/info", host=f"192.168.1.20:{studio.port}")[0] == 200
        assert request(studio, "GET", "/api/info", host=f"nas.local:{studio.port}")[0] == 403
        assert request(studio, "GET", "/api/info", host=f"192.168.1.20:{studio.port}", token=False)[0] == 403
    finally:
        studio.stop()


def test_a_slow_mixing_figure_never_holds_up_the_frame_under_the_pointer(studio, monkeypatch):
    engine = studio.engine
    gate, entered = threading.Event(), threading.Event()
    real = engine.mix_png

    def slow(*args):
        entered.set()
        assert gate.wait(60)
        return real(*args)

    monkeypatch.setattr(engine, "mix_png", slow)
    answers = {}
    figure = threading.Thread(target=lambda: answers.update(
        mix=request(studio, "POST", "/api/mix", {"seeds": [3, 7], "style": "fine"})[0]))
    figure.start()
    try:
        assert entered.wait(60)                     # the figure is being drawn ...
        status, _, _ = request(studio, "POST", "/api/frame", {"values": VALUES, "frame": 2})
        assert status == 200 and figure.is_alive()  # ... and the frame came anyway
    finally:
        gate.set()
        figure.join(60)
    assert answers["mix"] == 200
