// Drawing a frame: the statistics, the output map (with the regions view), the loss curve,
// every seed's strip and the network with its thumbnails.
import { $, FEATURE_LABELS, LUT, LUT_DISC, LUT_HEAT, S, colourOf, fmt, setShape, shape } from "./state.js";
import { drawCompare } from "./panels.js";
import { drawTour } from "./tour.js";

export function updateExport() {
  if (S.embedded || S.static) return;
  const sel = S.frame ? S.frame.selected : 0;
  $("exportJson").href = `/export/${S.token}/${sel}.json`;
  $("exportPt2").href = `/export/${S.token}/${sel}.pt2`;
}

export function draw() {
  S.pending = null;
  if (!S.frame) return;
  const t0 = performance.now();
  const h = S.frame, st = h.stats;
  $("epoch").textContent = String(h.epoch).padStart(3, "0");
  $("success").textContent = (100 * st.success_rate).toFixed(0) + "%";
  $("successCi").textContent = `95% CI ${(100 * st.success_ci[0]).toFixed(0)}–${(100 * st.success_ci[1]).toFixed(0)}%, ${st.n_solved}/${st.n_seeds} seeds`;
  $("lossMedian").textContent = fmt(st.loss_median);
  $("testLossMedian").textContent = fmt(st.test_loss_median);
  $("diverged").textContent = st.n_diverged;
  $("eps").textContent = h.epochs_per_s == null ? "–" : h.epochs_per_s.toFixed(0);
  $("selectedLabel").textContent = `seed ${h.selected}` + (st.status[h.selected] === "d" ? " (diverged)" : "");
  drawHeat($("heat"), S.sections.output, h.grid, true, st.status[h.selected] === "d");
  drawRegions();
  if (S.sections.output_compare) drawHeat($("heatCompare"), S.sections.output_compare, h.grid, false, false);
  drawCurve();
  drawStrip();
  drawNetwork();
  drawCompare();
  drawTour();
  updateExport();
  const now = performance.now();
  S.fpsTimes.push(now); while (S.fpsTimes.length && now - S.fpsTimes[0] > 1000) S.fpsTimes.shift();
  S.drawMs.push(now - t0); if (S.drawMs.length > 60) S.drawMs.shift();
  S.framesDrawn++;
  if (S.firstFrameMs == null) S.firstFrameMs = now;  // since the navigation started (performance.now()'s origin)
  $("fps").textContent = fpsNow().toFixed(0);
}
export function fpsNow() { const t = S.fpsTimes; return t.length < 2 ? 0 : (t.length - 1) / ((t[t.length - 1] - t[0]) / 1000); }

const offscreen = {};
function imageOf(name, vals, w, h, lut) {
  let c = offscreen[name];
  if (!c || c.width !== w || c.height !== h) { c = offscreen[name] = document.createElement("canvas"); c.width = w; c.height = h; }
  const ctx = c.getContext("2d"), img = ctx.createImageData(w, h), d = img.data;
  for (let i = 0; i < vals.length; i++) { const j = vals[i] * 4; d[i * 4] = lut[j]; d[i * 4 + 1] = lut[j + 1]; d[i * 4 + 2] = lut[j + 2]; d[i * 4 + 3] = 255; }
  ctx.putImageData(img, 0, 0);
  return c;
}

function drawHeat(canvas, vals, g, points, grey) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const disc = S.settings.discretize === "true";
  ctx.imageSmoothingEnabled = !disc;
  ctx.drawImage(imageOf(canvas.id, vals, g, g, disc ? LUT_DISC : LUT_HEAT), 0, 0, W, H);
  if (grey) { ctx.fillStyle = "rgba(128,128,128,0.75)"; ctx.fillRect(0, 0, W, H); ctx.fillStyle = "#fff"; ctx.font = "16px sans-serif"; ctx.fillText("diverged", 10, 24); }
  if (!points || !S.state) return;
  ctx.drawImage(pointsLayer(W, H), 0, 0);
}

// The data points and axis ticks, drawn once per run into a transparent layer that every frame
// copies over the map: hundreds of circles rasterised each frame had cost the browser more than
// all the rest of a frame.
let layer = null;
function pointsLayer(W, H) {
  const key = [S.state, S.settings.showTestData, W, H];
  if (layer && layer.key.every((v, i) => v === key[i])) return layer.canvas;
  const c = document.createElement("canvas"); c.width = W; c.height = H;
  const ctx = c.getContext("2d");
  const [lo, hi] = S.state.domain, showTest = S.settings.showTestData === "true", cls = S.state.classes;
  const thr = cls ? (cls[0] + cls[1]) / 2 : 0, half = cls ? (cls[1] - cls[0]) / 2 : 1;
  for (const [x, y, label, train] of S.state.points) {
    if (!train && !showTest) continue;
    const px = (x - lo) / (hi - lo) * W, py = (hi - y) / (hi - lo) * H;
    ctx.beginPath(); ctx.arc(px, py, S.state.points.length > 100 ? 3 : 6, 0, 2 * Math.PI);
    ctx.fillStyle = colourOf(cls ? (label > thr ? 1 : -1) : (label - thr) / half);
    ctx.fill(); ctx.lineWidth = 1; ctx.strokeStyle = train ? "#fff" : "#000"; ctx.stroke();
  }
  // axes ticks
  ctx.fillStyle = "rgba(0,0,0,0.5)"; ctx.font = "10px sans-serif";
  ctx.fillText(lo.toFixed(1), 2, H - 3); ctx.fillText(hi.toFixed(1), W - 22, H - 3);
  layer = { key, canvas: c };
  return c;
}

function drawRegions() {
  const h = S.frame, info = $("regionsInfo");
  if (!S.view.regions || !h.regions) return;
  const edges = S.sections.region_edges, c = $("heat"), ctx = c.getContext("2d"), [lo, hi] = S.state.domain;
  if (edges) {
    const X = (v) => (v - lo) / (hi - lo) * c.width, Y = (v) => (hi - v) / (hi - lo) * c.height;
    ctx.beginPath();
    for (let i = 0; i < edges.length; i += 4) { ctx.moveTo(X(edges[i]), Y(edges[i + 1])); ctx.lineTo(X(edges[i + 2]), Y(edges[i + 3])); }
    ctx.strokeStyle = "rgba(0,0,0,0.45)"; ctx.lineWidth = 0.7; ctx.stroke();
  }
  const all = S.analysis && S.analysis.regions_all;
  if (h.regions.count != null) {
    info.textContent = h.regions.count === 1
      ? `One linear region: seed ${h.selected} is a single affine map on the whole square — its boundary is a line.`
      : `${h.regions.count} linear regions (seed ${h.selected}, exact: actlab.regions), each one affine map.`
        + (all ? ` Median over ${all.n} of ${all.of} seeds: ${all.median}.` : "");
  } else info.textContent = h.regions.note;
}

function drawCurve() {
  const c = $("curve"), ctx = c.getContext("2d"), W = c.width, H = c.height, pts = S.curve.filter((p) => p.med != null);
  ctx.clearRect(0, 0, W, H);
  if (pts.length < 1) return;
  const e0 = pts[0].epoch, e1 = Math.max(pts[pts.length - 1].epoch, e0 + 1);
  let ymax = 0, ymin = Infinity;
  for (const p of pts) for (const v of [p.q1, p.med, p.q3, p.test]) if (v != null && v > 0) { ymax = Math.max(ymax, v); ymin = Math.min(ymin, v); }
  ymax = ymax || 1; ymin = Math.min(ymin, ymax);
  const log = ymax / ymin > 50;  // losses spanning decades: a log axis, else TensorFlow Playground's linear one
  const f = (v) => (log ? Math.log(Math.max(v, ymin)) : v), f0 = log ? Math.log(ymin) : 0, f1 = f(ymax) === f0 ? f0 + 1 : f(ymax);
  const X = (e) => (e - e0) / (e1 - e0) * (W - 4) + 2, Y = (v) => H - 4 - (f(v) - f0) / (f1 - f0) * (H - 16);
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(X(p.epoch), Y(p.q3)) : ctx.moveTo(X(p.epoch), Y(p.q3))));
  for (let i = pts.length - 1; i >= 0; i--) ctx.lineTo(X(pts[i].epoch), Y(pts[i].q1));
  ctx.fillStyle = "rgba(8,119,189,0.18)"; ctx.fill();
  for (const [key, colour] of [["med", "#0877bd"], ["test", "#333"]]) {
    ctx.beginPath(); let started = false;
    for (const p of pts) { if (p[key] == null) continue; started ? ctx.lineTo(X(p.epoch), Y(p[key])) : ctx.moveTo(X(p.epoch), Y(p[key])); started = true; }
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.stroke();
  }
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif";
  ctx.fillText(`loss (median, quartiles over seeds; black: test)  ${log ? `log scale ${fmt(ymin)}–` : "max "}${fmt(ymax)}`, 4, 10);
}

export function stripGeometry() {
  if (!S.frame) return null;
  const n = S.frame.stats.n_seeds, W = $("strip").width;
  const tile = n <= 50 ? 40 : n <= 200 ? 26 : n <= 500 ? 18 : 12;
  const cols = Math.floor(W / tile), rows = Math.ceil(n / cols);
  return { n, tile, cols, rows, g: S.frame.strip_grid };
}
function drawStrip() {
  const geo = stripGeometry(), c = $("strip");
  const H = geo.rows * geo.tile;
  if (c.height !== H) { c.height = H; c.style.height = H + "px"; }
  const ctx = c.getContext("2d"), g = geo.g, vals = S.sections.strip, status = S.frame.stats.status;
  // tile every seed's g×g map into one image, then draw it scaled
  const cols = geo.cols, img = new Uint8Array(cols * g * geo.rows * g);
  for (let s = 0; s < geo.n; s++) {
    const ox = (s % cols) * g, oy = Math.floor(s / cols) * g;
    for (let r = 0; r < g; r++) img.set(vals.subarray(s * g * g + r * g, s * g * g + r * g + g), (oy + r) * cols * g + ox);
  }
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.drawImage(imageOf("strip", img, cols * g, geo.rows * g, LUT), 0, 0, cols * geo.tile, geo.rows * geo.tile);
  for (let s = geo.n; s < cols * geo.rows; s++)  // the last row's empty cells: blank, not colour index 0
    ctx.clearRect((s % cols) * geo.tile, Math.floor(s / cols) * geo.tile, geo.tile, geo.tile);
  ctx.lineWidth = 2;
  for (let s = 0; s < geo.n; s++) {
    const x = (s % cols) * geo.tile, y = Math.floor(s / cols) * geo.tile, st = status[s];
    if (st === "d") { ctx.fillStyle = "rgba(150,150,150,0.85)"; ctx.fillRect(x, y, geo.tile, geo.tile); }
    ctx.strokeStyle = st === "s" ? "#2a9d4a" : st === "d" ? "#888" : "#d1495b";
    ctx.strokeRect(x + 1, y + 1, geo.tile - 2, geo.tile - 2);
  }
  const sel = S.frame.selected, sx = (sel % cols) * geo.tile, sy = Math.floor(sel / cols) * geo.tile;
  ctx.strokeStyle = "#000"; ctx.lineWidth = 3; ctx.strokeRect(sx + 1.5, sy + 1.5, geo.tile - 3, geo.tile - 3);
}

// the network: features, hidden units and the output, with thumbnails and links
let NET = null;
const NET_HEIGHT = 440;  // the network canvas's height (index.html's), unless a layer needs more
export function networkGeometry() {  // where each unit's thumbnail is (window.playground.state().network)
  return NET ? { thumb: NET.thumb, height: $("net").height, nodes: NET.nodes.map((col) => col.map((n) => [n.x, n.y])) } : null;
}
export function layoutNetwork() {
  if (!S.state) return;
  const c = $("net"), widths = [S.state.features.length].concat(shape(), [1]);
  const maxw = Math.max(...widths);
  // thumbnails up to 34 px with 6 px between them; a wide layer gets smaller ones (6 px at the
  // least, 2 px apart) and, past what NET_HEIGHT holds, a taller canvas: every unit is shown
  let gap = 6, thumb = Math.min(34, Math.floor((NET_HEIGHT - 20) / maxw) - gap);
  if (thumb < 10) { gap = 2; thumb = Math.max(6, Math.floor((NET_HEIGHT - 20) / maxw) - gap); }
  c.height = Math.max(NET_HEIGHT, maxw * (thumb + gap) + 20);
  const L = widths.length, xs = widths.map((_, l) => 30 + l * (c.width - 60 - thumb) / Math.max(1, L - 1));
  const nodes = widths.map((w, l) => Array.from({ length: w }, (_, i) => ({ x: xs[l], y: 10 + (c.height - 20 - w * (thumb + gap)) / 2 + i * (thumb + gap), l, i })));
  NET = { widths, thumb, nodes };
  // +/- buttons above each hidden layer
  const box = $("layerButtons"); box.replaceChildren();
  const scale = c.getBoundingClientRect().width / c.width || 1;
  shape().forEach((w, l) => {
    const span = document.createElement("span"); span.style.left = (xs[l + 1] * scale - 8) + "px";
    const plus = document.createElement("button"), minus = document.createElement("button");
    plus.textContent = "+"; minus.textContent = "−"; plus.title = `add a neuron to layer ${l + 1}`; minus.title = `remove a neuron from layer ${l + 1}`;
    plus.onclick = () => { const s = shape(); if (s[l] < S.state.limits.neurons) { s[l]++; setShape(s); } };
    minus.onclick = () => { const s = shape(); if (s[l] > 1) { s[l]--; setShape(s); } };
    span.appendChild(plus); span.appendChild(minus); box.appendChild(span);
  });
}
function weightsOf() {  // per layer: (rows, cols) weights (maxout: the pieces' mean) and biases
  const sizes = S.state.sizes, w = S.net.weights, out = [];
  let pos = 0;
  for (const [r, c] of sizes) { out.push({ W: w.subarray(pos, pos + r * c), r, c }); pos += r * c; }
  for (const layer of out) { layer.b = w.subarray(pos, pos + layer.r); pos += layer.r; }
  return out;
}
// every link's ends and weight, from the last drawn frame's weights (drawing and hovering)
function forEachLink(fn) {
  const t = NET.thumb, k = S.state.maxout_k;
  NET.layers.forEach((L, l) => {
    const kk = l < NET.layers.length - 1 ? k : 1;
    for (let j = 0; j < L.r / kk; j++) for (let i = 0; i < L.c; i++) {
      const a = NET.nodes[l][i], b = NET.nodes[l + 1][j];
      fn(a.x + t, a.y + t / 2, b.x, b.y + t / 2, linkWeight(L, j, i, kk), l, i, j);
    }
  });
}
function linkWeight(layer, j, i, k) {  // unit j of the next layer, unit i of this one
  let s = 0; for (let p = 0; p < k; p++) s += layer.W[(p * (layer.r / k) + j) * layer.c + i];
  return s / k;
}
// Links in LEVELS colour-and-width buckets, one path each (a stroke per link cost ~60 ms a frame
// for an 8 × 64 net's ~29,000). Between two layers with more than DENSE links, only those of at
// least DENSE_MIN of the largest weight are drawn, at most 1 px wide, the colour telling the
// weight: all of a 64 × 64 mesh's, up to 4.5 px, made a solid blob, and rasterising them took the
// browser ~0.1 s a redraw, on the cores the server trains on. (Hovering finds every link.)
const DENSE = 256, DENSE_MIN = 0.25;
function drawLinks(ctx, maxAbs) {
  const LEVELS = 16, paths = Array.from({ length: 2 * (2 * LEVELS + 1) }, () => new Path2D());
  const dense = NET.layers.map((L) => L.r * L.c > DENSE);
  forEachLink((x1, y1, x2, y2, w, l) => {
    const v = Math.max(-1, Math.min(1, w / maxAbs));
    if (dense[l] && Math.abs(v) < DENSE_MIN) return;
    const q = Math.round(v * LEVELS) + LEVELS + (dense[l] ? 2 * LEVELS + 1 : 0);
    paths[q].moveTo(x1, y1); paths[q].lineTo(x2, y2);
  });
  paths.forEach((path, idx) => {
    const thin = idx > 2 * LEVELS, v = (idx % (2 * LEVELS + 1) - LEVELS) / LEVELS;
    ctx.strokeStyle = colourOf(v); ctx.lineWidth = thin ? 0.5 + 0.5 * Math.abs(v) : 0.5 + 4 * Math.abs(v); ctx.stroke(path);
  });
}
// every hidden unit's thumbnail in one image (one upload to the canvas, not one per unit)
function thumbAtlas(neurons, T, units) {
  let c = offscreen.atlas;
  if (!c || c.width !== T || c.height !== T * units) { c = offscreen.atlas = document.createElement("canvas"); c.width = T; c.height = Math.max(1, T * units); }
  if (!units) return c;
  const ctx = c.getContext("2d"), img = ctx.createImageData(T, T * units), d = img.data;
  for (let i = 0; i < T * T * units; i++) { const j = neurons[i] * 4; d[i * 4] = LUT[j]; d[i * 4 + 1] = LUT[j + 1]; d[i * 4 + 2] = LUT[j + 2]; d[i * 4 + 3] = 255; }
  ctx.putImageData(img, 0, 0);
  return c;
}
// The network is redrawn when a frame brings its thumbnails and weights: every frame for a small
// one; a large one's (over 2,000 links) come at most once a second while it trains — rasterising
// its links and hundreds of thumbnails took the browser, on the cores the server trains on, more
// time than the frame's other drawing together.
const netDrawn = { net: null, geometry: null };
function drawNetwork() {
  if (!NET || !S.net) return;
  if (netDrawn.net === S.net && netDrawn.geometry === NET) return;  // nothing new: the canvas keeps the last drawing
  netDrawn.net = S.net; netDrawn.geometry = NET;
  const c = $("net"), ctx = c.getContext("2d"), t = NET.thumb, T = S.frame.thumb;
  ctx.clearRect(0, 0, c.width, c.height);
  const layers = weightsOf(), k = S.state.maxout_k;
  let maxAbs = 1e-9;
  layers.forEach((L, l) => { const kk = l < layers.length - 1 ? k : 1; for (let j = 0; j < L.r / kk; j++) for (let i = 0; i < L.c; i++) maxAbs = Math.max(maxAbs, Math.abs(linkWeight(L, j, i, kk))); });
  NET.layers = layers; NET.maxAbs = maxAbs;
  drawLinks(ctx, maxAbs);
  const neurons = S.net.neurons, units = neurons.length / (T * T);
  const atlas = thumbAtlas(neurons, T, units), outImg = imageOf("thumb-out", S.sections.output, S.frame.grid, S.frame.grid, LUT);
  let u = 0;
  NET.nodes.forEach((col, l) => col.forEach((n, i) => {
    if (l === NET.nodes.length - 1) ctx.drawImage(outImg, n.x, n.y, t, t);
    else { ctx.drawImage(atlas, 0, u * T, T, T, n.x, n.y, t, t); u++; }
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.strokeRect(n.x, n.y, t, t);
    if (l > 0) {  // the bias, as a small square at the unit's lower left
      const L = layers[l - 1], kk = l < NET.nodes.length - 1 ? k : 1;
      let b = 0; for (let p = 0; p < kk; p++) b += L.b[p * (L.r / kk) + i]; b /= kk;
      n.bias = b;
      ctx.fillStyle = colourOf(Math.max(-1, Math.min(1, b))); ctx.fillRect(n.x - 5, n.y + t - 5, 5, 5);
    }
    if (l === 0) { ctx.fillStyle = "#333"; ctx.font = "11px sans-serif"; ctx.fillText(FEATURE_LABELS[S.state.features[i]] || "", Math.max(0, n.x - 28), n.y + t / 2 + 4); }
  }));
  const out = NET.nodes[NET.nodes.length - 1][0];
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText(`output bias ${fmt(out.bias)}`, Math.max(0, out.x - 40), out.y + t + 14);
}
export function onNetHover(ev) {
  if (!NET || !NET.layers) return;
  const c = $("net"), r = c.getBoundingClientRect(), sx = c.width / r.width;
  const x = (ev.clientX - r.left) * sx, y = (ev.clientY - r.top) * sx, tip = $("tooltip");
  let text = null;
  for (const col of NET.nodes) for (const n of col) if (x >= n.x && x <= n.x + NET.thumb && y >= n.y && y <= n.y + NET.thumb)
    text = n.l === 0 ? `input ${FEATURE_LABELS[S.state.features[n.i]]}` : `layer ${n.l}, unit ${n.i + 1}\nbias ${fmt(n.bias)}`;
  if (!text) {
    let best = 4;
    forEachLink((x1, y1, x2, y2, w, l, i, j) => {
      const dx = x2 - x1, dy = y2 - y1, t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)));
      const d = Math.hypot(x - x1 - t * dx, y - y1 - t * dy);
      if (d < best) { best = d; text = `weight ${w.toFixed(4)}\n(layer ${l} unit ${i + 1} → layer ${l + 1} unit ${j + 1})`; }
    });
  }
  tip.hidden = !text;
  if (text) { tip.textContent = text; tip.style.left = (ev.clientX - c.parentElement.getBoundingClientRect().left + 12) + "px"; tip.style.top = (ev.clientY - c.parentElement.getBoundingClientRect().top + 12) + "px"; }
}
