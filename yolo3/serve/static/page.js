// yolo3 serve page: upload images, draw the server's detections, filter, draw an ROI.
// Plain browser JS, no build step, no network beyond this server.
// Test hook: window.yolo3State (items[i].drawn = the boxes drawn now, pending = requests
// in flight) and each canvas's data-drawn attribute (their count).
"use strict";

const REQUEST_CONF = 0.05;  // the page asks for everything above this; the slider filters what is drawn
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

const state = {
  model: null,          // GET /v1/model
  requestConf: REQUEST_CONF,
  conf: 0.25,           // slider: minimum score drawn
  hidden: new Set(),    // class ids unchecked
  tool: null,           // null | "rect" | "poly"
  items: [],            // {id, name, width, height, image, canvas, result, error, drawn, roi, draft}
  selected: null,       // index into items
  pending: 0,
};
window.yolo3State = state;

const $ = (id) => document.getElementById(id);

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadModel() {
  const res = await fetch("/v1/model", { headers: authHeaders() });
  if (res.status === 401) { setStatus("this server needs an API key: enter it above", true); return; }
  if (!res.ok) { setStatus("model info: " + (await errorText(res)), true); return; }
  state.model = await res.json();
  $("model-info").textContent = `${state.model.name} · ${state.model.backend} ${state.model.precision} · ` +
    `${state.model.classes.length} classes · input ${state.model.imgsz}px`;
  state.conf = state.model.defaults.conf;
  $("conf").value = state.conf;
  $("conf-value").value = state.conf.toFixed(2);
  const box = $("classes");
  box.querySelectorAll("label").forEach((l) => l.remove());
  state.model.classes.forEach((name, id) => {
    const label = document.createElement("label");
    label.style.color = COLORS[id % COLORS.length];
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.checked = true; cb.dataset.classId = id; cb.name = name;
    cb.addEventListener("change", () => { cb.checked ? state.hidden.delete(id) : state.hidden.add(id); redrawAll(); });
    label.append(cb, " " + name);
    box.append(label);
  });
}

async function errorText(res) {
  try { const body = await res.json(); return `${res.status}: ${body.error || JSON.stringify(body)}`; }
  catch { return `${res.status} ${res.statusText}`; }
}

function addFiles(files) {
  for (const file of files) {
    const item = { id: state.items.length, name: file.name, file, result: null, error: null, drawn: [], roi: null, draft: null };
    state.items.push(item);
    makeCard(item);
    detect(item);
  }
}

function makeCard(item) {
  const card = document.createElement("div");
  card.className = "card"; card.dataset.index = item.id;
  const canvas = document.createElement("canvas");
  canvas.dataset.drawn = "0";
  const meta = document.createElement("div");
  meta.className = "meta"; meta.textContent = item.name + ": detecting…";
  card.append(canvas, meta);
  $("results").append(card);
  item.canvas = canvas; item.meta = meta; item.card = card;
  card.addEventListener("click", () => select(item.id));
  attachRoiDrawing(item);
  createImageBitmap(item.file).then((bmp) => {
    item.image = bmp; canvas.width = bmp.width; canvas.height = bmp.height; draw(item);
  }).catch(() => {
    if (item.error) showError(item);  // the server's answer came first: keep its reason
    else item.meta.textContent = item.name + ": the browser cannot display this file";
  });
}

function select(index) {
  state.selected = index;
  state.items.forEach((it) => it.card.classList.toggle("selected", it.id === index));
}

async function detect(item) {
  const form = new FormData();
  form.append("image", item.file, item.name);
  form.append("conf", String(state.requestConf));
  if (item.roi) form.append("roi", JSON.stringify(item.roi));
  state.pending += 1;
  try {
    const res = await fetch("/v1/detect", { method: "POST", body: form, headers: authHeaders() });
    if (!res.ok) { item.error = await errorText(res); item.result = null; }
    else { item.result = await res.json(); item.error = null; }
  } catch (err) {
    item.error = String(err);
  } finally {
    state.pending -= 1;
  }
  draw(item);
  setStatus(state.pending ? `${state.pending} request(s) in flight` : `${state.items.length} image(s) done`);
}

function visible(det) {
  return det.score >= state.conf && !state.hidden.has(det.class_id);
}

function draw(item) {
  const c = item.canvas, ctx = c.getContext("2d");
  if (!item.image) { if (item.error) showError(item); return; }  // e.g. not an image: the server says why
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.drawImage(item.image, 0, 0);
  const dets = item.result ? item.result.detections.filter(visible) : [];
  const line = Math.max(2, Math.round(Math.max(c.width, c.height) / 300));
  ctx.lineWidth = line;
  ctx.font = `${Math.max(10, line * 6)}px sans-serif`;
  for (const d of dets) {
    const [x1, y1, x2, y2] = d.box, color = COLORS[d.class_id % COLORS.length];
    ctx.strokeStyle = color; ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = `${d.class_name} ${d.score.toFixed(2)}`, h = Math.max(10, line * 6) + 2;
    ctx.fillStyle = color; ctx.fillRect(x1, Math.max(0, y1 - h), ctx.measureText(label).width + 4, h);
    ctx.fillStyle = "#fff"; ctx.fillText(label, x1 + 2, Math.max(h - 3, y1 - 3));
  }
  drawRoi(ctx, item.roi, "#facc15", true);
  drawRoi(ctx, item.draft, "#22d3ee", false);
  item.drawn = dets;
  c.dataset.drawn = String(dets.length);
  item.meta.textContent = item.error ? "" : `${item.name}: ${dets.length} of ` +
    `${item.result ? item.result.detections.length : 0} detections shown` + (item.roi ? " (ROI)" : "");
  if (item.error) showError(item);
}

function showError(item) {
  item.meta.innerHTML = "";
  const err = document.createElement("span"); err.className = "error"; err.textContent = `${item.name}: ${item.error}`;
  item.meta.append(err);
}

function drawRoi(ctx, points, color, closed) {
  if (!points || !points.length) return;
  ctx.save(); ctx.strokeStyle = color; ctx.setLineDash([6, 4]); ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  if (closed) ctx.closePath();
  ctx.stroke(); ctx.restore();
}

function redrawAll() { state.items.forEach(draw); }

// --- ROI drawing: coordinates in the image's own pixels ----------------------------
function imagePoint(canvas, event) {
  const r = canvas.getBoundingClientRect();
  return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height];
}

function attachRoiDrawing(item) {
  const c = item.canvas;
  let start = null;
  c.addEventListener("mousedown", (e) => {
    if (state.tool !== "rect") return;
    start = imagePoint(c, e); item.draft = [start];
  });
  c.addEventListener("mousemove", (e) => {
    if (state.tool === "rect" && start) {
      const [x, y] = imagePoint(c, e);
      item.draft = [start, [x, start[1]], [x, y], [start[0], y]]; draw(item);
    }
  });
  c.addEventListener("mouseup", (e) => {
    if (state.tool !== "rect" || !start) return;
    const [x, y] = imagePoint(c, e);
    if (Math.abs(x - start[0]) > 2 && Math.abs(y - start[1]) > 2) item.roi = [start, [x, start[1]], [x, y], [start[0], y]];
    start = null; item.draft = null; draw(item);
  });
  c.addEventListener("click", (e) => {
    if (state.tool !== "poly") return;
    item.draft = (item.draft || []).concat([imagePoint(c, e)]); draw(item);
  });
  c.addEventListener("dblclick", () => {
    if (state.tool !== "poly" || !item.draft) return;
    // a double-click also fired two clicks on the same spot: drop the duplicate vertex
    const pts = item.draft.filter((p, i, a) => i === 0 || Math.hypot(p[0] - a[i - 1][0], p[1] - a[i - 1][1]) > 1);
    if (pts.length >= 3) item.roi = pts;
    item.draft = null; draw(item);
  });
}

function setTool(tool) {
  state.tool = state.tool === tool ? null : tool;
  $("roi-rect").classList.toggle("active", state.tool === "rect");
  $("roi-poly").classList.toggle("active", state.tool === "poly");
}

function download() {
  const out = state.items.map((it) => ({ name: it.name, roi: it.roi, error: it.error,
    ...(it.result ? { image: it.result.image, detections: it.result.detections, model: it.result.model } : {}) }));
  const url = URL.createObjectURL(new Blob([JSON.stringify(out, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url; a.download = "yolo3-detections.json"; document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// --- wiring -------------------------------------------------------------------------
$("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
// one handler for drops on the zone and anywhere else (a drop on the zone bubbles up to it);
// a file that is not an image gets its card with the server's reason
document.body.addEventListener("dragover", (e) => e.preventDefault());
document.body.addEventListener("drop", (e) => { e.preventDefault(); addFiles([...e.dataTransfer.files]); });
$("conf").addEventListener("input", (e) => {
  state.conf = Number(e.target.value); $("conf-value").value = state.conf.toFixed(2); redrawAll();
});
$("roi-rect").addEventListener("click", () => setTool("rect"));
$("roi-poly").addEventListener("click", () => setTool("poly"));
$("roi-clear").addEventListener("click", () => {
  const targets = state.selected !== null ? [state.items[state.selected]] : state.items;
  targets.forEach((it) => { it.roi = null; it.draft = null; detect(it); });
});
$("rerun").addEventListener("click", () => state.items.filter((it) => it.roi).forEach(detect));
$("download").addEventListener("click", download);
$("api-key").addEventListener("change", loadModel);
loadModel();
