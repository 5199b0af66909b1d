// The static page's session, in a Web Worker: what `actlab play`'s server does for a page (its
// Session), with kernel.c's WebAssembly build (kernel.js) training every seed. It speaks the
// server's protocol — JSON messages in; states, errors and binary frames out — so the page is the
// same page. The rules it applies (the URL keys, the limits, the activations' mean-field numbers)
// come from the build's config, which actlab writes from its Python definitions.
// Its parts: worker_rules.js (settings, mean field), worker_data.js (datasets, CSV), worker_run.js
// (one activation's seeds) and kernel.js; the build joins them into one classic script (a Worker
// from file:// cannot import), so no two parts define the same name.
import { ACTIVATIONS, Kernel } from "./kernel.js";
import { C, PYTHON, defaults, meanField, parse, pyG, resolveInit, toHash } from "./worker_rules.js";
import { makeData, parseCsv } from "./worker_data.js";
import { Run, THUMB, concat } from "./worker_run.js";

const FPS = 30, STRIP_MACS = 5e8, MIN_STRIP_GRID = 12, STATS_EVERY_MS = 200, STRIP_EVERY_MS = 500;
let K = null, session = null;

// ------------------------------------------------------------------ the compared run on the other core

// The compared run, trained by a second Worker (the helper) on the other core: the page joins the two
// with a MessageChannel. This side keeps the run's latest position, statistics and selected map; the
// helper trains on towards the main run's position and answers each request when it can.
const LEAD = 8;  // epochs the main run may be ahead of the compared one (both train meanwhile)
let helper = null;

// A run, or a part of one, that the helper trains: its progress as last reported, and requests to it
class Remote {
  constructor(port, version, build) {
    Object.assign(this, { port, version, epoch: 0, position: 0, asked: false, target: -1 });
    port.postMessage(Object.assign({ cmd: "build", version }, build));
  }
  progress(m) {  // false for a previous run's message
    if (m.version !== this.version) return false;
    this.epoch = m.epoch; this.position = m.position;
    return true;
  }
  ask(cmd, extra = {}) {  // one request at a time: the next once its answer has come
    if (!this.asked) { this.asked = true; this.port.postMessage(Object.assign({ cmd, version: this.version }, extra)); }
  }
  trainUntil(position) { if (position > this.target) { this.target = position; this.port.postMessage({ cmd: "train", version: this.version, until: position }); } }
  dispose() { this.port.postMessage({ cmd: "drop", version: this.version }); }
}

class RemoteRun extends Remote {
  constructor(port, s, data, activation, version) {
    super(port, version, { s, data, activation });
    Object.assign(this, { activation, remote: true, last: null });
  }
  reply(m) { if (this.progress(m) && m.stats) { this.last = m.stats; this.asked = false; } }
  // the latest statistics and selected map (null until the first arrive); the next asked for
  latest(seed) { this.ask("stats", { seed }); return this.last; }
}

// A large run's seeds shared by the two cores: the helper trains the seeds from `first` on in a Run of
// its own and sends their parameters when asked; the main run holds every seed — its statistics, maps
// and export read them all there — and trains the blocks before `first`. Seeds are independent, so a
// seed's training is the same on either core. `synced`: where the helper's seeds were when last sent.
class RemotePart extends Remote {
  constructor(port, s, data, activation, version, first) {
    super(port, version, { s, data, activation, first });
    Object.assign(this, { first, floats: null, synced: { epoch: 0, position: 0 } });
  }
  reply(m) {  // progress, or the seeds' parameters; true when a frame has something new to show
    if (!this.progress(m)) return false;
    if (!m.floats) return this.position > this.synced.position;
    Object.assign(this, { floats: m.floats, asked: false, synced: { epoch: m.epoch, position: m.position } });
    return true;
  }
  // the parameters received since the last call (null: none), and the next asked for when the helper has trained on
  take() {
    if (this.position > this.synced.position) this.ask("pull");
    const f = this.floats; this.floats = null;
    return f;
  }
}

// the helper's side: one run, trained towards the main run's position in chunks, answering between them
const H = { run: null, version: -1, until: 0, port: null, timer: null, stats: null, at: 0, map: null };
function helperMessage(m) {
  if (m.cmd === "build") {
    if (H.run) H.run.dispose();
    Object.assign(H, { run: new Run(K, m.s, m.data, m.activation, m.first || 0), version: m.version, until: 0, stats: null, map: null });
    return;
  }
  if (m.version !== H.version || !H.run) return;
  if (m.cmd === "drop") { H.run.dispose(); H.run = null; H.version = -1; return; }
  if (m.cmd === "train") H.until = Math.max(H.until, m.until);
  if (m.cmd === "pull") {  // a part's parameters (its blocks), handed over
    const r = H.run, floats = r.nets.readBlocks();
    H.port.postMessage({ version: H.version, epoch: r.epoch, position: r.position, floats }, [floats.buffer]);
  }
  if (m.cmd === "stats") {  // every seed's statistics at most every STATS_EVERY_MS (as the main run's), the map each time
    const now = performance.now(), r = H.run;
    if (!H.stats || H.stats.epoch !== r.epoch && now - H.at >= STATS_EVERY_MS) { H.stats = r.stats(0); H.stats.epoch = r.epoch; H.at = now; }
    if (!H.map || H.map.seed !== m.seed || now - H.map.at >= 2 * 1000 / FPS)  // the small compared map: every other frame
      H.map = { seed: m.seed, at: now, output: r.heatmap(m.seed, false).output };
    const st = Object.assign({}, H.stats, { output: H.map.output });
    H.port.postMessage({ version: H.version, epoch: r.epoch, position: r.position, stats: st });
  }
  helperSchedule();
}
const helperChannel = new MessageChannel();  // (a chain of setTimeout(0) is held back 4 ms a link)
helperChannel.port1.onmessage = helperTrain;
function helperSchedule() { if (!H.timer) { H.timer = true; helperChannel.port2.postMessage(null); } }
function helperTrain() {
  H.timer = null;
  const r = H.run;
  if (!r || r.position >= H.until - 1e-9) return;
  const t0 = performance.now();
  while (performance.now() - t0 < 15 && r.position < H.until - 1e-9) if (!r.trainFor(15, null, H.until)) break;
  H.port.postMessage({ version: H.version, epoch: r.epoch, position: r.position });
  helperSchedule();  // messages first (a new target, a request: they are queued before this), then on
}

// ------------------------------------------------------------------ frames

// a run's per-seed sections (session.per_seed's): losses (float32), states (0 failed, 1 solved, 2 diverged)
function perSeed(st, prefix) {
  return { [`${prefix}_loss`]: Float32Array.from(st.loss), [`${prefix}_test_loss`]: Float32Array.from(st.test_loss),
           [`${prefix}_state`]: Uint8Array.from(st.solved, (x, i) => (st.diverged[i] ? 2 : x ? 1 : 0)) };
}

// the server's binary frame: uint32 header length, the JSON header (padded), 4-byte aligned sections
function encodeFrame(header, sections) {
  const layout = [], parts = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(sections)) {
    layout.push({ name, dtype: arr instanceof Uint8Array ? "uint8" : "float32", shape: [arr.length], offset });
    parts.push(arr); offset += arr.byteLength + ((4 - (arr.byteLength % 4)) % 4);
  }
  let head = new TextEncoder().encode(JSON.stringify(Object.assign({}, header, { sections: layout })));
  const pad = (4 - ((4 + head.length) % 4)) % 4, buf = new ArrayBuffer(4 + head.length + pad + offset), bytes = new Uint8Array(buf);
  new DataView(buf).setUint32(0, head.length + pad, true);
  bytes.set(head, 4); bytes.fill(32, 4 + head.length, 4 + head.length + pad);
  layout.forEach((l, i) => bytes.set(new Uint8Array(parts[i].buffer, parts[i].byteOffset, parts[i].byteLength), 4 + head.length + pad + l.offset));
  return buf;
}

// ------------------------------------------------------------------ the page's run

class Session {
  constructor() {
    this.custom = null; this.version = 0; this.playing = false; this.selected = 0; this.pending = 0;
    this.view = { regions: false, hidden: false, signal: false };
    [this.s, this.notices] = parse({}, defaults());
    this.build();
  }
  build(data) {
    const s = this.s;
    this.data = data || makeData(s, this.custom);
    if (this.runs) for (const r of this.runs) r.dispose();
    if (this.part) this.part.dispose();
    this.runs = [new Run(K, s, this.data, s.activation)]; this.part = null;
    if (s.compare !== "none")  // on the other core when the page started a helper, else here
      this.runs.push(helper ? new RemoteRun(helper, s, this.data, s.compare, this.version + 1) : new Run(K, s, this.data, s.compare));
    else if (helper && this.shared(this.runs[0])) {  // the later half of the blocks on the other core
      const main = this.runs[0], kb = Math.ceil(main.nets.blocks / 2);
      main.nets.trainBlocks = kb;
      this.part = new RemotePart(helper, s, this.data, s.activation, this.version + 1, kb * K.VS);
    }
    for (const a of [s.activation, ...(s.compare !== "none" ? [s.compare] : [])]) {  // no edge of chaos: which σ_w² instead
      const note = resolveInit(s, a)[3];
      if (note && !this.notices.includes(note)) this.notices.push(note);
    }
    this.version++; this.selected = Math.min(this.selected, s.seeds - 1); this.rate = []; this.cache = {}; this.netSent = false;
  }
  // whether a run's seeds are worth two cores: a step of at least the build's threshold
  // (static_site.SHARE_STEP_MACS: below it, per-step overhead rules and a second Worker gains nothing)
  shared(run) {
    const n = run.nets;
    return n.blocks >= 2 && n.blocks * K.VS * run.batch * 3 * run.macs >= C.engine.share_step_macs;
  }
  epoch() { return this.part ? Math.min(this.runs[0].epoch, this.part.synced.epoch) : this.runs[0].epoch; }
  seedEpoch(seed) { return this.part && seed >= this.part.first ? this.part.synced.epoch : this.runs[0].epoch; }
  stateMessage() {
    const d = this.data, r = this.runs[0], round = (v) => Math.round(v * 1e4) / 1e4;
    return {
      type: "state", version: this.version, settings: toHash(this.s), notices: this.notices,
      points: d.rows.map((p, i) => [round(p[0]), round(p[1]), round(p[2]), d.train[i]]), domain: d.domain, classes: d.classes,
      features: r.feats, all_features: C.schema.features, sizes: r.sizes, n_params: r.nets.P, maxout_k: 1,
      activations: Object.keys(ACTIVATIONS), datasets: C.schema.keys.dataset.choices.filter((x) => !["moons", "checkerboard"].includes(x)),
      reg_datasets: C.schema.keys.regDataset.choices, limits: C.schema.limits, selected: this.selected,
      device: "this browser (WebAssembly)", playing: this.playing, static: true,
      mean_field: this.runs.map((x) => meanField(this.s, x.activation)),
    };
  }
  handle(m) {
    if (!m || typeof m.type !== "string") throw new Error('a message must be an object with a "type"');
    const t = m.type;
    if (t === "set") {
      const [s, notices] = parse(m.values || {}, m.base === "defaults" ? defaults() : this.s);
      if ((s.problem === "classification" ? s.dataset : s.regDataset) === "custom" && !this.custom && this.data.name !== "xor4")
        this.custom = this.data.rows.map((p) => p.slice());
      this.s = s; this.notices = notices; this.build();
      return [this.stateMessage()];
    }
    if (t === "step") { this.playing = false; this.pending = Math.min(this.pending + 1, 100); return [{ type: "playing", playing: false, version: this.version }]; }
    if (t === "play" && !this.data.train.some(Boolean)) throw new Error("no training data: add points (click the output) or upload a CSV, or pick a dataset");
    if (t === "play" || t === "pause") { this.playing = t === "play"; return [{ type: "playing", playing: this.playing, version: this.version }]; }
    if (t === "reset") { this.notices = []; this.build(); this.playing = false; return [this.stateMessage(), { type: "playing", playing: false, version: this.version }]; }
    if (t === "regenerate") { this.s.seed = Math.random().toFixed(5); this.notices = []; this.build(); return [this.stateMessage()]; }
    if (t === "select") {
      if (!Number.isInteger(m.seed) || m.seed < 0 || m.seed >= this.s.seeds) throw new Error(`"select" needs "seed": an integer in 0..${this.s.seeds - 1}, got ${m.seed}`);
      this.selected = m.seed; this.netSent = false; return [];
    }
    if (t === "add_point" || t === "clear_points" || t === "csv") return this.points(m);
    if (t === "view") { for (const k of ["regions", "hidden", "signal"]) if (typeof m[k] === "boolean") this.view[k] = m[k]; return []; }
    if (t === "export") return [{ type: "export", seed: this.selected, json: this.exportSeed(this.selected) }];
    if (t === "ack") return [];
    throw new Error(`unknown message type ${JSON.stringify(t)}`);
  }
  points(m) {
    const D = C.data;
    if (m.type === "csv") {
      if (typeof m.text !== "string") throw new Error('"csv" needs "text": the file\'s contents');
      this.custom = parseCsv(m.text, this.s.problem);
    } else if (m.type === "clear_points") this.custom = [];
    else {
      const ok = [m.x, m.y].every((v) => typeof v === "number" && Number.isFinite(v) && Math.abs(v) <= D.max_coord);
      if (!ok) throw new Error(`"add_point" needs finite numbers "x" and "y" within ±${pyG(D.max_coord)}, got ${m.x}, ${m.y}`);
      const base = this.data.name === "custom" ? this.custom : this.data.name === "xor4" ? [] : this.data.rows.map((p) => p.slice());
      if (base.length >= D.max_points) throw new Error(`at most ${D.max_points} points`);
      const label = this.s.problem === "classification" ? (m.label > 0 ? 1 : -1) : Number(m.label) || 0;
      this.custom = base.concat([[m.x, m.y, label]]);
    }
    this.s[this.s.problem === "classification" ? "dataset" : "regDataset"] = "custom";
    this.notices = []; this.build();
    if (!this.data.train.some(Boolean)) this.playing = false;
    return [this.stateMessage()];
  }
  exportSeed(seed) {
    const r = this.runs[0], flat = r.nets.read(seed, 1), layers = [];
    let at = 0;
    for (const [rows, cols] of r.sizes) {
      const W = []; for (let j = 0; j < rows; j++) W.push(Array.from(flat.subarray(at + j * cols, at + (j + 1) * cols)));
      at += rows * cols; layers.push({ weight: W, bias: Array.from(flat.subarray(at, at + rows)) }); at += rows;
    }
    return { format: "actlab.play/1", seed, epoch: this.seedEpoch(seed), activation: r.activation, features: r.feats,
      output: "linear (a logit for cross-entropy)", loss: this.s.loss, settings: toHash(this.s), layers };
  }
  advance(budgetMs) {  // null: one epoch. Returns false when the main run waited for the compared one
    const [main, other] = this.runs, remote = other && other.remote ? other : this.part;
    let trained = true;
    if (remote) {  // on the helper's core, in parallel: main at most LEAD epochs ahead of the other
      const limit = remote.position + LEAD;
      if (budgetMs == null) main.trainFor(Infinity, main.epoch + 1);
      else if (main.position < limit) main.trainFor(budgetMs, null, limit);
      else trained = false;
      // a compared run may run LEAD epochs ahead too; a part of this run's seeds stops where the rest is
      remote.trainUntil(budgetMs == null || remote === this.part ? main.position : main.position + LEAD);
    } else if (budgetMs == null) for (const r of this.runs) r.trainFor(Infinity, r.epoch + 1);
    else if (!other) main.trainFor(budgetMs);
    else {  // a comparison in lockstep: the compared run catches up with the main one
      const t0 = performance.now();
      if (other.position >= main.position) main.trainFor(budgetMs / 2);
      other.trainFor(Math.max(budgetMs - (performance.now() - t0), 0.1), null, main.position);
    }
    const now = performance.now();
    this.rate.push([now, this.part ? Math.min(main.position, this.part.position) : main.position]);
    while (this.rate.length > 2 && now - this.rate[0][0] > 1000) this.rate.shift();
    return trained;
  }
  epochsPerS() {
    const w = this.rate;
    return w.length < 2 || w[w.length - 1][0] <= w[0][0] ? null : (w[w.length - 1][1] - w[0][1]) / ((w[w.length - 1][0] - w[0][0]) / 1000);
  }
  stripGrid() {
    const S = this.s.seeds, g = S <= 100 ? 24 : S <= 400 ? 16 : 10;
    return Math.min(g, Math.max(MIN_STRIP_GRID, Math.floor(Math.sqrt(STRIP_MACS / (S * this.runs[0].macs)))));
  }
  stats(which, g) {  // a run's statistics, at most every STATS_EVERY_MS while playing; its strip every STRIP_EVERY_MS
    const now = performance.now(), c = this.cache[which], r = this.runs[which];
    const fresh = !c || c.version !== this.version || c.g !== g || !this.playing;
    if (!fresh && now - c.at < Math.max(STATS_EVERY_MS, 30 * c.cost)) return c;
    const stripDue = g > 0 && (fresh || now - c.stripAt >= STRIP_EVERY_MS), st = r.stats(stripDue ? g : 0);
    if (g && !stripDue) st.strip = c.strip;
    Object.assign(st, { epoch: which === 0 ? this.epoch() : r.epoch, at: now, cost: performance.now() - now, version: this.version, g, stripAt: stripDue || !g ? now : c.stripAt });
    return (this.cache[which] = st);
  }
  frame() {
    const main = this.runs[0];
    if (this.part) {  // the helper's seeds as it last sent them
      const f = this.part.take();
      if (f) main.nets.writeBlocks(this.part.first / K.VS, f);
    }
    const g = this.stripGrid(), st = this.stats(0, g), sel = this.selected;
    const links = main.sizes.reduce((a, [r, c]) => a + r * c, 0), now = performance.now();
    const net = links <= 2000 || !this.playing || !this.netSent || now - this.netSent >= 1000;
    if (net) this.netSent = now;
    const hm = main.heatmap(sel, net), sections = { output: hm.output, strip: st.strip || new Uint8Array(0), ...perSeed(st, "seed") };
    const header = { type: "frame", version: this.version, epoch: this.epoch(), epochs_per_s: this.epochsPerS(), selected: sel,
      strip_grid: g, grid: main.grid, thumb: THUMB, stats_epoch: st.epoch, playing: this.playing };
    if (net) {
      const flat = main.nets.read(sel, 1), W = [], b = [];
      let at = 0;
      for (const [rows, cols] of main.sizes) { W.push(flat.subarray(at, at + rows * cols)); at += rows * cols; b.push(flat.subarray(at, at + rows)); at += rows; }
      const weights = concat([...W, ...b]);
      if (!weights.every(Number.isFinite)) { weights.forEach((v, i) => { if (!Number.isFinite(v)) weights[i] = 0; }); header.selected_diverged = true; }
      Object.assign(sections, { neurons: hm.neurons, weights });
    }
    if (this.view.regions) header.regions = main.patterns(sel);
    const other = this.runs[1], st2 = other && (other.remote ? other.latest(sel) : this.stats(1, 0));
    if (st2) {
      header.compare = { activation: other.activation, epoch: st2.epoch };
      Object.assign(sections, perSeed(st2, "compare"), { output_compare: other.remote ? st2.output : other.heatmap(sel, false).output });
    }
    return encodeFrame(header, sections);
  }
  analysis() {
    const r = this.runs[0], sel = this.selected, flat = r.nets.read(sel, 1);
    const out = { type: "analysis", version: this.version, seed: sel, epoch: this.seedEpoch(sel), features: r.feats, collapse: null, audit: null };
    const views = [];
    if (this.view.hidden) out.hidden = { note: `the hidden space is projected by actlab in Python (${PYTHON})` };
    if (this.view.signal) out.signal = { note: `the signal through depth is measured by actlab in Python (${PYTHON}); the mean field at this initialisation is in the header` };
    if (this.view.regions) views.push(`the exact linear regions are counted by actlab in Python (${PYTHON})`);
    if (!flat.every(Number.isFinite)) { out.note = `seed ${sel} has diverged (non-finite weights): no map to show; try a smaller learning rate or Adam`; return out; }
    if (r.activation === "linear") {
      out.collapse = collapse(flat, r.sizes);
      out.best_affine = leastSquares(r.Xtr, r.ytr, r.feats.length);
      const plain = r.feats.every((f) => f === "x" || f === "y");
      out.why = "Every layer is affine, so the whole network is one affine map ŷ = W′x + b′ of its inputs" + (plain
        ? `: the boundary W′x + b′ = ${this.data.classes ? r.threshold() : "c"} is a straight line, whatever the depth or width.`
        : ` — here of the features (${r.feats.join(", ")}), so the boundary is a level set of an affine function of them: curved in (x₁, x₂) only because the features are.`);
    } else views.unshift(`which module makes this ${r.activation} network nonlinear is told by actlab.audit in Python (${PYTHON})`);
    if (views.length) out.note = views.join("; ");
    return out;
  }
}

// A linear network's one affine map: W′ = W_L ⋯ W_1, b′ folded through (float64)
function collapse(flat, sizes) {
  let M = null, b = null, at = 0;
  for (const [rows, cols] of sizes) {
    const W = Array.from({ length: rows }, (_, j) => Array.from(flat.subarray(at + j * cols, at + (j + 1) * cols)));
    const bias = Array.from(flat.subarray(at + rows * cols, at + rows * cols + rows));
    at += rows * cols + rows;
    if (!M) { M = W; b = bias; continue; }
    M = W.map((row) => M[0].map((_, i) => row.reduce((a, w, k) => a + w * M[k][i], 0)));
    b = W.map((row, j) => row.reduce((a, w, k) => a + w * b[k], 0) + bias[j]);
  }
  return { weight: M[0], bias: b[0], residual: null };
}

// the best affine fit of y on the k features (least squares, normal equations in float64) and its R²
function leastSquares(X, y, k) {
  const n = y.length, d = k + 1;
  if (n < 2) return null;
  const A = Array.from({ length: d }, () => new Float64Array(d + 1)), row = (i) => [...X.subarray(i * k, i * k + k), 1];
  for (let i = 0; i < n; i++) { const r = row(i); for (let a = 0; a < d; a++) { for (let c = 0; c < d; c++) A[a][c] += r[a] * r[c]; A[a][d] += r[a] * y[i]; } }
  for (let a = 0; a < d; a++) A[a][a] += 1e-9 * (1 + A[a][a]);  // a feature constant over the data: minimum-norm-like
  for (let c = 0; c < d; c++) {  // Gaussian elimination with partial pivoting
    let p = c; for (let r = c + 1; r < d; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < d; r++) if (r !== c) { const f = A[r][c] / A[c][c]; for (let j = c; j <= d; j++) A[r][j] -= f * A[c][j]; }
  }
  const w = A.map((r, i) => r[d] / r[i]), m = y.reduce((a, v) => a + v, 0) / n;
  let ss = 0, tot = 0;
  for (let i = 0; i < n; i++) { const f = row(i).reduce((a, v, j) => a + v * w[j], 0); ss += (y[i] - f) ** 2; tot += (y[i] - m) ** 2; }
  return { weight: w.slice(0, k), bias: w[k], r2: tot > 0 ? 1 - ss / tot : null };
}

// ------------------------------------------------------------------ the loop: train, then a frame when the page is ready

let unacked = 0, sentAt = 0, nextAt = 0, dirty = true, frameCost = 5, analysisKey = "", analysisAt = 0, timer = null;
const post = (m) => self.postMessage(m);

function tick() {
  timer = null;
  const s = session, period = 1000 / FPS;
  let waited = false;
  try {
    const train = s.playing || s.pending > 0;
    if (s.pending > 0) { s.pending--; s.advance(null); dirty = true; }
    else if (s.playing) { waited = !s.advance(Math.min(period, Math.max(2, nextAt - frameCost - performance.now()))); dirty = true; }
    const now = performance.now();
    if (unacked && now - sentAt > 2000) unacked = 0;
    if (dirty && unacked < 2 && now >= nextAt - frameCost - 2) {
      const t0 = performance.now(), buf = s.frame();
      frameCost = 0.8 * frameCost + 0.2 * (performance.now() - t0);
      unacked++; dirty = false; sentAt = performance.now();
      nextAt = Math.max(nextAt + Math.max(period, frameCost / 0.3), sentAt - period);
      self.postMessage(buf, [buf]);
    }
    const key = [s.version, s.selected, s.view.regions, s.view.hidden, s.view.signal, s.runs[0].epoch].join();
    if (key !== analysisKey && (!s.playing || now - analysisAt > 1000 || key.split(",").slice(0, 5).join() !== analysisKey.split(",").slice(0, 5).join())) {
      analysisKey = key; analysisAt = now; post(s.analysis());
    }
    if (train || dirty) schedule(train && !waited ? 0 : waited ? 1 : 4);
  } catch (e) {
    s.playing = false;
    post({ type: "error", message: `training stopped: ${e.message}` });
  }
}
// the next tick: at once through a MessageChannel (a browser holds a chain of setTimeout(0) calls back
// 4 ms each, which left the engine idle a third of the time), or after ms milliseconds
const channel = typeof MessageChannel === "function" ? new MessageChannel() : null;
if (channel) channel.port1.onmessage = tick;
function schedule(ms) {
  if (timer) return;
  if (ms === 0 && channel) { timer = true; channel.port2.postMessage(null); } else timer = setTimeout(tick, ms);
}

async function gunzip(bytes) {  // the page carries the module gzipped (a third of its size)
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
}

self.onmessage = async (ev) => {
  const m = ev.data;
  if (m && m.type === "init") {  // the build's config, the WebAssembly module's bytes, and the helper's port
    try {
      Object.assign(C, m.config); K = await Kernel.load(m.gzip ? await gunzip(m.wasm) : m.wasm);
      if (m.role === "helper") {  // the compared run's engine: it answers on its port only
        H.port = m.port; H.port.onmessage = (ev) => helperMessage(ev.data);
        return;
      }
      if (m.port) {
        helper = m.port;
        helper.onmessage = (ev) => {  // the compared run's or the part's progress, its statistics or seeds: a frame to show them
          if (session && session.part) { if (session.part.reply(ev.data)) { dirty = true; schedule(0); } return; }
          const r = session && session.runs[1];
          if (!r || !r.remote) return;
          r.reply(ev.data);
          if (ev.data.stats) { dirty = true; schedule(0); }
        };
      }
      session = new Session();
      self.actlab = { session };  // for scripts and tests that drive the session directly
      post({ type: "hello", token: "static", fps_cap: FPS });
      post(session.stateMessage());
      schedule(0);
    } catch (e) { post({ type: "error", message: `the WebAssembly engine did not start: ${e.message}` }); }
    return;
  }
  if (!session) return;
  let msg;
  try { msg = JSON.parse(m); } catch (e) { post({ type: "error", message: "expected JSON" }); return; }
  if (msg.type === "ack") { unacked = Math.max(0, unacked - 1); schedule(0); return; }
  try { for (const r of session.handle(msg)) post(r); } catch (e) { post({ type: "error", message: e.message }); }
  dirty = true; schedule(0);
};
