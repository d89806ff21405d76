// gaitord's web page: upload GEI PNGs, a folder of silhouette frames, the
// GEIs of one person (a set, fused) or a video to POST
// /v1/predict?details=true and draw the answer (one card per prediction: per
// walker for a video). No external code; the
// token, when the server asks for one, lives in this variable only.
"use strict";
let token = "";
let retry = null; // the upload to repeat once a token is given

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function headers() {
  return token ? { Authorization: "Bearer " + token } : {};
}

function status(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = "status" + (isError ? " error" : "");
}

function askToken(then) {
  retry = then;
  $("token-form").hidden = false;
  $("token").focus();
  status("This server needs a token.", true);
}

async function loadModel() {
  const res = await fetch("/v1/model", { headers: headers() });
  if (res.status === 401) { askToken(loadModel); return; }
  const m = await res.json();
  if (!res.ok) { $("model").textContent = "model: " + m.error; return; }
  $("model").textContent = `model: ${m.input_height}×${m.input_width}, K=${m.k}, ages ${m.min_age}–${m.min_age + m.k}, ` +
    `${m.kind} ${m.sha256.slice(0, 12)}, gaitord ${m.gaitord}, libtorch ${m.libtorch}, ${m.device} ${m.precision}`;
}

// upload sends parts ({field, file, name}): gei files (one prediction
// each), frames (one walk), set files (one person, fused) or one video.
async function upload(parts) {
  if (parts.length === 0) { status("No PNG files or video there.", true); return; }
  const fd = new FormData();
  const count = {};
  for (const p of parts) {
    fd.append(p.field, p.file, p.name);
    count[p.field] = (count[p.field] || 0) + 1;
  }
  const words = { gei: "GEI(s)", frames: "frames", set: "GEIs of one person", video: "video" };
  status("Predicting " + Object.keys(count).map((k) => `${count[k]} ${words[k]}`).join(" and ") +
    (count.video ? " (finding the walkers takes a while)" : "") + "…");
  let res, body;
  try {
    res = await fetch("/v1/predict?details=true", { method: "POST", body: fd, headers: headers() });
    body = await res.json();
  } catch (e) {
    status("Request failed: " + e, true);
    return;
  }
  if (res.status === 401) { askToken(() => upload(parts)); return; }
  if (!res.ok) { status(`${body.error} (${body.code})`, true); return; }
  const notes = body.notes ? " " + body.notes.map((n) => "Not predicted: " + n + ".").join(" ") : "";
  status(`${body.predictions.length} prediction(s).` + notes);
  const out = $("results");
  out.textContent = "";
  body.predictions.forEach((p, i) => out.appendChild(card(p, body.details[i])));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function card(p, d) {
  const c = el("article", "result");
  const left = el("div");
  const img = el("img");
  img.src = d.input_png;
  img.alt = "the input as the model sees it";
  left.append(img, el("div", "caption", "input as the model sees it"));
  const right = el("div");
  const line = el("div", "line");
  const age = el("span", "age", p.age.toFixed(1));
  age.dataset.age = String(p.age);
  age.appendChild(el("span", "unit", "years"));
  // a model of loss type l1 predicts no distribution: no interval (null)
  const iv = el("span", "interval", p.age_interval80
    ? `80% interval ${p.age_interval80[0].toFixed(1)} – ${p.age_interval80[1].toFixed(1)}, median ${p.age_median.toFixed(1)}`
    : `no interval (the model predicts no distribution)`);
  const g = el("span", "gender");
  const pg = p.gender === "male" ? p.p_male : 1 - p.p_male;
  g.append(el("strong", null, p.gender), document.createTextNode(` (p ${pg.toFixed(2)})`));
  line.append(age, iv, g);
  right.append(line, el("div", "path", p.path));
  if (p.source === "video") {
    right.append(el("div", "track", `walker #${p.track}, frames ${p.frames[0]}–${p.frames[1]}, ${p.cycles} gait cycle(s), ${p.view_hint}`));
  } else if (p.source === "fused") {
    right.append(el("div", "fused", `${p.n_inputs} GEIs fused into one prediction`));
  }
  if (d.p_age && d.p_age.length && p.age_interval80) {
    right.append(chart(d.p_age, d.min_age, p),
      el("div", "legend", "bars: predicted P(age = a) · shaded: 80% interval · red line: expected age"));
  }
  c.append(left, right);
  return c;
}

// chart draws P(age = a) as bars, the 80% interval as a band and the
// expected age as a line.
function chart(pAge, minAge, p) {
  const W = 700, H = 150, L = 8, R = 14, B = 20, T = 8;
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("class", "chart");
  s.setAttribute("viewBox", `0 0 ${W} ${H}`);
  s.setAttribute("preserveAspectRatio", "none");
  const n = pAge.length, bw = (W - L - R) / n;
  const top = Math.max(...pAge, 1e-9);
  const x = (age) => L + (age - minAge) * bw;
  const y = (v) => T + (H - B - T) * (1 - v / top);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    s.appendChild(e);
    return e;
  };
  const [lo, hi] = p.age_interval80;
  add("rect", { class: "band", x: x(lo) + bw / 2, y: T, width: Math.max(1, (hi - lo) * bw), height: H - B - T });
  pAge.forEach((v, j) => {
    const a = minAge + j;
    add("rect", { class: "bar" + (a >= lo && a <= hi ? " in" : ""), x: x(a) + 0.1 * bw, y: y(v), width: 0.8 * bw, height: H - B - y(v) });
  });
  add("line", { class: "mark", x1: x(p.age) + bw / 2, x2: x(p.age) + bw / 2, y1: T, y2: H - B });
  add("line", { class: "axis", x1: L, x2: W, y1: H - B, y2: H - B });
  for (let a = Math.ceil(minAge / 10) * 10; a <= minAge + n - 1; a += 10) {
    add("text", { x: x(a) + bw / 2, y: H - 6, "text-anchor": "middle" }, String(a));
  }
  return s;
}

const isPNG = (name) => /\.png$/i.test(name);
const isVideo = (f) => /^video\//.test(f.type) || /\.(mp4|m4v|mov|avi|mkv|webm|mpe?g|ts|wmv|flv|3gp|ogv)$/i.test(f.name);

// filesOf turns a drop into parts: a dropped folder is the frames of one
// walk, dropped PNGs are GEIs (a set when "as-set" is ticked), a dropped
// video goes alone (the first one).
async function filesOf(dt) {
  const pngs = [], frames = [], videos = [];
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  const add = (f) => {
    if (isPNG(f.name)) pngs.push(f);
    else if (isVideo(f)) videos.push(f);
  };
  if (entries.length === 0) {
    for (const f of dt.files) add(f);
  }
  for (const e of entries) {
    if (e.isDirectory) {
      for (const f of await readDir(e)) frames.push(f);
    } else {
      add(await new Promise((ok, fail) => e.file(ok, fail)));
    }
  }
  if (videos.length > 0) {
    return [{ field: "video", file: videos[0], name: videos[0].name }];
  }
  frames.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const field = $("as-set").checked ? "set" : "gei";
  return pngs.map((f) => ({ field, file: f, name: f.name }))
    .concat(frames.map((f) => ({ field: "frames", file: f.file, name: f.name })));
}

async function readDir(dir) {
  const out = [];
  const reader = dir.createReader();
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.isFile && /\.png$/i.test(e.name)) {
        const f = await new Promise((ok, fail) => e.file(ok, fail));
        out.push({ file: f, name: dir.name + "/" + f.name });
      }
    }
  }
  return out;
}

function init() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(await filesOf(e.dataTransfer));
  });
  $("pick-gei").addEventListener("change", (e) => {
    upload([...e.target.files].map((f) => ({ field: "gei", file: f, name: f.name })));
    e.target.value = "";
  });
  $("pick-set").addEventListener("change", (e) => {
    upload([...e.target.files].map((f) => ({ field: "set", file: f, name: f.name })));
    e.target.value = "";
  });
  $("pick-video").addEventListener("change", (e) => {
    upload([...e.target.files].slice(0, 1).map((f) => ({ field: "video", file: f, name: f.name })));
    e.target.value = "";
  });
  $("pick-frames").addEventListener("change", (e) => {
    const frames = [...e.target.files].filter((f) => /\.png$/i.test(f.name))
      .map((f) => ({ field: "frames", file: f, name: f.webkitRelativePath || f.name }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    upload(frames);
    e.target.value = "";
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    $("token-form").hidden = true;
    status("");
    const again = retry;
    retry = null;
    if (again && again !== loadModel) again();
    loadModel();
  });
  loadModel();
}

init();
