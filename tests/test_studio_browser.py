"""The studio page in a real browser: Debian's headless Chromium driven by Playwright for Python.

Picks three seeds, sets style fine, scrubs to the middle and checks the pixels shown are G.synthesis
of that frame's ws as `waifu-morph render` plans it; renders an MP4 (decoded: the right frame
count); saves a recipe that `render --preset` accepts; a closed tab cancels its render and leaves
no file. Skips, saying why, where Playwright or the browser is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright; "
                                                  "the browser comes from the system: apt-get install chromium)")

sys.path.insert(0, str(Path(__file__).parent))
from studio_helpers import cli, cli_command, cli_planned_frame, hidden_files, request, studio, tiny_checkpoint, video_frames  # noqa: E402,F401

CHROMIUM = os.environ.get("WAIFU_MORPH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.isfile(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set WAIFU_MORPH_CHROMIUM)",
                allow_module_level=True)

# never a download, an update check or a sync: the browser only talks to the studio
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions", "--mute-audio"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
SEEDS = (3, 7, 21)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, studio):
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's own CSP forbids
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    pg = context.new_page()
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url))
    pg.goto(studio.url)
    pg.wait_for_function("window.studio && window.studio.ready")
    yield pg
    context.close()
    # no CDN, no fonts, no telemetry: the page only ever talks to the studio that served it
    origin = f"http://127.0.0.1:{studio.port}/"
    assert asked and all(u.startswith((origin, "data:", "blob:")) for u in asked), \
        [u for u in asked if not u.startswith(origin)]


def build_morph(pg, seconds="0.5", fps="10"):
    for seed in SEEDS:
        pg.click(f'.seed[data-seed="{seed}"]')
    pg.select_option('select[name=style]', "fine")
    pg.fill('input[name=seconds]', seconds)
    pg.fill('input[name=fps]', fps)
    pg.dispatch_event('#path-form', "change")
    pg.wait_for_function(f"window.studio.plan && window.studio.planValues.style === 'fine' && "
                         f"window.studio.planValues.seconds === {seconds} && window.studio.planValues.keys.length === 3")
    return pg.evaluate("window.studio.plan")


def shown_pixels(pg) -> np.ndarray:
    """The RGB pixels of the frame on screen, read back from the page's own canvas."""
    data = pg.evaluate("""() => {
        const c = document.getElementById('frame');
        return {w: c.width, h: c.height, px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)};
    }""")
    return np.array(data["px"], np.uint8).reshape(data["h"], data["w"], 4)[:, :, :3]


def test_scrub_shows_the_cli_planned_frame_then_render_and_save_a_recipe(page, studio, tiny_checkpoint, tmp_path):
    pg = page
    plan = build_morph(pg)
    assert plan["num_frames"] == 11 and plan["key_labels"] == [str(s) for s in SEEDS]
    mid = plan["num_frames"] // 2 + 1                      # between keys, so the path really moves
    pg.fill("#timeline", str(mid))
    pg.dispatch_event("#timeline", "input")
    pg.wait_for_function(f"window.studio.shown && window.studio.shown.index === {mid} && "
                         f"window.studio.shown.values.style === 'fine'")
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint,
                             ["--seeds", ",".join(map(str, SEEDS)), "--style", "fine", "--seconds", "0.5", "--fps", "10"],
                             mid, tmp_path)
    got = shown_pixels(pg)
    assert got.shape == want.shape == (64, 64, 3)
    assert np.array_equal(got, want)
    assert pg.text_content("#frame-text") == f"{mid} / {plan['num_frames'] - 1}"

    # render an MP4 through the page
    pg.fill('#render-form input[name=output]', "browser")
    pg.click("#render")
    pg.wait_for_function("window.studio.lastRender && window.studio.lastRender.state !== undefined")
    last = pg.evaluate("window.studio.lastRender")
    assert last["state"] == "done", last
    out = studio.workdir / "browser.mp4"
    assert video_frames(out) == plan["num_frames"]
    pg.wait_for_selector("#result video")

    # the equivalent command, and a recipe the CLI accepts unchanged
    assert "--style fine" in pg.input_value("#command") and "--seeds 3,7,21" in pg.input_value("#command")
    pg.fill("#recipe-name", "browser-recipe")
    pg.click("#save-recipe")
    pg.wait_for_function("window.studio.lastRecipe")
    recipe = studio.workdir / "browser-recipe.toml"
    again = tmp_path / "again.mp4"
    assert cli("render", "--preset", recipe, "-o", again, "-q") == 0
    assert video_frames(again) == plan["num_frames"]
    assert pg.evaluate("window.studio.errors") == []


def test_a_closed_tab_cancels_its_render_and_leaves_no_file(page, studio):
    pg = page
    build_morph(pg, seconds="60", fps="30")                 # 3600 frames: still rendering when the tab closes
    pg.fill('#render-form input[name=output]', "closed-tab")
    pg.click("#render")
    pg.wait_for_function("document.getElementById('render-text').textContent.includes('frames/s')")
    pg.close()
    jobs = list(studio.app.renders.jobs)
    assert jobs
    for thread, cancelled in jobs:
        thread.join(120)
        assert cancelled.is_set() and not thread.is_alive()
    names = [p.name for p in studio.workdir.iterdir()]
    assert not [n for n in names if n.startswith("closed-tab")] and not hidden_files(studio.workdir)


def test_a_preset_fills_in_the_controls(page):
    pg = page
    pg.select_option("#preset", "discord-gif")
    assert pg.input_value("#render-form select[name=format]") == "gif"
    assert pg.input_value("#render-form input[name=size]") == "512x512"
    assert pg.evaluate("window.studio.presetOutput") == {"fit": "pad", "max_size": "10MB", "gif_quality": "normal"}
    assert "max_size 10MB" in pg.text_content("#preset-extra")
    pg.select_option("#preset", "color-cycle")
    assert pg.input_value("select[name=style]") == "fine" and pg.is_checked("#loop")


def set_slider(pg, row: int, *, index: str | None = None, strength: str | None = None, mode: str | None = None):
    """Set one direction slider row of the page (its direction, mode and strength), as a user does."""
    sel = f'#dir-rows .dir-row[data-index="{row}"]'
    pg.wait_for_selector(sel)
    if index is not None:
        pg.wait_for_function(f"document.querySelector('{sel} .dir-index').options.length > {index}")
        pg.select_option(f"{sel} .dir-index", index)
    if mode is not None:
        pg.select_option(f"{sel} .dir-mode", mode)
    if strength is not None:
        pg.fill(f"{sel} .dir-strength", strength)
        pg.dispatch_event(f"{sel} .dir-strength", "input")


def scrub_to(pg, index: int, check: str) -> None:
    pg.fill("#timeline", str(index))
    pg.dispatch_event("#timeline", "input")
    pg.wait_for_function(f"window.studio.shown && window.studio.shown.index === {index} && "
                         f"!window.studio.shown.preview && {check}")


def test_the_direction_slider_moves_the_frame_as_render_direction_does(page, studio, tiny_checkpoint, tmp_path):
    pg = page
    build_morph(pg)
    pg.select_option("#dir-style", "coarse")
    pg.click("#dir-sefa")
    pg.wait_for_function("window.studio.directions && window.studio.directions.name === 'sefa-coarse.npz'")
    set_slider(pg, 0, index="1", mode="walk", strength="2")
    pg.wait_for_function("window.studio.planValues && window.studio.planValues.direction === 'sefa-coarse.npz:1' && "
                         "window.studio.planValues.strength === '-2:2'")
    mid = 6
    scrub_to(pg, mid, "window.studio.shown.values.strength === '-2:2'")
    dirs = studio.workdir / "sefa-coarse.npz"
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint,
                             ["--seeds", ",".join(map(str, SEEDS)), "--style", "fine", "--seconds", "0.5", "--fps", "10",
                              "--direction", f"{dirs}:1", "--strength", "-2:2"], mid, tmp_path)
    assert np.array_equal(shown_pixels(pg), want)
    pg.fill('#render-form input[name=output]', "walk-cmd")
    pg.dispatch_event('#render-form', "change")
    pg.wait_for_function("document.getElementById('command').value.includes('walk-cmd')")
    command = pg.input_value("#command")
    assert "--direction" in command and "--strength -2:2" in command
    assert cli_command(command + " -q") == 0                 # the copied line, as the CLI takes it
    assert video_frames(studio.workdir / "walk-cmd.mp4") == 11
    pg.fill("#recipe-name", "walk-recipe")
    pg.click("#save-recipe")
    pg.wait_for_function("window.studio.lastRecipe")
    recipe = studio.workdir / "walk-recipe.toml"
    assert "sefa-coarse.npz:1" in recipe.read_text()
    assert cli("render", "--preset", recipe, "-o", tmp_path / "walk.mp4", "-q") == 0
    # the same page saved as a reel, which `waifu-morph reel` takes unchanged (a reel walks no direction)
    pg.select_option("#recipe-kind", "reel")
    pg.fill("#recipe-name", "walk-reel")
    pg.evaluate("window.studio.lastRecipe = null")
    pg.click("#save-recipe")
    pg.wait_for_function("window.studio.lastRecipe")
    assert pg.evaluate("window.studio.lastRecipe.notes").count("direction: left out (a reel walks no direction)") == 1
    assert cli("reel", studio.workdir / "walk-reel.toml", "-o", tmp_path / "reel.mp4", "-q") == 0
    assert video_frames(tmp_path / "reel.mp4") == 11
    assert pg.evaluate("window.studio.errors") == []


def test_several_direction_sliders_and_a_hold_per_key_as_the_cli_plans_them(page, studio, tiny_checkpoint, tmp_path):
    pg = page
    build_morph(pg)
    for style in ("coarse", "fine"):
        pg.select_option("#dir-style", style)
        pg.click("#dir-sefa")
        pg.wait_for_function(f"window.studio.directions && window.studio.directions.name === 'sefa-{style}.npz'")
        set_slider(pg, 0 if style == "coarse" else 1, index="1" if style == "coarse" else "0",
                   mode="walk" if style == "coarse" else "offset", strength="2" if style == "coarse" else "1.5")
    pg.fill('#keys li:nth-child(2) .key-hold', "0.5")
    pg.dispatch_event('#keys li:nth-child(2) .key-hold', "input")
    pg.wait_for_function("window.studio.planValues && Array.isArray(window.studio.planValues.direction) && "
                         "window.studio.planValues.strength[1] === '1.5:1.5' && Array.isArray(window.studio.planValues.hold)")
    assert pg.evaluate("window.studio.planValues.hold") == [0, 0.5, 0]
    mid = 7
    scrub_to(pg, mid, "Array.isArray(window.studio.shown.values.direction)")
    coarse, fine = studio.workdir / "sefa-coarse.npz", studio.workdir / "sefa-fine.npz"
    flags = ["--seeds", ",".join(map(str, SEEDS)), "--style", "fine", "--seconds", "0.5", "--fps", "10",
             "--direction", f"{coarse}:1", "--strength", "-2:2", "--direction", f"{fine}:0", "--strength", "1.5:1.5",
             "--hold", "0,0.5,0"]
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint, flags, mid, tmp_path)
    assert np.array_equal(shown_pixels(pg), want)
    frames = pg.evaluate("window.studio.plan.num_frames")
    pg.fill('#render-form input[name=output]', "two-cmd")
    pg.dispatch_event('#render-form', "change")
    pg.wait_for_function("document.getElementById('command').value.includes('two-cmd')")
    command = pg.input_value("#command")
    assert command.count("--direction ") == 2 and command.count("--strength ") == 2 and "--hold " in command
    assert cli_command(command + " -q") == 0
    assert video_frames(studio.workdir / "two-cmd.mp4") == frames
    pg.fill("#recipe-name", "two-recipe")
    pg.click("#save-recipe")
    pg.wait_for_function("window.studio.lastRecipe")
    assert cli("render", "--preset", studio.workdir / "two-recipe.toml", "-o", tmp_path / "two.mp4", "-q") == 0
    assert video_frames(tmp_path / "two.mp4") == frames
    assert pg.evaluate("window.studio.errors") == []


def test_a_dropped_image_is_projected_and_becomes_a_key(page, studio, tmp_path):
    pg = page
    image = tmp_path / "dropped.png"
    image.write_bytes(studio.engine.seed_png(5, 1.0, None))
    pg.fill("#project-steps", "5")
    pg.set_input_files("#upload", str(image))
    pg.wait_for_function("window.studio.lastProjection")
    last = pg.evaluate("window.studio.lastProjection")
    assert last["state"] == "done" and last["output"] == "dropped.npz", last
    assert (studio.workdir / "dropped.npz").is_file()
    assert pg.text_content("#project-text").startswith("dropped.npz: PSNR ")
    assert pg.evaluate("window.studio.keys.map(k => k.token)")[-1] == "w:dropped.npz"
    assert pg.evaluate("window.studio.errors") == []


def test_play_shows_the_planned_frames_at_the_paths_pace_and_a_scrub_stops_it(page, studio, tiny_checkpoint,
                                                                                 tmp_path):
    pg = page
    plan = build_morph(pg, seconds="0.5", fps="20")          # 21 frames at 20 fps
    assert plan["num_frames"] == 21
    pg.select_option("#preview-fps", "6")                     # every 3rd frame
    pg.click("#play")
    pg.wait_for_function("window.studio.preview && window.studio.preview.log.length >= 3")
    # what is on the canvas and which frame the page says it is, read in one go (no frame in between)
    shown = pg.evaluate("""() => {
        const c = document.getElementById('frame');
        return {index: window.studio.shown.index, preview: window.studio.shown.preview, w: c.width, h: c.height,
                px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)};
    }""")
    assert shown["preview"] is True and shown["index"] % 3 == 0 and shown["index"] > 0
    got = np.array(shown["px"], np.uint8).reshape(shown["h"], shown["w"], 4)[:, :, :3]
    want = cli_planned_frame(studio.engine.G, tiny_checkpoint,
                             ["--seeds", ",".join(map(str, SEEDS)), "--style", "fine", "--seconds", "0.5", "--fps", "20"],
                             shown["index"], tmp_path)
    assert np.array_equal(got, want)
    # the clip plays to its end (no loop) and stops there; no frame was shown before it was due
    pg.wait_for_function("!window.studio.playing")
    run = pg.evaluate("({order: window.studio.preview.order, k: window.studio.preview.k, log: window.studio.preview.log})")
    assert run["k"] == 3 and run["order"] == [0, 3, 6, 9, 12, 15, 18, 20]
    assert [e["index"] for e in run["log"]] == run["order"]
    assert all(e["at"] >= e["due"] for e in run["log"])
    assert all(b["due"] - a["due"] >= (b["index"] - a["index"]) * 50 - 1 for a, b in zip(run["log"], run["log"][1:]))
    assert pg.input_value("#timeline") == "20"

    # loop on: it plays round and round; a scrub supersedes it (the page aborts, the server stops)
    pg.check("#loop")
    pg.dispatch_event("#loop", "change")
    pg.wait_for_function("window.studio.planValues.loop === true")
    pg.click("#play")
    pg.wait_for_function("window.studio.preview && window.studio.preview.done && "
                         "window.studio.preview.log.length > window.studio.preview.order.length")   # looped
    pg.fill("#timeline", "4")
    pg.dispatch_event("#timeline", "input")
    pg.wait_for_function("window.studio.shown && window.studio.shown.index === 4 && !window.studio.shown.preview")
    assert pg.evaluate("window.studio.preview === null && !window.studio.playing")
    previews = studio.app.previews
    assert previews.current is None
    assert pg.evaluate("window.studio.errors") == []


def test_a_preview_superseded_elsewhere_stops_playing_instead_of_waiting_forever(page, studio):
    pg = page
    build_morph(pg, seconds="20", fps="30")                 # 1201 frames: far from drawn when it is superseded
    pg.select_option("#preview-fps", "1000")                 # every frame (k from the cap on preview frames)
    pg.click("#play")
    pg.wait_for_function("window.studio.preview && window.studio.preview.log.length >= 2")
    # another tab scrubs: the server supersedes this page's preview
    assert request(studio, "POST", "/api/frame", {"values": {"keys": ["3", "7"]}, "frame": 1})[0] == 200
    pg.wait_for_function("!window.studio.playing")
    assert pg.evaluate("window.studio.preview.superseded") is True
    assert "stopped" in pg.text_content("#preview-text")
    assert studio.app.previews.current is None
