// waifu-morph studio: the render panel (render with progress, the result, recipes, presets).
// Loaded after studio.js, whose helpers ($, api, say, values, renderValues, studio) it uses.
"use strict";

// --- rendering -------------------------------------------------------------------------------------
async function render() {
  const r = renderForm();
  const ctrl = new AbortController();
  studio.rendering = ctrl;
  studio.lastRender = null;
  $("render").disabled = true; $("stop").disabled = false;
  $("progress").value = 0; $("render-text").textContent = "starting…"; $("result").innerHTML = "";
  try {
    const res = await api("/api/render", { values: renderValues(), output: r.output, format: r.format,
                                           overwrite: r.overwrite }, { signal: ctrl.signal });
    let total = 0;
    await readEvents(res, (ev) => {
      if (ev.state === "queued") $("render-text").textContent = `waiting: ${ev.ahead} render(s) ahead`;
      if (ev.state === "progress") {
        if (ev.total) total = ev.total;
        $("progress").value = total ? ev.done / total : 0;
        $("render-text").textContent = `${ev.done} / ${total} frames · ${ev.fps.toFixed(1)} frames/s`;
      }
      if (ev.state === "done") { studio.lastRender = ev; showResult(ev); }
      if (ev.state === "error") { studio.lastRender = ev; say(ev.error, true); $("render-text").textContent = "failed"; }
      if (ev.state === "cancelled") { studio.lastRender = ev; $("render-text").textContent = "stopped: nothing was written"; }
    });
  } catch (e) {
    if (e.name === "AbortError") $("render-text").textContent = "stopped: nothing was written";
    else say(e.message, true);
  } finally {
    studio.rendering = null;
    $("render").disabled = false; $("stop").disabled = true;
  }
}

function showResult(ev) {
  $("progress").value = 1;
  $("render-text").textContent = ev.summary;
  const url = withToken(`/api/file?name=${encodeURIComponent(ev.output)}`);
  const media = ev.output.endsWith(".mp4") ? `<video controls loop autoplay muted src="${url}"></video>`
                                            : `<img alt="the render" src="${url}">`;
  $("result").innerHTML = `${media}<a href="${url}" download="${ev.output}">download ${ev.output}</a>`;
  say(`wrote ${ev.output} in the work folder`);
}

// --- recipe and command ----------------------------------------------------------------------------
async function saveRecipe() {
  try {
    const r = renderForm();
    const data = await (await api("/api/recipe", { values: renderValues(), name: $("recipe-name").value,
                                                   output: r.output, format: r.format, kind: $("recipe-kind").value })).json();
    studio.lastRecipe = data;
    $("recipe-text").textContent = `saved ${data.name}: ${data.command}` + (data.notes.length ? ` (${data.notes.join("; ")})` : "");
    say(`saved ${data.name} in the work folder`);
  } catch (e) { say(e.message, true); }
}

function applyPreset(name) {
  const p = (studio.presets || []).find((x) => x.name === name);
  if (!p) return;
  const form = $("path-form").elements;
  studio.presetOutput = {};
  for (const [k, v] of Object.entries(p.values)) {
    if (k === "loop") $("loop").checked = v;
    else if (k === "hold") $("hold").value = v;
    else if (k === "size") $("render-form").elements.size.value = v;
    else if (k === "output") {
      const m = /^(.*)\.(mp4|gif|webp)$/i.exec(v);
      if (m) { $("render-form").elements.output.value = m[1]; $("render-form").elements.format.value = m[2].toLowerCase(); }
    } else if (form[k]) form[k].value = v;
    else if (studio.info.output_names.includes(k)) studio.presetOutput[k] = v;   // e.g. max_size, fit
  }
  const extra = Object.entries(studio.presetOutput).map(([k, v]) => `${k} ${v}`).join(", ");
  $("preset-extra").textContent = extra ? `also from the preset: ${extra}` : "";
  replan();
}
