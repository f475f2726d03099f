"""Studio latency: from a scrub on the timeline to the new frame on screen, in headless Chromium.

    python bench/bench_studio.py                          # the shipped model and a random 256 px StyleGAN2
    python bench/bench_studio.py --models shipped --steps 200
    python bench/bench_studio.py --models shipped --screenshot docs/studio.png

A scripted drag moves the mouse across the timeline at 60 Hz (one pointer event per 16 ms); each input
event asks the server for that frame (the latest-wins slot drops the ones a newer one replaced). The
page timestamps the input event and the moment its frame is decoded and painted (next animation
frame), so a latency is what a user sees: request, planning (cached), synthesis, raw RGB bytes,
transfer, canvas. The medians after p95 split it: "server" the time the server spent (waiting for the
frame before it included), "reply" until the response headers arrived, "body" until its bytes were
read, "drawn" until they were on the canvas (the rest, to "median", is the wait for the next paint).
"seek" clicks on the timeline one place at a time, each after the last is shown (no contention).
Then ▶ plays the preview (fps auto) for --play-seconds: k (every k-th frame), the preview's frame rate
and size, the time from the press to its first frame, how many it showed, how many came later than
one preview frame after they were due, and how often playback waited for a frame.

Needs the studio extra, Playwright for Python and a system Chromium (never downloaded).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interpolate.studio.server import Studio  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-extensions", "--mute-audio"]
SEEDS = (3, 7, 21)


def random_checkpoint(folder: Path, px: int, channel_base: int) -> str:
    """A random-weight StyleGAN2 of `px` pixels saved in the native format (as bench_render --random)."""
    from interpolate.formats.native import save_native
    from interpolate.networks import build

    kwargs = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=px, img_channels=3, channel_base=channel_base,
                  channel_max=512)
    torch.manual_seed(0)
    return str(save_native(folder / f"random-{px}.pt", build("stylegan2", **kwargs), init_kwargs=kwargs))


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def open_page(browser, studio, style: str = "fine"):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    page.goto(studio.url)
    page.wait_for_function("window.studio && window.studio.ready", timeout=600000)
    for seed in SEEDS:
        page.click(f'.seed[data-seed="{seed}"]')
    page.select_option("select[name=style]", style)
    page.wait_for_function("window.studio.plan && window.studio.planValues.keys.length === 3 && "
                           f"window.studio.planValues.style === '{style}' && window.studio.shown", timeout=600000)
    # measure on a quiet page: the seed thumbnails and the mixing figure done
    page.wait_for_timeout(1000)        # past the page's debounce, so the last figure has been asked for
    page.wait_for_function("Array.from(document.querySelectorAll('#seed-grid img')).every(i => i.complete) && "
                           "window.studio.mixSeq > 0 && window.studio.mixShown === window.studio.mixSeq",
                           timeout=600000)
    return page


def drag(page, steps: int) -> dict:
    """Drag the timeline thumb from start to end in `steps` pointer moves, 16 ms apart."""
    page.evaluate("window.studio.latencies = []; window.studio.superseded = 0; window.studio.inputs = 0")
    box = page.locator("#timeline").bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + 4, box["x"] + box["width"] - 4
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * i / steps, y)
        page.wait_for_timeout(16)
    page.mouse.up()
    page.wait_for_function("window.studio.shown.seq === window.studio.seq", timeout=120000)   # the last one is shown
    return page.evaluate("({lat: window.studio.latencies, superseded: window.studio.superseded, asked: window.studio.inputs})")


def seek(page, count: int) -> dict:
    """Click `count` places of the timeline one after another, each once the previous frame is on screen."""
    page.evaluate("window.studio.latencies = []")
    box = page.locator("#timeline").bounding_box()
    y = box["y"] + box["height"] / 2
    for i in range(count):
        before = page.evaluate("window.studio.seq")
        page.mouse.click(box["x"] + 4 + (box["width"] - 8) * ((i * 0.37 + 0.05) % 1.0), y)
        page.wait_for_function(f"window.studio.seq > {before} && window.studio.shown.seq === window.studio.seq",
                               timeout=120000)
    return page.evaluate("({lat: window.studio.latencies, superseded: 0, asked: %d})" % count)


PLAY_HEAD = ["| model | k | preview fps | size | first frame ms | frames shown | late > 1 preview frame | waits |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]


def play_preview(page, seconds: float) -> dict:
    """Press play at frame 0 (preview fps auto), let it run, pause; the page's log of what it showed when."""
    page.evaluate("document.getElementById('timeline').value = 0; window.studio.frame = 0; "
                  "document.getElementById('preview-fps').value = 'auto'; window.playT0 = performance.now(); play()")
    page.wait_for_timeout(seconds * 1000)
    return page.evaluate("""() => { const r = window.studio.preview; if (window.studio.playing) play();
        return {t0: window.playT0, log: r.log, k: r.k, fps: r.previewFps, w: r.width, h: r.height, stalls: r.stalls}; }""")


def preview_row(model: str, run: dict) -> str:
    log = run["log"]
    if not log:
        return f"| {model} | - | - | - | - | 0 | - | - |"
    late = sum(1 for e in log if e["at"] - e["due"] > 1000 / run["fps"])
    return (f"| {model} | {run['k']} | {run['fps']:.1f} | {run['w']}x{run['h']} | {log[0]['at'] - run['t0']:.0f} | "
            f"{len(log)} | {late} | {run['stalls']} |")


def row(model: str, mode: str, result: dict) -> str:
    ms = [x["ms"] for x in result["lat"]]
    if not ms:
        return f"| {model} | {mode} | 0 | - | - | - | - | - | - |"
    med = {k: statistics.median(x[k] for x in result["lat"]) for k in ("server_ms", "response_ms", "body_ms", "put_ms")}
    return (f"| {model} | {mode} | {len(ms)} of {result['asked']} | {statistics.median(ms):.0f} | "
            f"{percentile(ms, 0.95):.0f} | {med['server_ms']:.0f} | {med['response_ms']:.0f} | {med['body_ms']:.0f} | "
            f"{med['put_ms']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="shipped,random256", help="comma list: shipped, randomPX (e.g. random256)")
    ap.add_argument("--steps", type=int, default=120, help="pointer moves of the drag")
    ap.add_argument("--seeks", type=int, default=30, help="isolated jumps")
    ap.add_argument("--channel-base", type=int, default=16384, help="of the random StyleGAN2 (official: 32768)")
    ap.add_argument("--play-seconds", type=float, default=6.0, help="how long to play the preview")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--chromium", default=os.environ.get("WAIFU_MORPH_CHROMIUM") or shutil.which("chromium")
                    or "/usr/bin/chromium")
    ap.add_argument("--screenshot", default=None, help="also save a PNG of the page (shipped model) here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from playwright.sync_api import sync_playwright

    lines = ["| model | scrub | frames shown / timeline inputs | median ms | p95 ms | server | reply | body | drawn |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    plays: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        for model in args.models.split(","):
            if model == "shipped":
                ckpt, name = None, "chibi-64 (shipped)"
            else:
                px = int(model.removeprefix("random"))
                ckpt, name = random_checkpoint(Path(tmp), px, args.channel_base), f"random StyleGAN2 {px} px"
            studio = Studio.start(ckpt, workdir=Path(tmp) / f"work-{model}", port=0, device="cpu")
            try:
                page = open_page(browser, studio)
                page.wait_for_timeout(500)
                lines.append(row(name, f"drag ({args.steps} moves, 60 Hz)", drag(page, args.steps)))
                lines.append(row(name, "seek (one at a time)", seek(page, args.seeks)))
                print(lines[-2], lines[-1], sep="\n", flush=True)
                plays.append(preview_row(name, play_preview(page, args.play_seconds)))
                print(plays[-1], flush=True)
                if args.screenshot and model == "shipped":
                    shoot(page, args.screenshot)
                page.context.close()
            finally:
                studio.stop()
        browser.close()
    from interpolate.openmp import usable_cores

    print(f"\n{usable_cores()} usable cores; the studio draws page frames on {max(1, usable_cores() - 1)} torch "
          f"thread(s) (engine.page_threads); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(lines))
    print("\nPreview (▶, fps auto), played for %g s from frame 0:\n" % args.play_seconds)
    print("\n".join(PLAY_HEAD + plays))


def shoot(page, path: str) -> None:
    """The page mid-morph with the mixing figure drawn, and (PATH-render.png) the render panel after a
    render, as the README shows them; saved with a 256-colour palette to stay small."""
    page.click("#dir-sefa")                              # a direction slider in use, as users have them
    page.wait_for_function("window.studio.directions && document.querySelector('#dir-rows .dir-row .dir-index') && "
                           "document.querySelector('#dir-rows .dir-row .dir-index').options.length > 1", timeout=120000)
    page.select_option("#dir-rows .dir-row .dir-index", "1")
    page.fill("#dir-rows .dir-row .dir-strength", "1.5")
    page.dispatch_event("#dir-rows .dir-row .dir-strength", "input")
    page.wait_for_function("window.studio.planValues.direction", timeout=120000)
    page.wait_for_timeout(600)
    n = page.evaluate("window.studio.plan.num_frames")
    page.evaluate(f"document.getElementById('timeline').value = {n // 3}; "
                  f"document.getElementById('timeline').dispatchEvent(new Event('input'))")
    page.wait_for_function(f"window.studio.shown.index === {n // 3} && window.studio.shown.values.direction && "
                           f"document.getElementById('mix').src", timeout=120000)
    page.wait_for_timeout(800)
    page.screenshot(path=path, full_page=True)
    page.fill("#render-form input[name=output]", "fine-3-7-21")
    page.click("#render")
    page.wait_for_function("window.studio.lastRender && window.studio.lastRender.state === 'done'", timeout=120000)
    page.wait_for_timeout(800)
    render_path = str(Path(path).with_name(Path(path).stem + "-render.png"))
    page.locator("#controls").screenshot(path=render_path)
    for p in (path, render_path):
        from PIL import Image

        Image.open(p).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(p, optimize=True)
        print(f"wrote {p} ({os.path.getsize(p) // 1024} KB)")


if __name__ == "__main__":
    main()
