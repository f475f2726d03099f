// waifu-morph studio: the direction slider (one direction at a time, as `render --direction FILE:I
// --strength A:B`) and projecting a dropped image into a W key. Loaded after studio.js, whose helpers
// ($, api, say, replan, listFiles, studio) it uses; studio.js calls directionValues, onFiles and
// projectImage when they exist.
"use strict";

// --- the direction ---------------------------------------------------------------------------------
function directionValues() {
  const file = $("dir-file").value, index = $("dir-index").value;
  if (!file || index === "") return {};
  return { direction: `${file}:${index}`, strength: `${$("dir-from").value}:${$("dir-to").value}` };
}

function onFiles(files) {
  const select = $("dir-file");
  const keep = select.value;
  select.length = 1;                                       // keep "(none)"
  for (const f of files.directions || []) select.add(new Option(f.name, f.name, false, f.name === keep));
  if (select.value !== keep) showDirections();
}

async function showDirections() {
  const name = $("dir-file").value, index = $("dir-index");
  index.length = 0;
  studio.directions = null;
  if (name) {
    try {
      const info = await (await api(`/api/directions?name=${encodeURIComponent(name)}`)).json();
      studio.directions = info;
      info.labels.forEach((label, i) => index.add(new Option(`${i}: ${label} (${(100 * info.share[i]).toFixed(1)} %)`, i)));
    } catch (e) { say(e.message, true); }
  }
  replan();
}

async function findDirections() {
  const style = $("dir-style").value;
  say(`finding directions on the ${style} layers…`);
  try {
    const info = await (await api("/api/directions", { style })).json();
    await listFiles();
    $("dir-file").value = info.name;
    await showDirections();
    say(`${info.name}: ${info.count} directions, strongest first`);
  } catch (e) { say(e.message, true); }
}

function strengthInput(id) {
  $(id + "-text").textContent = $(id).value;
  if (directionValues().direction) replan();
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
  $("dir-file").onchange = showDirections;
  $("dir-index").onchange = replan;
  $("dir-sefa").onclick = findDirections;
  for (const id of ["dir-from", "dir-to"]) $(id).oninput = () => strengthInput(id);
  $("project-stop").onclick = () => studio.projecting && studio.projecting.abort();
});
