// actlab play: the page. Plain JavaScript and canvas; the server trains, this draws.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const LEARNING_RATES = ["0.00001", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"];
  const REG_RATES = ["0", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"];
  const FEATURE_LABELS = { x: "x₁", y: "x₂", xSquared: "x₁²", ySquared: "x₂²", xTimesY: "x₁x₂", sinX: "sin x₁", sinY: "sin x₂" };
  const DATASET_LABELS = { circle: "circle", xor: "xor", gauss: "gaussians", spiral: "spiral", moons: "moons",
    checkerboard: "checker", xor4: "XOR (4 pts)", custom: "your data", "reg-plane": "plane", "reg-gauss": "gaussian" };

  // TensorFlow Playground's colours: orange (−1) through light grey (0) to blue (+1)
  const LUT = new Uint8ClampedArray(256 * 4), LUT_DISC = new Uint8ClampedArray(256 * 4), LUT_HEAT = new Uint8ClampedArray(256 * 4);
  (function () {
    const neg = [245, 147, 34], mid = [232, 234, 235], pos = [8, 119, 189];
    for (let i = 0; i < 256; i++) {
      const v = i / 127.5 - 1, a = Math.abs(v), end = v < 0 ? neg : pos;
      for (let c = 0; c < 3; c++) {
        LUT[i * 4 + c] = mid[c] + (end[c] - mid[c]) * a;
        LUT_DISC[i * 4 + c] = (v < 0 ? neg : pos)[c] * 0.85 + mid[c] * 0.15;
      }
      LUT[i * 4 + 3] = 255; LUT_DISC[i * 4 + 3] = 255;
      for (let c = 0; c < 3; c++) LUT_HEAT[i * 4 + c] = mid[c] + (end[c] - mid[c]) * a * 0.7;  // lighter: the points stand out
      LUT_HEAT[i * 4 + 3] = 255;
    }
  })();
  const colourOf = (v) => { const i = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) * 4; return `rgb(${LUT[i]},${LUT[i + 1]},${LUT[i + 2]})`; };

  const S = {  // what the page knows
    ws: null, token: null, version: 0, settings: {}, state: null, frame: null, sections: null,
    playing: false, curve: [], analysis: null, notices: [], errors: [], fpsTimes: [], drawMs: [],
    framesDrawn: 0, framesReceived: 0, pending: null, hover: null, consoleErrors: 0,
    view: { regions: false, hidden: false },  // views that change no run (not in the URL)
  };

  // ---------------------------------------------------------------- the socket
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    S.ws = ws;
    ws.onopen = () => {
      const h = hashValues(); if (Object.keys(h).length) send({ type: "set", values: h, base: "defaults" });
      if (S.view.regions || S.view.hidden) send(Object.assign({ type: "view" }, S.view));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") onJson(JSON.parse(ev.data));
      else { onFrame(ev.data); send({ type: "ack" }); }
    };
    ws.onclose = () => { setError("The connection to the server closed: restart `actlab play` and reload."); };
  }
  function setPlaying(on) { S.playing = on; $("play").textContent = on ? "❚❚" : "▶"; }
  function send(msg) { if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(msg)); }

  function onJson(m) {
    if (m.type === "hello") { S.token = m.token; }
    else if (m.type === "state") { onState(m); }
    else if (m.type === "playing") { setPlaying(m.playing); }
    else if (m.type === "analysis") { if (m.version === S.version) { S.analysis = m; drawAnalysis(); } }
    else if (m.type === "error") { setError(m.message); }
  }

  function decode(buf) {
    const n = new DataView(buf).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    const base = 4 + n, out = {};
    for (const s of header.sections) {
      const count = s.shape.reduce((a, b) => a * b, 1);
      const T = s.dtype === "uint8" ? Uint8Array : Float32Array;
      out[s.name] = new T(buf, base + s.offset, count);
    }
    return [header, out];
  }

  function onFrame(buf) {
    const [h, sec] = decode(buf);
    if (h.version !== S.version) return;  // a stale run's frame
    S.framesReceived++;
    S.frame = h; S.sections = sec;
    if (h.playing !== S.playing) setPlaying(h.playing);
    const st = h.stats;
    const last = S.curve[S.curve.length - 1], ep = h.stats_epoch;  // the epoch the statistics were taken at
    if (!last || ep !== last.epoch) {
      if (last && ep < last.epoch) S.curve = [];
      S.curve.push({ epoch: ep, q1: st.loss_q1, med: st.loss_median, q3: st.loss_q3, test: st.test_loss_median });
      if (S.curve.length > 2000) S.curve = S.curve.filter((_, i) => i % 2 === 0);
    }
    if (!S.pending) S.pending = requestAnimationFrame(draw);
  }

  // ---------------------------------------------------------------- settings and the URL hash
  function hashValues() {
    const out = {};
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      if (!part) continue;
      const i = part.indexOf("=");
      if (i < 0) continue;
      out[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1));
    }
    return out;
  }
  function writeHash(settings) {
    const h = Object.entries(settings).map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ",")}`).join("&");
    history.replaceState(null, "", "#" + h);
  }

  function onState(m) {
    S.version = m.version; S.state = m; S.settings = m.settings; S.curve = []; S.frame = null; S.sections = null;
    S.analysis = null; S.errors = [];
    S.notices = m.notices || [];
    setPlaying(m.playing);
    writeHash(m.settings);
    buildControls(m);
    renderNotices();
    drawAnalysis();
  }

  function setting(key, value) { send({ type: "set", values: { [key]: value } }); }
  function setView(v) {
    Object.assign(S.view, v);
    $("showRegions").checked = S.view.regions; $("showHidden").checked = S.view.hidden;
    $("hiddenPanel").hidden = !S.view.hidden; $("regionsInfo").hidden = !S.view.regions;
    send(Object.assign({ type: "view" }, S.view));
  }

  function fillSelect(el, values, labels, current) {
    el.innerHTML = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v; o.textContent = labels ? labels(v) : v; el.appendChild(o);
    }
    if (!values.includes(current)) { const o = document.createElement("option"); o.value = current; o.textContent = current; el.appendChild(o); }
    el.value = current;
  }

  function buildControls(m) {
    const s = m.settings;
    fillSelect($("activation"), m.activations, null, s.activation);
    fillSelect($("compare"), ["none"].concat(m.activations), (v) => (v === "none" ? "—" : v), s.compare);
    fillSelect($("learningRate"), LEARNING_RATES, null, s.learningRate.replace(/\.0$/, ""));
    fillSelect($("regularizationRate"), REG_RATES, null, s.regularizationRate.replace(/\.0$/, ""));
    for (const k of ["optimizer", "loss", "regularization", "problem"]) $(k).value = s[k];
    $("seeds").value = s.seeds;
    for (const k of ["percTrainData", "noise", "batchSize"]) { $(k).value = s[k]; $(k + "V").textContent = s[k]; }
    $("showTestData").checked = s.showTestData === "true";
    $("discretize").checked = s.discretize === "true";
    // datasets
    const reg = s.problem === "regression";
    for (const [id, list, key] of [["datasets", m.datasets, "dataset"], ["regdatasets", m.reg_datasets, "regDataset"]]) {
      const box = $(id); box.innerHTML = ""; box.hidden = (key === "regDataset") !== reg;
      for (const d of list) {
        const b = document.createElement("button");
        b.textContent = DATASET_LABELS[d] || d; b.dataset.value = d;
        if (s[key] === d) b.className = "on";
        b.onclick = () => setting(key, d);
        box.appendChild(b);
      }
    }
    // features
    const fbox = $("features"); fbox.innerHTML = "";
    for (const f of m.all_features) {
      const l = document.createElement("label"), c = document.createElement("input");
      c.type = "checkbox"; c.checked = s[f] === "true"; c.id = "feature-" + f;
      c.onchange = () => setting(f, c.checked);
      l.appendChild(c); l.appendChild(document.createTextNode(" " + FEATURE_LABELS[f])); fbox.appendChild(l);
    }
    $("layerCount").textContent = `${shape().length} hidden layer${shape().length === 1 ? "" : "s"}`;
    $("heatCompare").hidden = s.compare === "none";
    $("comparePanel").hidden = s.compare === "none";
    layoutNetwork();
    updateExport();
  }

  function shape() { const s = S.settings.networkShape; return s ? s.split(",").filter((x) => x).map(Number) : []; }
  function setShape(arr) { setting("networkShape", arr.join(",")); }

  function bindControls() {
    for (const k of ["activation", "compare", "learningRate", "optimizer", "loss", "regularization", "regularizationRate", "problem"])
      $(k).onchange = () => setting(k, $(k).value);
    $("seeds").onchange = () => setting("seeds", $("seeds").value);
    for (const k of ["percTrainData", "noise", "batchSize"]) {
      $(k).oninput = () => { $(k + "V").textContent = $(k).value; };
      $(k).onchange = () => setting(k, $(k).value);
    }
    $("showTestData").onchange = () => setting("showTestData", $("showTestData").checked);
    $("showRegions").onchange = () => setView({ regions: $("showRegions").checked });
    $("showHidden").onchange = () => setView({ hidden: $("showHidden").checked });
    $("discretize").onchange = () => setting("discretize", $("discretize").checked);
    $("play").onclick = () => (S.playing ? api.pause() : api.play());
    $("step").onclick = () => api.step();
    $("reset").onclick = () => api.reset();
    $("regenerate").onclick = () => send({ type: "regenerate" });
    $("clearPoints").onclick = () => send({ type: "clear_points" });
    $("addLayer").onclick = () => { const s = shape(); if (s.length < S.state.limits.layers) setShape(s.concat([4])); };
    $("removeLayer").onclick = () => { const s = shape(); if (s.length) setShape(s.slice(0, -1)); };
    $("csv").onchange = () => {
      const f = $("csv").files[0]; if (!f) return;
      if (f.size > 1 << 20) { setError(`the CSV is ${Math.round(f.size / 1024)} KiB; at most 1024 KiB`); $("csv").value = ""; return; }
      f.text().then((text) => send({ type: "csv", text }));
      $("csv").value = "";
    };
    $("heat").addEventListener("click", (ev) => {
      if (!S.state) return;
      const r = $("heat").getBoundingClientRect(), [lo, hi] = S.state.domain;
      const x = lo + (ev.clientX - r.left) / r.width * (hi - lo), y = hi - (ev.clientY - r.top) / r.height * (hi - lo);
      send({ type: "add_point", x, y, label: ev.shiftKey ? -1 : 1 });
    });
    $("strip").addEventListener("click", (ev) => {
      const g = stripGeometry(); if (!g) return;
      const r = $("strip").getBoundingClientRect();
      const col = Math.floor((ev.clientX - r.left) * ($("strip").width / r.width) / g.tile), row = Math.floor((ev.clientY - r.top) * ($("strip").height / r.height) / g.tile);
      const i = row * g.cols + col;
      if (col < g.cols && i >= 0 && i < g.n) { send({ type: "select", seed: i }); }
    });
    $("net").addEventListener("mousemove", onNetHover);
    $("net").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  }

  function renderNotices() {
    const box = $("notices"); box.innerHTML = "";
    for (const [list, cls] of [[S.notices, "notice"], [S.errors, "notice error"]])
      for (const n of list) { const d = document.createElement("div"); d.className = cls; d.textContent = n; box.appendChild(d); }
  }
  function setError(msg) { S.errors = [msg]; renderNotices(); }

  function updateExport() {
    const sel = S.frame ? S.frame.selected : 0;
    $("exportJson").href = `/export/${S.token}/${sel}.json`;
    $("exportPt2").href = `/export/${S.token}/${sel}.pt2`;
  }

  // ---------------------------------------------------------------- drawing
  function draw() {
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
    updateExport();
    const now = performance.now();
    S.fpsTimes.push(now); while (S.fpsTimes.length && now - S.fpsTimes[0] > 1000) S.fpsTimes.shift();
    S.drawMs.push(now - t0); if (S.drawMs.length > 60) S.drawMs.shift();
    S.framesDrawn++;
    $("fps").textContent = fpsNow().toFixed(0);
  }
  function fpsNow() { const t = S.fpsTimes; return t.length < 2 ? 0 : (t.length - 1) / ((t[t.length - 1] - t[0]) / 1000); }
  function fmt(v) { return v == null ? "–" : (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(3)); }

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

  function drawHidden() {
    const hs = S.analysis && S.analysis.hidden, c = $("hidden"), ctx = c.getContext("2d"), W = c.width, H = c.height;
    ctx.clearRect(0, 0, W, H);
    if (!S.view.hidden || !hs) return;
    if (hs.note) { $("hiddenLabel").textContent = hs.note; return; }
    $("hiddenLabel").textContent = `seed ${S.analysis.seed}, width ${hs.width}: ${hs.projection}`;
    const all = hs.data.concat(...hs.grid);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of all) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const pad = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-9);
    x0 -= pad; x1 += pad; y0 -= pad; y1 += pad;
    const X = (v) => (v - x0) / (x1 - x0 || 1) * W, Y = (v) => H - (v - y0) / (y1 - y0 || 1) * H;
    ctx.strokeStyle = "#c8c8c8"; ctx.lineWidth = 0.6;
    for (const line of hs.grid) { ctx.beginPath(); line.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y)))); ctx.stroke(); }
    const [n0, n1] = hs.boundary_normal, off = hs.boundary_offset;
    ctx.beginPath(); ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    if (Math.abs(n1) > 1e-12) { ctx.moveTo(X(x0), Y((off - n0 * x0) / n1)); ctx.lineTo(X(x1), Y((off - n0 * x1) / n1)); }
    else if (Math.abs(n0) > 1e-12) { ctx.moveTo(X(off / n0), 0); ctx.lineTo(X(off / n0), H); }
    ctx.stroke();
    const thr = hs.level;
    hs.data.forEach(([x, y], i) => {
      ctx.beginPath(); ctx.arc(X(x), Y(y), 3, 0, 2 * Math.PI);
      ctx.fillStyle = colourOf(hs.labels[i] > thr ? 1 : -1); ctx.fill();
    });
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

  function stripGeometry() {
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
  function layoutNetwork() {
    if (!S.state) return;
    const c = $("net"), widths = [S.state.features.length].concat(shape(), [1]);
    const maxw = Math.max(...widths);
    const thumb = Math.max(10, Math.min(34, Math.floor((c.height - 20) / maxw) - 6));
    const L = widths.length, xs = widths.map((_, l) => 30 + l * (c.width - 60 - thumb) / Math.max(1, L - 1));
    const nodes = widths.map((w, l) => Array.from({ length: w }, (_, i) => ({ x: xs[l], y: 10 + (c.height - 20 - w * (thumb + 6)) / 2 + i * (thumb + 6), l, i })));
    NET = { widths, thumb, nodes };
    // +/- buttons above each hidden layer
    const box = $("layerButtons"); box.innerHTML = "";
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
    const sizes = S.state.sizes, w = S.sections.weights, out = [];
    let pos = 0;
    for (const [r, c] of sizes) { out.push({ W: w.subarray(pos, pos + r * c), r, c }); pos += r * c; }
    for (const layer of out) { layer.b = w.subarray(pos, pos + layer.r); pos += layer.r; }
    return out;
  }
  function linkWeight(layer, j, i, k) {  // unit j of the next layer, unit i of this one
    let s = 0; for (let p = 0; p < k; p++) s += layer.W[(p * (layer.r / k) + j) * layer.c + i];
    return s / k;
  }
  function drawNetwork() {
    if (!NET || !S.sections) return;
    const c = $("net"), ctx = c.getContext("2d"), t = NET.thumb, T = S.frame.thumb;
    ctx.clearRect(0, 0, c.width, c.height);
    const layers = weightsOf(), k = S.state.maxout_k;
    let maxAbs = 1e-9;
    layers.forEach((L, l) => { const kk = l < layers.length - 1 ? k : 1; for (let j = 0; j < L.r / kk; j++) for (let i = 0; i < L.c; i++) maxAbs = Math.max(maxAbs, Math.abs(linkWeight(L, j, i, kk))); });
    NET.links = [];
    layers.forEach((L, l) => {
      const kk = l < layers.length - 1 ? k : 1;
      for (let j = 0; j < L.r / kk; j++) for (let i = 0; i < L.c; i++) {
        const a = NET.nodes[l][i], b = NET.nodes[l + 1][j], w = linkWeight(L, j, i, kk);
        ctx.beginPath(); ctx.moveTo(a.x + t, a.y + t / 2); ctx.lineTo(b.x, b.y + t / 2);
        ctx.strokeStyle = colourOf(Math.max(-1, Math.min(1, w / maxAbs)));
        ctx.lineWidth = 0.5 + 4 * Math.abs(w) / maxAbs; ctx.stroke();
        NET.links.push({ x1: a.x + t, y1: a.y + t / 2, x2: b.x, y2: b.y + t / 2, w, l, i, j });
      }
    });
    const neurons = S.sections.neurons;
    let u = 0;
    NET.nodes.forEach((col, l) => col.forEach((n, i) => {
      let src;
      if (l === NET.nodes.length - 1) src = imageOf("thumb-out", S.sections.output, S.frame.grid, S.frame.grid, LUT);
      else { src = imageOf("thumb", neurons.subarray(u * T * T, (u + 1) * T * T), T, T, LUT); u++; }
      ctx.drawImage(src, n.x, n.y, t, t);
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
  function onNetHover(ev) {
    if (!NET || !NET.links) return;
    const c = $("net"), r = c.getBoundingClientRect(), sx = c.width / r.width;
    const x = (ev.clientX - r.left) * sx, y = (ev.clientY - r.top) * sx, tip = $("tooltip");
    let text = null;
    for (const col of NET.nodes) for (const n of col) if (x >= n.x && x <= n.x + NET.thumb && y >= n.y && y <= n.y + NET.thumb)
      text = n.l === 0 ? `input ${FEATURE_LABELS[S.state.features[n.i]]}` : `layer ${n.l}, unit ${n.i + 1}\nbias ${fmt(n.bias)}`;
    if (!text) {
      let best = 4;
      for (const L of NET.links) {
        const dx = L.x2 - L.x1, dy = L.y2 - L.y1, t = Math.max(0, Math.min(1, ((x - L.x1) * dx + (y - L.y1) * dy) / (dx * dx + dy * dy)));
        const d = Math.hypot(x - L.x1 - t * dx, y - L.y1 - t * dy);
        if (d < best) { best = d; text = `weight ${L.w.toFixed(4)}\n(layer ${L.l} unit ${L.i + 1} → layer ${L.l + 1} unit ${L.j + 1})`; }
      }
    }
    tip.hidden = !text;
    if (text) { tip.textContent = text; tip.style.left = (ev.clientX - c.parentElement.getBoundingClientRect().left + 12) + "px"; tip.style.top = (ev.clientY - c.parentElement.getBoundingClientRect().top + 12) + "px"; }
  }

  function drawCompare() {
    const h = S.frame, box = $("comparePanel");
    if (!h.compare) return;
    const a = h.stats, b = h.compare.stats, p = h.compare.paired;
    box.innerHTML = `<b>${S.settings.activation}</b> ${(100 * a.success_rate).toFixed(0)}% vs <b>${h.compare.activation}</b> ${(100 * b.success_rate).toFixed(0)}%
      (95% CI ${(100 * b.success_ci[0]).toFixed(0)}–${(100 * b.success_ci[1]).toFixed(0)}%) on the same ${a.n_seeds} seeds.<br>
      Paired: both solve ${p.both}, only ${S.settings.activation} ${p.only_main}, only ${h.compare.activation} ${p.only_compare}, neither ${p.neither}.
      The small map is the selected seed with ${h.compare.activation}.`;
  }

  function drawAnalysis() {
    const box = $("analysisBody"), a = S.analysis;
    if (!a) { box.textContent = "…"; return; }
    const feats = a.features.map((f) => FEATURE_LABELS[f]);
    const num = (v, d) => (v == null ? "–" : v.toFixed(d));  // null: not finite (the server never sends NaN)
    const affine = (m) => m.weight.map((w, i) => `${w != null && w >= 0 && i ? "+ " : ""}${num(w, 4)}·${feats[i]}`).join(" ")
      + ` ${m.bias != null && m.bias < 0 ? "−" : "+"} ${num(m.bias == null ? null : Math.abs(m.bias), 4)}`;
    let html = "";
    if (a.collapse) {
      html += `<div>Collapsed map of seed ${a.seed} (exact, <code>actlab.collapse</code>): <code id="collapseMap">ŷ = ${affine(a.collapse)}</code></div>`;
    }
    if (a.best_affine) {
      html += `<div>Best affine fit (least squares on the training set, R² ${num(a.best_affine.r2, 3)}): <code>ŷ = ${affine(a.best_affine)}</code></div>`;
    }
    if (a.audit) html += `<div>Audit (<code>actlab.audit</code> on the training inputs): ${a.audit.is_affine ? "affine" : "nonlinear, first at <code>" + a.audit.first_nonlinear + "</code>"}</div>`;
    if (a.why) html += `<p>${a.why}</p>`;
    if (a.note) html += `<p class="hint">${a.note}</p>`;
    box.innerHTML = html;
    drawHidden();
  }

  // ---------------------------------------------------------------- the contract for tests and scripts
  const api = {
    state() {
      const h = S.frame, st = h ? h.stats : null, s = S.settings;
      return {
        version: S.version, epoch: h ? h.epoch : 0, seeds: Number(s.seeds), activation: s.activation, dataset: s.dataset,
        regDataset: s.regDataset, networkShape: s.networkShape, problem: s.problem, compare: s.compare,
        success_rate: st ? st.success_rate : null, success_ci: st ? st.success_ci : null,
        n_diverged: st ? st.n_diverged : null, loss_median: st ? st.loss_median : null,
        test_loss_median: st ? st.test_loss_median : null, epochs_per_s: h ? h.epochs_per_s : null,
        fps: fpsNow(), frames_drawn: S.framesDrawn, frames_received: S.framesReceived,
        draw_ms: S.drawMs.length ? S.drawMs.slice().sort((a, b) => a - b)[S.drawMs.length >> 1] : null,
        playing: S.playing, selected: h ? h.selected : 0,
        collapse: S.analysis && S.analysis.collapse ? { weight: S.analysis.collapse.weight, bias: S.analysis.collapse.bias } : null,
        audit: S.analysis ? S.analysis.audit : null, notices: S.notices.slice(), errors: S.errors.slice(),
        compare_stats: h && h.compare ? h.compare : null, settings: Object.assign({}, s),
        view: Object.assign({}, S.view), regions: h && h.regions ? h.regions : null,
        regions_all: S.analysis ? S.analysis.regions_all || null : null,
        strip: (() => { const geo = stripGeometry(); return geo ? { n: geo.n, cols: geo.cols, rows: geo.rows, tile: geo.tile } : null; })(),
        hidden: S.analysis && S.analysis.hidden ? { width: S.analysis.hidden.width, projection: S.analysis.hidden.projection,
                                                     note: S.analysis.hidden.note || null, points: (S.analysis.hidden.data || []).length } : null,
      };
    },
    view(v) { setView(v); },
    play() { send({ type: "play" }); },
    pause() { send({ type: "pause" }); },
    step() { send({ type: "step" }); },
    reset() { send({ type: "reset" }); },
    set(values) {
      const v = {};
      for (const [k, x] of Object.entries(values)) v[k] = Array.isArray(x) ? x.join(",") : x;
      send({ type: "set", values: v });
    },
    select(seed) { send({ type: "select", seed }); },
  };
  window.playground = api;
  window.addEventListener("error", () => { S.consoleErrors++; });
  window.addEventListener("hashchange", () => send({ type: "set", values: hashValues(), base: "defaults" }));
  window.addEventListener("resize", layoutNetwork);
  bindControls();
  connect();
})();
