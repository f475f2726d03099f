"""The studio's direction slider and image drop, through its HTTP API on a real server and a tiny
checkpoint: SeFa directions computed into the work folder, frames equal to `render --direction
--strength` as the CLI plans them, recipes and commands that carry the direction, projection of a
dropped image into a W key (progress, one job at a time, cancelled by a closed connection), and the
same guards as every other endpoint (token, work folder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from studio_helpers import (clean_workdir, cli, cli_command, error_of, cli_planned_frame, decode_png, hidden_files, post_on_socket, read_until,  # noqa: E402
                            request,
                            studio, tiny_checkpoint, video_frames)  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WALK = {"keys": ["3", "7"], "frames": 6, "direction": "sefa-coarse.npz:1", "strength": "-2:2"}
PNG = {"Content-Type": "application/octet-stream"}


def sefa_file(studio, style="coarse") -> dict:
    status, _, body = request(studio, "POST", "/api/directions", {"style": style})
    assert status == 200, body
    return json.loads(body)


# --- directions --------------------------------------------------------------------------------------
def test_sefa_is_computed_into_the_work_folder_and_listed_apart_from_w_files(studio, clean_workdir):
    from interpolate.directions import load_directions, sefa

    info = sefa_file(studio)
    assert info["name"] == "sefa-coarse.npz" and info["count"] == 16
    assert info["layers"] == studio.engine.info()["groups"]["coarse"]
    assert abs(sum(info["share"]) - 1) < 1e-3 and info["share"] == sorted(info["share"], reverse=True)
    saved = load_directions(studio.workdir / "sefa-coarse.npz")        # the public API's own result
    want = sefa(studio.engine.G, "coarse", count=16)
    assert np.array_equal(saved.vectors, want.vectors)
    files = json.loads(request(studio, "GET", "/api/files")[2])
    assert [f["name"] for f in files["directions"]] == ["sefa-coarse.npz"] and files["w"] == []
    got = json.loads(request(studio, "GET", "/api/directions?name=sefa-coarse.npz")[2])
    assert got == info
    status, _, body = request(studio, "POST", "/api/directions", {"style": "sideways"})
    assert status == 400 and "style group" in error_of(body)


def test_a_direction_frame_is_the_generators_image_of_the_cli_planned_ws(studio, clean_workdir, tiny_checkpoint,
                                                                         tmp_path):
    sefa_file(studio)
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": WALK})[2])
    assert plan["num_frames"] == 7
    dirs = str(studio.workdir / "sefa-coarse.npz")
    flags = ["--seeds", "3,7", "--frames", "6", "--direction", f"{dirs}:1", "--strength", "-2:2"]
    for frame in (1, 5):
        png = request(studio, "POST", "/api/frame", {"values": WALK, "frame": frame})[2]
        want = cli_planned_frame(studio.engine.G, tiny_checkpoint, flags, frame, tmp_path)
        assert np.array_equal(decode_png(png), want)
        plain = {k: v for k, v in WALK.items() if k not in ("direction", "strength")}
        without = decode_png(request(studio, "POST", "/api/frame", {"values": plain, "frame": frame})[2])
        assert not np.array_equal(without, want)                   # the direction really moved it
    # one key walked, as `render --seeds 3 --direction ... --strength -2:2`
    one = {**WALK, "keys": ["3"]}
    assert json.loads(request(studio, "POST", "/api/plan", {"values": one})[2])["num_frames"] == 7
    png = request(studio, "POST", "/api/frame", {"values": one, "frame": 6})[2]
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, ["--seeds", "3", *flags[2:]], 6, tmp_path)
    assert np.array_equal(decode_png(png), want)


def test_recipe_and_command_carry_the_direction_and_the_cli_accepts_them(studio, clean_workdir, tmp_path):
    sefa_file(studio)
    status, _, body = request(studio, "POST", "/api/recipe", {"values": WALK, "name": "walk", "output": "clip"})
    assert status == 200, body
    text = json.loads(body)["text"]
    assert "sefa-coarse.npz:1" in text and "-2:2" in text
    out = tmp_path / "from-recipe.mp4"
    latents = tmp_path / "recipe.npz"
    assert cli("render", "--preset", studio.workdir / "walk.toml", "-o", out, "--save-latents", latents, "-q") == 0
    assert video_frames(out) == 7
    with np.load(latents) as data:
        from_recipe = np.array(data["ws"])
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": WALK, "output": "cmd", "format": "gif"})[2])
    assert "--direction" in plan["command"] and "--strength -2:2" in plan["command"]
    cmd_latents = tmp_path / "cmd.npz"
    assert cli_command(plan["command"] + f" -q --save-latents {cmd_latents}") == 0
    assert video_frames(studio.workdir / "cmd.gif") == 7
    with np.load(cmd_latents) as data:
        assert np.array_equal(np.array(data["ws"]), from_recipe)


def test_several_directions_at_once_plan_and_copy_as_the_cli_does(studio, clean_workdir, tiny_checkpoint, tmp_path):
    sefa_file(studio, "coarse")
    sefa_file(studio, "fine")
    both = {**WALK, "direction": ["sefa-coarse.npz:1", "sefa-fine.npz:0"], "strength": ["-2:2", "1.5:1.5"]}
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": both, "output": "both", "format": "gif"})[2])
    coarse, fine = studio.workdir / "sefa-coarse.npz", studio.workdir / "sefa-fine.npz"
    assert f"--direction {coarse}:1 --strength -2:2 --direction {fine}:0 --strength 1.5:1.5" in plan["command"]
    flags = ["--seeds", "3,7", "--frames", "6", "--direction", f"{coarse}:1", "--strength", "-2:2",
             "--direction", f"{fine}:0", "--strength", "1.5:1.5"]
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, flags, 4, tmp_path)
    got = decode_png(request(studio, "POST", "/api/frame", {"values": both, "frame": 4})[2])
    assert np.array_equal(got, want)
    one = decode_png(request(studio, "POST", "/api/frame", {"values": WALK, "frame": 4})[2])
    assert not np.array_equal(got, one)                         # the second direction does move it
    cmd_latents = tmp_path / "cmd.npz"
    assert cli_command(plan["command"] + f" -q --save-latents {cmd_latents}") == 0
    request(studio, "POST", "/api/recipe", {"values": both, "name": "both", "output": "p"})
    assert "sefa-fine.npz:0" in (studio.workdir / "both.toml").read_text()
    rec_latents = tmp_path / "rec.npz"
    assert cli("render", "--preset", studio.workdir / "both.toml", "-o", tmp_path / "p.mp4", "--save-latents",
               rec_latents, "-q") == 0
    with np.load(cmd_latents) as a, np.load(rec_latents) as b:
        assert np.array_equal(np.array(a["ws"]), np.array(b["ws"]))
    status, _, body = request(studio, "POST", "/api/plan", {"values": {**both, "strength": ["1:1"]}})
    assert status == 400 and "strength" in error_of(body)


def test_direction_endpoints_refuse_no_token_and_names_outside_the_work_folder(studio, clean_workdir, tmp_path):
    from interpolate.directions import sefa

    sefa(studio.engine.G, "fine").save(tmp_path / "outside.npz")
    (studio.workdir / "link.npz").symlink_to(tmp_path / "outside.npz")
    assert request(studio, "GET", "/api/directions?name=link.npz", token=False)[0] == 403
    assert request(studio, "POST", "/api/directions", {"style": "all"}, token=False)[0] == 403
    assert request(studio, "POST", "/api/directions", {"style": "all"},
                   headers={"Origin": "http://evil.example"})[0] == 403
    for name in ["../outside.npz", "/etc/passwd.npz", str(tmp_path / "outside.npz"), "link.npz", "..\\outside.npz"]:
        status, _, body = request(studio, "GET", f"/api/directions?name={quote(name)}")
        assert status == 400, name
        status, _, body = request(studio, "POST", "/api/directions", {"style": "all", "name": name, "overwrite": True})
        assert status == 400, name
        status, _, body = request(studio, "POST", "/api/plan", {"values": {**WALK, "direction": f"{name}:0"}})
        assert status == 400, name
        error_of(body)
        several = {**WALK, "direction": ["sefa-coarse.npz:0", f"{name}:0"], "strength": ["1:1", "1:1"]}
        status, _, body = request(studio, "POST", "/api/plan", {"values": several})
        assert status == 400 and "work folder" in error_of(body), name    # every name of a list is confined
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("outside")] == ["outside.npz"]
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["link.npz"]


# --- dropping an image to project it ----------------------------------------------------------------
def seed_png(studio, seed=5) -> bytes:
    return studio.engine.seed_png(seed, 1.0, None)


def events_of(lines: bytes) -> list[dict]:
    return [json.loads(x) for x in lines.decode().splitlines()]


def test_a_dropped_image_is_projected_into_a_w_key(studio, clean_workdir):
    status, _, lines = request(studio, "POST", "/api/project?name=me.png&steps=5", raw=seed_png(studio), headers=PNG)
    assert status == 200
    events = events_of(lines)
    assert events[-1]["state"] == "done", events[-1]
    progress = [e for e in events if e["state"] == "progress"]
    assert [e["done"] for e in progress] == [1, 2, 3, 4, 5] and all(e["total"] == 5 for e in progress)
    assert all(np.isfinite(e["psnr"]) and e["psnr"] > 0 for e in progress)
    assert events[-1]["output"] == "me.npz" and events[-1]["steps"] == 5
    with np.load(studio.workdir / "me.npz") as data:
        assert data["w"].shape == (1, studio.engine.G.num_ws, studio.engine.G.w_dim)
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["me.npz"]
    files = json.loads(request(studio, "GET", "/api/files")[2])
    assert [f["name"] for f in files["w"]] == ["me.npz"]
    plan = json.loads(request(studio, "POST", "/api/plan", {"values": {"keys": ["3", "w:me.npz"], "frames": 4}})[2])
    assert plan["key_labels"] == ["3", "me.npz"]
    # the same name again is refused before any work; a file that is no image is one line, nothing kept
    status, _, body = request(studio, "POST", "/api/project?name=me.png&steps=5", raw=seed_png(studio), headers=PNG)
    assert status == 400 and "exists" in error_of(body)
    status, _, lines = request(studio, "POST", "/api/project?name=junk.png&steps=5", raw=b"not an image", headers=PNG)
    last = events_of(lines)[-1]
    assert last["state"] == "error" and "\n" not in last["error"] and "junk.png" in last["error"]
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["me.npz"]


def test_project_refuses_no_token_big_uploads_and_names_outside_the_work_folder(studio, clean_workdir, monkeypatch):
    import interpolate.studio.app as app_module

    data = seed_png(studio)
    assert request(studio, "POST", "/api/project?name=me.png&steps=5", raw=data, headers=PNG, token=False)[0] == 403
    assert request(studio, "POST", f"/api/project?name=me.png&steps=5&token={studio.token}", raw=data, headers=PNG,
                   token=False)[0] == 403
    for query in ["name=../me.png", "name=/tmp/me.png", "name=me.png&output=../me.npz", "name=me.png&output=/tmp/x.npz",
                  "name=me.png&output=me.npy", "name=me.txt", "name=me.png&steps=0", "name=me.png&space=z"]:
        status, _, body = request(studio, "POST", f"/api/project?{query}", raw=data, headers=PNG)
        assert status == 400, query
        error_of(body)
    monkeypatch.setattr(app_module, "MAX_UPLOAD", len(data) - 1)
    status, _, body = request(studio, "POST", "/api/project?name=me.png&steps=5", raw=data, headers=PNG)
    assert status == 413 and "limited" in error_of(body)
    assert not list(studio.workdir.iterdir())


def start_project(studio, query: str, data: bytes):
    return post_on_socket(studio, f"/api/project?{query}", data, "application/octet-stream")


def test_projections_queue_with_renders_and_a_closed_tab_cancels_them(studio, clean_workdir):
    data = seed_png(studio)
    first = start_project(studio, "name=long.png&steps=5000", data)
    read_until(first, b'"progress"')                                  # steps are running
    second = start_project(studio, "name=short.png&steps=3", data)
    assert b'"queued", "ahead": 1' in read_until(second, b'"queued"')  # one job at a time
    first.close()                                                     # the tab is closed: it stops
    done = read_until(second, b'"state": "done"')
    second.close()
    for thread, _ in list(studio.app.renders.jobs):
        thread.join(120)
    assert b'"output": "short.npz"' in done
    assert sorted(p.name for p in studio.workdir.iterdir()) == ["short.npz"]   # nothing of the cancelled one
    assert not hidden_files(studio.workdir)


def test_a_directions_file_rewritten_on_disk_is_read_again(studio, clean_workdir):
    from interpolate.directions import sefa

    sefa_file(studio)
    before = request(studio, "POST", "/api/frame", {"values": WALK, "frame": 6})[2]
    sefa(studio.engine.G, "fine").save(studio.workdir / "sefa-coarse.npz")     # e.g. `waifu-morph directions -y`
    after = request(studio, "POST", "/api/frame", {"values": WALK, "frame": 6})[2]
    assert not np.array_equal(decode_png(before), decode_png(after))
