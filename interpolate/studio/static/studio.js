// waifu-morph studio: the page. Plain JS, no build step, no outside requests: it only talks to the
// server that served it, with the per-start token from the URL.
"use strict";

const TOKEN = document.querySelector('meta[name="studio-token"]').content;
const $ = (id) => document.getElementById(id);
const PAGE = 24;                       // seeds per grid page

const studio = {                        // the page's state (tests and the benchmark read it)
  info: null, keys: [], plan: null, frame: 0, seq: 0, shownSeq: 0, shown: null,
  latencies: [], inputs: 0, mixSeq: 0, mixShown: 0, superseded: 0, rendering: null, presetOutput: {}, lastRender: null, ready: false, errors: [],
};
window.studio = studio;

// --- talking to the server -------------------------------------------------------------------------
function withToken(url) { return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN); }

async function api(path, body, opts = {}) {
  const init = { method: body === undefined ? "GET" : "POST", headers: { "X-Studio-Token": TOKEN }, ...opts };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

// a job's reply is one JSON event per line (queued, progress, done, ...), streamed as it runs
async function readEvents(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const ev = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      onEvent(ev);
    }
  }
}

function say(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
  if (error) studio.errors.push(text);
}

// --- the values the server plans from (the names of `render --help`) ---------------------------------
function values() {
  const form = $("path-form");
  const v = { keys: studio.keys.map((k) => k.token), loop: $("loop").checked, hold: holds() };
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "number") {
      if (el.value !== "") v[el.name] = Number(el.value);
    } else if (el.value !== "") v[el.name] = el.value;
  }
  if (studio.classIdx !== undefined) v.class_idx = studio.classIdx;
  if (window.directionValues) Object.assign(v, window.directionValues());   // latents.js: the direction
  return v;
}
// one hold for every key, or (when a key has its own) one per key in key order, as `--hold 0,1.5,0`
function holds() {
  const every = num($("hold").value, 0);
  if (!studio.keys.some((k) => k.hold !== null && k.hold !== undefined)) return every;
  return studio.keys.map((k) => (k.hold === null || k.hold === undefined ? every : k.hold));
}
function num(text, fallback) { const n = Number(text); return text === "" || !isFinite(n) ? fallback : n; }
function renderForm() {
  const f = $("render-form").elements;
  return { format: f.format.value, size: f.size.value.trim(), output: f.output.value.trim() || "studio",
           overwrite: f.overwrite.checked };
}
function renderValues() {
  const v = { ...values(), ...studio.presetOutput };
  const r = renderForm();
  if (r.size) v.size = r.size;
  return v;
}

// --- setting up the controls from /api/info --------------------------------------------------------
function fillSelect(select, options, value) {
  select.innerHTML = "";
  for (const o of options) select.add(new Option(o, o, false, o === value));
}

async function setup() {
  const info = await (await api("/api/info")).json();
  studio.info = info;
  $("model").textContent = `${info.checkpoint} · ${info.arch} ${info.width}×${info.height} · ${info.num_ws} ws ` +
    `(coarse ${info.groups.coarse.length}, middle ${info.groups.middle.length}, fine ${info.groups.fine.length}) · ` +
    `work folder ${info.workdir.split("/").pop() || info.workdir}`;
  $("model").title = `work folder: ${info.workdir}`;
  const form = $("path-form").elements;
  for (const name of ["style", "interp", "easing", "pace", "noise", "space"]) {
    fillSelect(form[name], info.choices[name], info.defaults[name]);
  }
  for (const name of ["stagger", "seconds", "fps", "noise_seed"]) form[name].value = info.defaults[name];
  $("hold").value = info.defaults.hold;
  $("loop").checked = info.defaults.loop;
  fillSelect($("render-form").elements.format, info.choices.format, "mp4");
  const psi = info.default_psi;
  $("grid-psi").value = psi; $("grid-psi-text").textContent = psi;
  if (info.c_dim) {
    $("class-row").hidden = false;
    fillSelect($("grid-class"), [...Array(info.c_dim).keys()].map(String), "0");
    studio.classIdx = 0;
    $("grid-class").onchange = () => { studio.classIdx = Number($("grid-class").value); drawSeeds(); replan(); };
  }
  const presets = await (await api("/api/presets")).json();
  studio.presets = presets;
  for (const p of presets) $("preset").add(new Option(`${p.name}: ${p.description}`, p.name));
  drawSeeds();
  listFiles();
  wire();
  studio.ready = true;
  say("ready: click seeds to add keys, then drag the timeline");
}

// --- the seed grid ---------------------------------------------------------------------------------
function seedURL(seed) {
  let url = `/api/seed/${seed}.png?psi=${encodeURIComponent($("grid-psi").value)}`;
  if (studio.classIdx !== undefined) url += `&class_idx=${studio.classIdx}`;
  return withToken(url);
}

function drawSeeds() {
  const start = Math.max(0, Math.floor(num($("seed-start").value, 0)));
  const grid = $("seed-grid");
  grid.innerHTML = "";
  for (let s = start; s < start + PAGE; s++) {
    const cell = document.createElement("div");
    cell.className = "seed";
    cell.dataset.seed = s;
    cell.title = `seed ${s}: click to add it as a key`;
    cell.innerHTML = `<img loading="lazy" alt="seed ${s}" src="${seedURL(s)}"><span>${s}</span>`;
    cell.onclick = () => addKey({ token: String(s), label: String(s), seed: s });
    grid.append(cell);
  }
}

// --- W files of the work folder and uploads -------------------------------------------------------
async function listFiles() {
  const files = await (await api("/api/files")).json();
  if (window.onFiles) window.onFiles(files);                                  // latents.js: directions files
  const box = $("w-files");
  box.innerHTML = "";
  box.classList.toggle("dim", files.w.length === 0);
  if (!files.w.length) box.textContent = "none yet";
  for (const f of files.w) {
    const b = document.createElement("button");
    b.textContent = `+ ${f.name}`;
    b.title = "add this W file as a key";
    b.onclick = () => addKey({ token: "w:" + f.name, label: f.name, seed: null });
    box.append(b);
  }
}

async function upload(file) {
  if (!/\.(npy|npz)$/i.test(file.name) && window.projectImage) return window.projectImage(file);   // latents.js
  if (file.size > studio.info.max_upload) { say(`${file.name} is larger than the upload limit`, true); return; }
  try {
    const res = await fetch(withToken(`/api/upload?name=${encodeURIComponent(file.name)}`), {
      method: "POST", headers: { "X-Studio-Token": TOKEN, "Content-Type": "application/octet-stream" }, body: file });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error);
    say(`added ${data.name} (${data.rows} w) to the work folder`);
    listFiles();
  } catch (e) { say(e.message, true); }
}

// --- the key strip ---------------------------------------------------------------------------------
function addKey(key) { studio.keys.push(key); drawKeys(); replan(); }

function drawKeys() {
  const list = $("keys");
  list.innerHTML = "";
  studio.keys.forEach((k, i) => {
    const li = document.createElement("li");
    li.draggable = true;
    li.dataset.index = i;
    li.innerHTML = (k.seed !== null ? `<img alt="" src="${seedURL(k.seed)}">` : `<div class="w">W</div>`) +
      `<span title="${k.label}">${k.label}</span><button title="remove">×</button>` +
      `<input class="key-hold" type="number" min="0" step="0.25" placeholder="hold" ` +
      `title="seconds to hold on this key (empty: the hold for every key)">`;
    const hold = li.querySelector(".key-hold");
    hold.value = k.hold ?? "";
    hold.onmousedown = (e) => e.stopPropagation();
    hold.oninput = () => { k.hold = hold.value === "" ? null : Number(hold.value); replan(); };
    li.querySelector("button").onclick = (e) => { e.stopPropagation(); studio.keys.splice(i, 1); drawKeys(); replan(); };
    li.ondragstart = (e) => { e.dataTransfer.setData("text/plain", String(i)); };
    li.ondragover = (e) => { e.preventDefault(); li.classList.add("over"); };
    li.ondragleave = () => li.classList.remove("over");
    li.ondrop = (e) => {
      e.preventDefault();
      const from = Number(e.dataTransfer.getData("text/plain"));
      moveKey(from, i);
    };
    list.append(li);
  });
}

function moveKey(from, to) {
  if (from === to || isNaN(from)) { drawKeys(); return; }
  const [k] = studio.keys.splice(from, 1);
  studio.keys.splice(to, 0, k);
  drawKeys();
  replan();
}

// --- planning and the timeline ---------------------------------------------------------------------
let planTimer = null, mixTimer = null;
function replan() {
  clearTimeout(planTimer);
  planTimer = setTimeout(doPlan, 120);
  clearTimeout(mixTimer);
  mixTimer = setTimeout(drawMix, 500);
}

async function doPlan() {
  const v = values();
  const enough = v.keys.length >= 2 || (v.keys.length === 1 && (v.loop || v.direction));
  if (!enough) {
    stopPreview();
    studio.plan = null;
    $("timeline").max = 0; $("frame-text").textContent = "0 / 0"; $("command").value = "";
    return;
  }
  try {
    const r = renderForm();
    const plan = await (await api("/api/plan", { values: renderValues(), output: r.output, format: r.format })).json();
    studio.plan = plan;
    studio.planValues = v;
    const tl = $("timeline");
    tl.max = plan.num_frames - 1;
    if (studio.frame > plan.num_frames - 1) studio.frame = plan.num_frames - 1;
    tl.value = studio.frame;
    const marks = $("key-marks");
    marks.innerHTML = "";
    for (const f of plan.key_frames) {
      const i = document.createElement("i");
      i.style.left = `${(100 * f) / Math.max(plan.num_frames - 1, 1)}%`;
      marks.append(i);
    }
    $("command").value = plan.command;
    say(`${plan.num_frames} frames, ${plan.duration.toFixed(2)} s at ${plan.fps} fps`);
    if (previewFits(v)) return;                                  // the preview playing is still this path
    stopPreview();                                               // a settings change supersedes it
    showFrame(studio.frame, performance.now());
  } catch (e) { say(e.message, true); }
}

// Scrubbing: every input asks for its frame; the server's latest-wins slot answers the ones a newer
// request replaced at once (204), so at most one frame is drawn and one waits. The page keeps at most
// MAX_IN_FLIGHT requests out (below the browser's 6 connections per host, one of them a render's
// progress); past that, newer inputs only replace the one it will ask for next.
const MAX_IN_FLIGHT = 4;
let inFlight = 0, pending = null;
function scrub(index, t0) {
  studio.inputs++;
  if (inFlight >= MAX_IN_FLIGHT) { pending = { index, t0 }; studio.superseded++; return; }
  inFlight++;
  showFrame(index, t0).finally(() => {
    inFlight--;
    if (pending) { const p = pending; pending = null; studio.superseded--; studio.inputs--; scrub(p.index, p.t0); }
  });
}

// The first n bytes of a reply, as soon as they are there: not waiting for the end of the stream
// (arrayBuffer() does), whose separate notice came ~30 ms after the bytes in Chromium on a busy machine.
async function readBytes(res, n) {
  const out = new Uint8Array(n);
  const reader = res.body.getReader();
  let got = 0;
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the frame ended after ${got} of ${n} bytes`);
    out.set(value.subarray(0, n - got), got);
    got += value.length;
  }
  reader.cancel().catch(() => {});
  return out;
}

// raw RGB bytes (the server's frames) -> an ImageData for the canvas
function rgbImage(rgb, w, h) {
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgba[j] = rgb[i]; rgba[j + 1] = rgb[i + 1]; rgba[j + 2] = rgb[i + 2]; rgba[j + 3] = 255;
  }
  return new ImageData(rgba, w, h);
}

function putFrame(image) {
  const canvas = $("frame");
  if (canvas.width !== image.width || canvas.height !== image.height) { canvas.width = image.width; canvas.height = image.height; }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

// Ask for one frame. The server keeps a latest-wins slot: while one frame is drawn, a newer request
// replaces the waiting one (answered 204), so a fast drag never queues up. Stale answers are dropped.
async function showFrame(index, t0) {
  if (!studio.plan) return;
  const seq = ++studio.seq;
  studio.frame = index;
  try {
    const asked = studio.planValues;
    const res = await api("/api/frame", { values: asked, frame: index, encoding: "rgb" });
    if (res.status === 204) { studio.superseded++; return; }
    const tResponse = performance.now();
    const w = Number(res.headers.get("x-width")), h = Number(res.headers.get("x-height"));
    const rgb = await readBytes(res, w * h * 3);                  // raw RGB: nothing to decode
    if (seq < studio.shownSeq || studio.playing) return;          // a newer frame (or the preview) is on screen
    studio.shownSeq = seq;
    const tBody = performance.now();
    putFrame(rgbImage(rgb, w, h));
    const tPut = performance.now();
    $("caption").textContent = decodeURIComponent(res.headers.get("x-label") || "");
    $("frame-text").textContent = `${index} / ${studio.plan.num_frames - 1}`;
    requestAnimationFrame(() => {
      studio.shown = { index, seq, values: asked };
      studio.latencies.push({ index, ms: performance.now() - t0, response_ms: tResponse - t0, body_ms: tBody - t0, put_ms: tPut - t0,
                              server_ms: Number(res.headers.get("x-server-ms")) });
    });
  } catch (e) { say(e.message, true); }
}

function step(d) {
  if (!studio.plan) return;
  stopPreview();
  const n = Math.min(Math.max(studio.frame + d, 0), studio.plan.num_frames - 1);
  $("timeline").value = n;
  showFrame(n, performance.now());
}

// --- the style-mixing figure -----------------------------------------------------------------------
async function drawMix() {
  if (studio.info.c_dim) { $("mix-wrap").textContent = "the mixing figure is for unconditional models"; return; }
  const seeds = studio.keys.filter((k) => k.seed !== null).map((k) => k.seed);
  if (!seeds.length) { $("mix").removeAttribute("src"); return; }
  const seq = ++studio.mixSeq;
  try {
    const form = $("path-form").elements;
    const res = await api("/api/mix", { seeds, style: $("mix-style").value, psi: form.psi.value, noise: "const" });
    if (res.status === 204 || seq !== studio.mixSeq) return;     // a newer figure was asked for
    const img = $("mix");
    const old = img.src;
    img.src = URL.createObjectURL(await res.blob());
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    studio.mixShown = seq;
  } catch (e) { say(e.message, true); }
}

// --- wiring ----------------------------------------------------------------------------------------
function wire() {
  $("grid-psi").oninput = () => { $("grid-psi-text").textContent = $("grid-psi").value; };
  $("grid-psi").onchange = drawSeeds;
  $("seed-start").onchange = drawSeeds;
  $("page-prev").onclick = () => { $("seed-start").value = Math.max(0, num($("seed-start").value, 0) - PAGE); drawSeeds(); };
  $("page-next").onclick = () => { $("seed-start").value = num($("seed-start").value, 0) + PAGE; drawSeeds(); };
  $("path-form").oninput = replan;
  $("path-form").onchange = replan;
  $("loop").onchange = replan;
  $("hold").oninput = replan;
  $("render-form").onchange = replan;
  $("clear-keys").onclick = () => { studio.keys = []; drawKeys(); replan(); };
  $("timeline").oninput = () => { stopPreview(); scrub(Number($("timeline").value), performance.now()); };
  $("step-back").onclick = () => step(-1);
  $("step-next").onclick = () => step(1);
  $("play").onclick = play;
  $("mix-style").onchange = drawMix;
  $("render").onclick = render;
  $("stop").onclick = () => studio.rendering && studio.rendering.abort();
  $("save-recipe").onclick = saveRecipe;
  $("preset").onchange = () => applyPreset($("preset").value);
  $("copy").onclick = async () => {
    try { await navigator.clipboard.writeText($("command").value); say("command copied"); }
    catch (e) { $("command").select(); say("select the command and copy it (the clipboard is not available)"); }
  };
  const drop = $("drop");
  $("upload").onchange = () => { for (const f of $("upload").files) upload(f); };
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); for (const f of e.dataTransfer.files) upload(f); };
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, select, textarea")) return;
    if (e.key === "ArrowLeft") step(-1);
    if (e.key === "ArrowRight") step(1);
    if (e.key === " ") { e.preventDefault(); play(); }
  });
}

// after render.js (deferred too) has run: DOMContentLoaded comes once every deferred script has
document.addEventListener("DOMContentLoaded", () => setup().catch((e) => say(e.message, true)));
