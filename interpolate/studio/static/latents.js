// waifu-morph studio: the direction sliders (each one direction with its strength, as `render --direction
// FILE:I --strength A:B`; several at once) and projecting a dropped image into a W key. Loaded after studio.js, whose helpers
// ($, api, say, replan, listFiles, studio) it uses; studio.js calls directionValues, onFiles and
// projectImage when they exist.
"use strict";

// --- the direction sliders -------------------------------------------------------------------------
// studio.dirFiles: the directions files of the work folder; studio.dirInfo[name]: their labels and shares;
// studio.dirRows: one {file, index, strength, mode} per slider.
studio.dirFiles = []; studio.dirInfo = {}; studio.dirRows = [];
const STRENGTH = { offset: (s) => `${s}:${s}`, walk: (s) => `${-s}:${s}`, ramp: (s) => `0:${s}` };

// the sliders as --direction/--strength values: one direction as strings, several as lists
function directionValues() {
  const on = studio.dirRows.filter((r) => r.file && r.index !== "" && Number(r.strength) !== 0);
  if (!on.length) return {};
  const direction = on.map((r) => `${r.file}:${r.index}`), strength = on.map((r) => STRENGTH[r.mode](Number(r.strength)));
  return on.length === 1 ? { direction: direction[0], strength: strength[0] } : { direction, strength };
}

function onFiles(files) {
  studio.dirFiles = (files.directions || []).map((f) => f.name);
  $("dir-add").disabled = !studio.dirFiles.length;
  if (studio.dirFiles.length && !studio.dirRows.length) addDirection();
  else drawDirections();
}

async function directionInfo(name) {
  if (!studio.dirInfo[name]) studio.dirInfo[name] = await (await api(`/api/directions?name=${encodeURIComponent(name)}`)).json();
  return studio.dirInfo[name];
}

function addDirection(file) {
  studio.dirRows.push({ file: file || studio.dirFiles[0] || "", index: "0", strength: "0", mode: "offset" });
  drawDirections();
}

let dirDraws = 0;
async function drawDirections() {
  const seq = ++dirDraws;
  for (const r of studio.dirRows) {
    if (r.file && !studio.dirFiles.includes(r.file)) r.file = studio.dirFiles[0] || "";
    if (r.file) { try { await directionInfo(r.file); } catch (e) { say(e.message, true); } }
  }
  if (seq !== dirDraws) return;                                    // a newer drawing has begun
  const box = $("dir-rows");
  box.innerHTML = "";
  for (const [i, r] of studio.dirRows.entries()) {
    const row = document.createElement("div");
    row.className = "dir-row";
    row.dataset.index = i;
    row.innerHTML = `<select class="dir-file" title="directions file"></select><select class="dir-index" title="direction"></select>` +
      `<input class="dir-strength" type="range" min="-5" max="5" step="0.1" title="strength"><output></output>` +
      `<select class="dir-mode" title="offset: every frame; walk: -s to s; ramp: 0 to s">` +
      `<option>offset</option><option>walk</option><option>ramp</option></select><button title="remove this slider">×</button>`;
    const [file, index, strength, out, mode] = ["dir-file", "dir-index", "dir-strength", "output", "dir-mode"]
      .map((c) => row.querySelector(c === "output" ? c : "." + c));
    for (const f of studio.dirFiles) file.add(new Option(f, f, false, f === r.file));
    strength.value = r.strength; out.textContent = r.strength; mode.value = r.mode;
    file.onchange = () => { r.file = file.value; r.index = "0"; drawDirections(); replan(); };
    index.onchange = () => { r.index = index.value; replan(); };
    strength.oninput = () => { r.strength = strength.value; out.textContent = strength.value; replan(); };
    mode.onchange = () => { r.mode = mode.value; replan(); };
    row.querySelector("button").onclick = () => { studio.dirRows.splice(i, 1); drawDirections(); replan(); };
    box.append(row);
    const info = studio.dirInfo[r.file];
    if (info) {
      info.labels.forEach((label, j) => index.add(new Option(`${j}: ${label} (${(100 * info.share[j]).toFixed(1)} %)`,
                                                              String(j), false, String(j) === r.index)));
    }
  }
  studio.dirDrawn = seq;
}

async function findDirections() {
  const style = $("dir-style").value;
  say(`finding directions on the ${style} layers…`);
  try {
    const info = await (await api("/api/directions", { style })).json();
    studio.dirInfo[info.name] = info;
    await listFiles();
    const idle = studio.dirRows.find((r) => Number(r.strength) === 0);     // point an idle slider at them
    if (idle) { idle.file = info.name; idle.index = "0"; } else addDirection(info.name);
    await drawDirections();
    studio.directions = info;
    say(`${info.name}: ${info.count} directions, strongest first`);
  } catch (e) { say(e.message, true); }
}

// --- projecting a dropped image --------------------------------------------------------------------
async function projectImage(file) {
  if (file.size > studio.info.max_upload) { say(`${file.name} is larger than the upload limit`, true); return; }
  const ctrl = new AbortController();
  studio.projecting = ctrl;
  studio.lastProjection = null;
  $("project-box").hidden = false;
  $("project-progress").value = 0;
  $("project-text").textContent = `${file.name}: starting…`;
  const query = `name=${encodeURIComponent(file.name)}&steps=${encodeURIComponent($("project-steps").value)}` +
                `&space=${encodeURIComponent($("project-space").value)}` +
                (studio.classIdx !== undefined ? `&class_idx=${studio.classIdx}` : "");
  try {
    const res = await api(`/api/project?${query}`, undefined, { method: "POST", signal: ctrl.signal, body: file,
                          headers: { "X-Studio-Token": TOKEN, "Content-Type": "application/octet-stream" } });
    await readEvents(res, (ev) => projectEvent(file.name, ev));
  } catch (e) {
    if (e.name === "AbortError") $("project-text").textContent = "stopped: nothing was written";
    else say(e.message, true);
  } finally {
    studio.projecting = null;
  }
}

function projectEvent(name, ev) {
  const text = $("project-text");
  if (ev.state === "queued") text.textContent = `${name}: waiting, ${ev.ahead} job(s) ahead`;
  if (ev.state === "progress") {
    $("project-progress").value = ev.done / ev.total;
    text.textContent = `${name}: step ${ev.done} / ${ev.total} · PSNR ${ev.psnr.toFixed(1)} dB · ${ev.steps_per_s.toFixed(1)} steps/s`;
  }
  if (ev.state === "done") {
    studio.lastProjection = ev;
    $("project-progress").value = 1;
    text.textContent = `${ev.output}: PSNR ${ev.psnr.toFixed(1)} dB after ${ev.steps} steps (${ev.loss})`;
    say(`projected ${name} into ${ev.output}: it is a key now`);
    listFiles();
    addKey({ token: "w:" + ev.output, label: ev.output, seed: null });
  }
  if (ev.state === "error") { studio.lastProjection = ev; say(ev.error, true); text.textContent = "failed"; }
  if (ev.state === "cancelled") { studio.lastProjection = ev; text.textContent = "stopped: nothing was written"; }
}

document.addEventListener("DOMContentLoaded", () => {
  $("dir-sefa").onclick = findDirections;
  $("dir-add").onclick = () => addDirection();
  $("project-stop").onclick = () => studio.projecting && studio.projecting.abort();
});
