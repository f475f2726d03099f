// waifu-morph studio: play a low-resolution preview on the timeline. The server draws every k-th planned
// frame (at most 256 px on the short side) and streams each as soon as it is drawn (POST /api/preview);
// the page keeps them and plays them at the path's own pace (frame i is due i / fps seconds after the
// first), waiting when a frame is not there yet (never skipping), looping when the path loops. A
// scrub, a step or a settings change supersedes the preview (its stream is aborted, so the server
// stops drawing it). Loaded after studio.js, whose helpers ($, api, readEvents, say, putFrame, rgbImage,
// showFrame, studio) it uses; studio.js calls play, stopPreview and previewFits.
"use strict";

studio.playing = false;
studio.preview = null;             // {key, values, order, frames: Map index -> ImageData, k, fps, loop, done, log}

function previewKey(v) { return JSON.stringify(v) + "|" + $("preview-fps").value; }

// is the preview there (playing or kept) still the one of these values?
function previewFits(v) { return !!studio.preview && studio.preview.key === previewKey(v); }

function stopPreview() {
  pausePlayback();
  const run = studio.preview;
  studio.preview = null;
  if (run && !run.ended) run.ctrl.abort();
  $("preview-text").textContent = "";
}

function startPreview(start) {
  const values = studio.planValues;
  const run = { key: previewKey(values), values, order: null, frames: new Map(), done: false, ended: false,
                ctrl: new AbortController(), log: [], pos: 0, due: null, stalls: 0, start };
  studio.preview = run;
  $("preview-text").textContent = "drawing the preview…";
  api("/api/preview", { values, start, fps: $("preview-fps").value }, { signal: run.ctrl.signal })
    .then((res) => readEvents(res, (ev) => previewEvent(run, ev)))
    .catch((e) => { if (e.name !== "AbortError" && studio.preview === run) { say(e.message, true); stopPreview(); } })
    .finally(() => { run.ended = true; });
  return run;
}

function previewEvent(run, ev) {
  if (studio.preview !== run) return;
  if (ev.state === "plan") {
    Object.assign(run, { order: ev.order, k: ev.k, fps: ev.fps, loop: ev.loop, numFrames: ev.num_frames,
                         width: ev.width, height: ev.height, previewFps: ev.preview_fps });
  } else if (ev.state === "frame") {
    const text = atob(ev.rgb);
    const rgb = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) rgb[i] = text.charCodeAt(i);
    run.frames.set(ev.index, rgbImage(rgb, run.width, run.height));
  } else if (ev.state === "done") run.done = true;
  else if (ev.state === "superseded") run.superseded = true;
  else if (ev.state === "error") { say(ev.error, true); stopPreview(); return; }
  if (run.order) {
    $("preview-text").textContent = `preview: every ${run.k === 1 ? "" : ordinal(run.k) + " "}frame · ` +
      `${run.previewFps.toFixed(1)} fps · ${run.width}×${run.height} · ${run.frames.size} / ${run.order.length} drawn`;
  }
}
function ordinal(k) { return k + (k % 10 === 2 && k % 100 !== 12 ? "nd" : k % 10 === 3 && k % 100 !== 13 ? "rd" : k % 10 === 1 && k % 100 !== 11 ? "st" : "th"); }

// the play button (and the space bar): play the preview from the frame on the timeline, or pause it
function play() {
  if (studio.playing) { pausePlayback(); return; }
  if (!studio.plan) return;
  const last = studio.plan.num_frames - 1;
  let run = studio.preview;
  const from = !studio.planValues.loop && studio.frame >= last ? 0 : studio.frame;   // at the end: from the start
  if (!previewFits(studio.planValues) || run.superseded || (run.ended && !run.done) ||
      (run.order && !run.order.includes(from)) || (!run.order && run.start !== from)) {
    stopPreview();
    run = startPreview(from);
  }
  run.pos = run.order ? run.order.indexOf(from) : 0;
  run.due = null;
  studio.playing = true;
  $("play").textContent = "⏸";
  requestAnimationFrame(tick);
}

function pausePlayback() {
  if (!studio.playing) return;
  studio.playing = false;
  $("play").textContent = "▶";
  const run = studio.preview;
  // a preview smaller than the model: the frame it stopped on is drawn again at full size
  if (run && run.width !== studio.info.width && studio.plan) showFrame(studio.frame, performance.now());
}

// one animation frame of playback: show the next preview frame once it is due and drawn
function tick(now) {
  if (!studio.playing) return;
  const run = studio.preview;
  if (!run) { pausePlayback(); return; }
  if (run.order) {
    const index = run.order[run.pos];
    const image = run.frames.get(index);
    if (run.due === null) run.due = now;
    if (!image && (run.superseded || (run.ended && !run.done))) {   // it will never come (another tab's scrub)
      pausePlayback();
      $("preview-text").textContent = "preview stopped: press ▶ to draw it again";
      return;
    }
    if (!image && now >= run.due) run.waiting = true;             // not drawn yet: wait for it, skip nothing
    if (image && now >= run.due) {
      putFrame(image);
      studio.frame = index;
      $("timeline").value = index;
      $("frame-text").textContent = `${index} / ${studio.plan.num_frames - 1}`;
      $("caption").textContent = "";
      studio.shown = { index, seq: studio.seq, values: run.values, preview: true };
      run.log.push({ index, due: run.due, at: now });
      if (run.waiting) run.stalls++;
      let next = run.pos + 1;
      if (next >= run.order.length) {
        if (!run.loop) { pausePlayback(); return; }
        next = 0;
      }
      const gap = ((run.order[next] - index + run.numFrames) % run.numFrames) || run.k;
      // on time: the next is due `gap` frames after this one was due; late (it waited): after now
      const base = run.waiting || now - run.due > 500 / run.fps ? now : run.due;
      run.due = base + (gap * 1000) / run.fps;
      run.pos = next;
      run.waiting = false;
    }
  }
  requestAnimationFrame(tick);
}

document.addEventListener("DOMContentLoaded", () => {
  $("preview-fps").onchange = () => { if (studio.preview) { const was = studio.playing; stopPreview(); if (was) play(); } };
});
