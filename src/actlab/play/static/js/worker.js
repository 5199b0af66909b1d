// The static page's session, in a Web Worker: what `actlab play`'s server does for a page (its
// Session), with kernel.c's WebAssembly build (kernel.js) training every seed. It speaks the
// server's protocol — JSON messages in; states, errors and binary frames out — so the page is the
// same page. The rules it applies (the URL keys, the limits, the activations' mean-field numbers)
// come from the build's config, which actlab writes from its Python definitions.
// The build joins kernel.js and this file into one classic script (a Worker from file:// cannot
// import): nothing here is exported.
import { ACTIVATIONS, Kernel, Nets } from "./kernel.js";

const FPS = 30, GRID = 100, MIN_GRID = 32, THUMB = 20, FRAME_MACS = 30e6, STRIP_MACS = 5e8, MIN_STRIP_GRID = 12;
const STATS_EVERY_MS = 200, STRIP_EVERY_MS = 500;
const PYTHON = "pip install actlab, then `actlab play`";
let C = null, K = null, session = null;

// ------------------------------------------------------------------ settings (the config's rules)

function parseValue(key, rule, raw) {
  const s = String(raw).trim(), fail = (why) => { throw new Error(why); };
  const number = (lo, hi, whole, v = s) => {
    const x = typeof raw === "boolean" || v.trim() === "" ? NaN : Number(v);
    if (!Number.isFinite(x)) fail("expected a number");
    if (x < lo || x > hi) fail(`expected a number in [${pyG(lo)}, ${pyG(hi)}]`);
    if (whole && x !== Math.trunc(x)) fail("expected a whole number");
    return x;
  };
  const activation = (v) => {
    const name = C.schema.activation_aliases[v.toLowerCase().replace(/-/g, "_")];
    if (!name) fail("expected one of " + C.schema.activations.join(", "));
    if (!(name in ACTIVATIONS)) fail(`${name} trains only in \`actlab play\` (${PYTHON}); this page trains ${Object.keys(ACTIVATIONS).join(", ")}`);
    return name;
  };
  switch (rule.kind) {
    case "bool":
      if (raw === true || raw === false) return raw;
      if (["true", "1"].includes(s.toLowerCase())) return true;
      if (["false", "0"].includes(s.toLowerCase())) return false;
      return fail("expected true or false");
    case "int": return number(rule.lo, rule.hi, true);
    case "float": return number(rule.lo, rule.hi, false);
    case "choice": {
      const v = rule.aliases[s] || s;
      if (!rule.choices.includes(v)) fail("expected one of " + rule.choices.join(", "));
      return v;
    }
    case "shape": {
      const parts = s ? s.split(",") : [];
      if (parts.length > C.schema.limits.layers) fail(`at most ${C.schema.limits.layers} hidden layers`);
      return parts.map((p) => number(1, C.schema.limits.neurons, true, p));
    }
    case "seed":
      if (!s || s.length > 64) fail("expected a non-empty string of at most 64 characters");
      return s;
    case "activation": return activation(s);
    case "compare": return s === "none" || s === "" ? "none" : activation(s);
  }
  return fail(`no rule for ${key}`);
}

// values in notices as the served page's Python writes them (its repr, its :g), so both pages say the same
function pyRepr(v, max) {
  const r = typeof v === "string" ? (v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/'/g, "\\'")}'`)
    : typeof v === "boolean" ? (v ? "True" : "False") : String(v);
  return r.length <= max ? r : r.slice(0, max - 3) + "…";
}
function pyG(v) {
  if (v === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(6)))));
  if (e < -4 || e >= 6) {
    const [m, x] = v.toExponential(5).split("e");
    return `${m.replace(/\.?0+$/, "")}e${x[0] === "-" ? "-" : "+"}${x.replace(/^[-+]/, "").padStart(2, "0")}`;
  }
  return String(Number(v.toPrecision(6)));
}
function pyDefault(rule) {
  const d = rule.default;
  if (rule.kind === "int") return d;
  if (rule.kind === "float") return pyFloat(Number(d));
  if (rule.kind === "bool") return d === "true" ? "True" : "False";
  return pyRepr(d, Infinity);
}

function defaults() {
  const out = {};
  for (const [k, r] of Object.entries(C.schema.keys)) out[k] = parseValue(k, r, r.default);
  return out;
}

// Settings from URL keys over base (a whole link: over the defaults); a notice for each bad value.
function parse(values, base) {
  const s = Object.assign({}, base), dflt = defaults(), notices = [];
  for (const [key, raw] of Object.entries(values)) {
    const rule = C.schema.keys[key];
    if (!rule) continue;  // TensorFlow Playground's other keys, and its forks'
    try { s[key] = parseValue(key, rule, raw); } catch (e) {
      notices.push(`${key}=${pyRepr(raw, 40)}: ${e.message}; using the default ${pyDefault(rule)}`);
      s[key] = dflt[key];
    }
  }
  const needsPython = { moons: "moons", checkerboard: "checkerboard" };
  if (s.problem === "classification" && needsPython[s.dataset]) {
    notices.push(`dataset=${s.dataset} is made by actlab.datasets in Python (${PYTHON}); using circle`);
    s.dataset = "circle";
  }
  const grid = C.theory.sigma_b2;
  if (s.init === "critical" && !grid.includes(s.sigmaB2)) {  // the edge of chaos is tabulated at these σ_b²
    const near = grid.reduce((a, b) => (Math.abs(b - s.sigmaB2) < Math.abs(a - s.sigmaB2) ? b : a));
    notices.push(`init=critical at sigmaB2=${pyG(s.sigmaB2)}: this page has actlab.theory's edge of chaos at σ_b² = ` +
                 `${grid.map(pyG).join(", ")} (${PYTHON} for any); using ${pyG(near)}`);
    s.sigmaB2 = near;
  }
  if (!C.schema.features.some((f) => s[f])) { notices.push("no input feature selected: using x₁ and x₂"); s.x = s.y = true; }
  if (s.problem === "regression" && s.loss === "bce") { notices.push("cross-entropy needs two classes: regression uses mse"); s.loss = "mse"; }
  const cap = maxSeeds(s);
  if (s.seeds > cap) { notices.push(`seeds=${s.seeds}: at most ${cap} seeds of this network fit the memory cap; using ${cap}`); s.seeds = cap; }
  return [s, notices];
}

function features(s) { return C.schema.features.filter((f) => s[f]); }
function nParams(s) {
  const w = [Math.max(1, features(s).length), ...s.networkShape, 1];
  let n = 0; for (let i = 0; i + 1 < w.length; i++) n += w[i + 1] * (w[i] + 1);
  return n;
}
function maxSeeds(s) {
  const cap = Math.min(C.schema.limits.seeds, Math.floor(C.schema.limits.seed_params / nParams(s))), B = C.schema.seed_block;
  return Math.max(1, cap > B ? cap - (cap % B) : cap);
}
function pyFloat(v) {  // a float as Python's str() writes it (the served page's links: 0.0, 1e-05)
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  if (v === 0 || (Math.abs(v) >= 1e-4 && Math.abs(v) < 1e16)) return String(v);
  const [m, e] = v.toExponential().split("e");
  return `${m}e${e[0] === "-" ? "-" : "+"}${e.replace(/^[-+]/, "").padStart(2, "0")}`;
}
function toHash(s) {  // the settings as a link writes them
  const out = {};
  for (const [k, rule] of Object.entries(C.schema.keys)) {
    const v = s[k];
    out[k] = typeof v === "boolean" ? String(v) : Array.isArray(v) ? v.join(",") : rule.kind === "float" ? pyFloat(v) : String(v);
  }
  return out;
}

// ------------------------------------------------------------------ data: TensorFlow Playground's sets

function rngOf(text) {  // a seeded uniform [0, 1): mulberry32 of the string's FNV-1a hash
  let a = 2166136261;
  for (let i = 0; i < text.length; i++) a = Math.imul(a ^ text.charCodeAt(i), 16777619);
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.uniform = (lo, hi) => lo + (hi - lo) * next();
  next.normal = (mean, sd) => mean + sd * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return next;
}

const GAUSSIANS = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]];
const GENERATORS = {
  circle(n, noise, r) {
    const R = 5, out = [];
    for (const [lo, hi] of [[0, R * 0.5], [R * 0.7, R]])
      for (let i = 0; i < n / 2; i++) {
        const rad = r.uniform(lo, hi), a = r.uniform(0, 2 * Math.PI), x = rad * Math.sin(a), y = rad * Math.cos(a);
        const nx = r.uniform(-R, R) * noise, ny = r.uniform(-R, R) * noise;
        out.push([x, y, Math.hypot(x + nx, y + ny) < R * 0.5 ? 1 : -1]);
      }
    return out;
  },
  xor(n, noise, r) {
    const out = [];
    for (let i = 0; i < n; i++) {
      let x = r.uniform(-5, 5), y = r.uniform(-5, 5);
      x += x > 0 ? 0.3 : -0.3; y += y > 0 ? 0.3 : -0.3;  // TensorFlow Playground's padding around the axes
      const nx = r.uniform(-5, 5) * noise, ny = r.uniform(-5, 5) * noise;
      out.push([x, y, (x + nx) * (y + ny) >= 0 ? 1 : -1]);
    }
    return out;
  },
  gauss(n, noise, r) {
    const sd = 0.5 + (4 - 0.5) * noise / 0.5, out = [];  // its normalRandom takes the variance as a deviation
    for (const [c, label] of [[2, 1], [-2, -1]]) for (let i = 0; i < n / 2; i++) out.push([r.normal(c, sd), r.normal(c, sd), label]);
    return out;
  },
  spiral(n, noise, r) {
    const m = n / 2, out = [];
    for (const [delta, label] of [[0, 1], [Math.PI, -1]])
      for (let i = 0; i < m; i++) {
        const rad = i / m * 5, t = 1.75 * i / m * 2 * Math.PI + delta;
        out.push([rad * Math.sin(t) + r.uniform(-1, 1) * noise, rad * Math.cos(t) + r.uniform(-1, 1) * noise, label]);
      }
    return out;
  },
  "reg-plane"(n, noise, r) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const x = r.uniform(-6, 6), y = r.uniform(-6, 6);
      out.push([x, y, (x + r.uniform(-6, 6) * noise + y + r.uniform(-6, 6) * noise) / 10]);
    }
    return out;
  },
  "reg-gauss"(n, noise, r) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const x = r.uniform(-6, 6), y = r.uniform(-6, 6), px = x + r.uniform(-6, 6) * noise, py = y + r.uniform(-6, 6) * noise;
      let best = 0;
      for (const [cx, cy, sg] of GAUSSIANS) {
        const v = sg * Math.min(1, Math.max(0, 1 - Math.hypot(px - cx, py - cy) / 2));
        if (Math.abs(v) > Math.abs(best)) best = v;
      }
      out.push([x, y, best]);
    }
    return out;
  },
};

// The run's data: points, labels, the train/test split, the square drawn and the classes.
function makeData(s, custom) {
  const name = s.problem === "classification" ? s.dataset : s.regDataset, r = rngOf(s.seed);
  if (name === "xor4")  // the article's 4 points: trained on all four, labels 0/1
    return { name, rows: [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]], train: [true, true, true, true], domain: [-0.5, 1.5], classes: [0, 1] };
  let rows = name === "custom" ? (custom || []).map((p) => p.slice())
    : GENERATORS[name](s.problem === "regression" ? C.data.n_regress : C.data.n_classify, s.noise / 100, r);
  for (let i = rows.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [rows[i], rows[j]] = [rows[j], rows[i]]; }
  let nTrain = Math.round(rows.length * s.percTrainData / 100);
  if (rows.length) nTrain = rows.length === 1 ? Math.max(nTrain, 1) : Math.min(Math.max(nTrain, 1), rows.length - 1);
  let domain = [-6, 6];
  if (name === "custom" && rows.length) {
    const all = rows.flatMap((p) => [p[0], p[1]]), lo = Math.min(-6, ...all), hi = Math.max(6, ...all), span = Math.max(1e-9, hi - lo);
    domain = [lo - 0.05 * span, hi + 0.05 * span];
  }
  return { name, rows, train: rows.map((_, i) => i < nTrain), domain, classes: s.problem === "regression" ? null : [-1, 1] };
}

const FEATURE_FNS = { x: (x) => x, y: (x, y) => y, xSquared: (x) => x * x, ySquared: (x, y) => y * y,
  xTimesY: (x, y) => x * y, sinX: (x) => Math.sin(x), sinY: (x, y) => Math.sin(y) };
function featureRows(points, names) {  // (n, len(names)) float32, row-major
  const out = new Float32Array(points.length * names.length);
  points.forEach(([x, y], i) => names.forEach((f, j) => { out[i * names.length + j] = FEATURE_FNS[f](x, y); }));
  return out;
}
function gridPoints(g, [lo, hi]) {  // cell centres, row 0 at the top (largest x₂)
  const c = Array.from({ length: g }, (_, i) => lo + (i + 0.5) * (hi - lo) / g), out = [];
  for (let i = g - 1; i >= 0; i--) for (let j = 0; j < g; j++) out.push([c[j], c[i]]);
  return out;
}

// ------------------------------------------------------------------ a CSV of your own points

// Records of CSV text as Python's csv.reader(strict=True) reads them: quoted fields ("" a quote), a
// field's quote opened at its start only; the same errors.
function csvRecords(text) {
  const out = [];
  let rec = [], field = "", quoted = false, wasQuoted = false, i = 0;
  const end = () => { rec.push(field); field = ""; wasQuoted = false; };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; wasQuoted = true; i++;
        if (i < text.length && text[i] !== "," && text[i] !== "\n") throw new Error("',' expected after '\"'");
        continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === "" && !wasQuoted) { quoted = true; i++; continue; }
    if (c === ",") { end(); i++; continue; }
    if (c === "\n") { end(); out.push(rec); rec = []; i++; continue; }
    field += c; i++;
  }
  if (quoted) throw new Error("unexpected end of data");
  if (field !== "" || rec.length || wasQuoted) { end(); out.push(rec); }
  return out;
}

function pyNumber(text) {  // Python's float() of a CSV field (spaces, underscores, inf and nan as it takes them)
  const s = text.trim();
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s[0] === "-" ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  const d = "\\d(?:_?\\d)*";
  if (!new RegExp(`^[+-]?(?:${d}(?:\\.(?:${d})?)?|\\.${d})(?:[eE][+-]?${d})?$`).test(s)) return null;
  return Number(s.replace(/_/g, ""));
}

// (n, 3) rows x₁, x₂, label of a CSV (actlab.play.data.parse_csv's rules and messages)
function parseCsv(text, problem) {
  const D = C.data;
  if (new TextEncoder().encode(text).length > D.max_csv_bytes) throw new Error(`the CSV is larger than ${D.max_csv_bytes >> 10} KiB`);
  let records;
  try { records = csvRecords(text.replace(/\r\n/g, "\n").replace(/\r/g, "\n")); } catch (e) { throw new Error(`the CSV cannot be read: ${e.message}`); }
  const rows = [];
  for (let i = 1; i <= records.length; i++) {
    const rec = records[i - 1];
    if (!rec.length || rec.every((c) => !c.trim())) continue;
    if (rec.length !== 3) throw new Error(`CSV line ${i}: expected 3 columns (x1, x2, label), got ${rec.length}`);
    const vals = rec.map(pyNumber), shown = pyRepr(rec.join(",").slice(0, 60), Infinity);
    if (vals.includes(null)) {
      if (!rows.length && i === 1) continue;  // a header
      throw new Error(`CSV line ${i}: expected numbers, got ${shown}`);
    }
    if (!vals.every((v) => Number.isFinite(v) && Math.abs(v) <= D.max_coord))
      throw new Error(`CSV line ${i}: values must be finite and within ±${pyG(D.max_coord)}, got ${shown}`);
    rows.push(vals);
    if (rows.length > D.max_points) throw new Error(`the CSV has more than ${D.max_points} rows`);
  }
  if (rows.length < 2) throw new Error(`the CSV needs at least 2 data rows (x1, x2, label), got ${rows.length}`);
  if (problem === "classification") {
    const values = [...new Set(rows.map((r) => r[2]))].sort((a, b) => a - b);
    if (values.length !== 2) throw new Error(`classification needs exactly 2 distinct labels, the CSV has ${values.length}`);
    for (const r of rows) r[2] = r[2] === values[1] ? 1 : -1;
  }
  return rows;
}

// ------------------------------------------------------------------ initial weights: actlab's own

const M64 = (1n << 64n) - 1n;
// actlab's trainer's draws (actlab.train.init_weights): uniforms from splitmix64 of (seed, index), so
// seed s starts here as in `actlab play`, `actlab xor` and actlab.train. glorot: weights
// U(±√(6/(fan_in + fan_out))), zero biases; gaussian: weights N(0, σ_w²/fan_in), biases N(0, σ_b²)
function initWeights(sizes, S, init = "glorot", w2 = 1, b2 = 0) {
  const P = sizes.reduce((a, [r, c]) => a + r * c + r, 0), out = new Float32Array(S * P);
  const u01 = (base, pos) => {
    let z = (base + BigInt(pos) * 0x9E3779B97F4A7C15n) & M64;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M64;
    z ^= z >> 31n;
    return Number(z >> 11n) * 2 ** -53;
  };
  const normal = (u) => ndtri(Math.min(Math.max(u, 2 ** -53), 1 - 2 ** -53));
  for (let s = 0; s < S; s++) {
    const base = (BigInt(s) * 0xD1B54A32D192ED03n) & M64;
    let pos = 0;
    for (const [rows, cols] of sizes) {
      const a = Math.sqrt(6 / (rows + cols)), sw = Math.sqrt(w2 / cols), sb = Math.sqrt(b2);
      for (let i = 0; i < rows * cols; i++, pos++)
        out[s * P + pos] = init === "gaussian" ? normal(u01(base, pos)) * sw : (2 * u01(base, pos) - 1) * a;
      for (let j = 0; j < rows; j++, pos++) if (init === "gaussian") out[s * P + pos] = normal(u01(base, pos)) * sb;
    }
  }
  return out;
}

// ------------------------------------------------------------------ the initialisation and its mean field

// (init, σ_w², σ_b², note) as actlab.play.mean_field.resolve_init, the edge of chaos from the build's table
function resolveInit(s, activation) {
  if (s.init === "glorot") return ["glorot", 1.0, 0.0, null];
  if (s.init === "gaussian") return ["gaussian", s.sigmaW2, s.sigmaB2, null];
  const c = C.theory.critical[`${activation}|${pyFloat(s.sigmaB2)}`];
  if (c.error) return ["gaussian", s.sigmaW2, s.sigmaB2, `init=critical: ${c.error}; using σ_w² = ${pyG(s.sigmaW2)}`];
  return ["gaussian", c.w, s.sigmaB2, null];
}

// the header's mean field (actlab.play.mean_field.theory), from the tables actlab.theory wrote at build time
function meanField(s, activation) {
  if (s.init === "glorot") return C.theory.glorot[activation];
  const [, w2, b2, note] = resolveInit(s, activation), T = C.theory;
  const out = { init: s.init, activation, sigma_w2: w2, sigma_b2: b2, note };
  const c = s.init === "critical" ? T.critical[`${activation}|${pyFloat(s.sigmaB2)}`] : null;
  const m = c && !c.error ? c.m : T.gaussian[`${activation}|${pyFloat(w2)}|${pyFloat(b2)}`];
  if (!m) return Object.assign(out, { phase: null, note: `mean field: this page has actlab.theory's numbers at σ_w² = ` +
    `${T.sigma_w2.map(pyG).join(", ")} and σ_b² = ${T.sigma_b2.map(pyG).join(", ")} (${PYTHON} for any)` });
  const [phase, chi1, xi_c, q_star] = m;
  return Object.assign(out, { phase, chi1, xi_c, q_star });
}

// Wichura's AS241: the standard normal quantile to double precision (torch.special.ndtri's values)
function ndtri(p) {
  const poly = (c, r) => c.reduceRight((a, k) => a * r + k, 0);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return q * poly([3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
      45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727], r)
      / poly([1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867,
        39307.89580009271061, 28729.085735721942674, 5226.495278852545925], r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p)), v;
  if (r <= 5) {
    r -= 1.6;
    v = poly([1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
      1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4], r)
      / poly([1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
        0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9], r);
  } else {
    r -= 5;
    v = poly([6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
      0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7], r)
      / poly([1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4,
        1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15], r);
  }
  return q < 0 ? -v : v;
}

// ------------------------------------------------------------------ one activation's seeds

const quantize = (v) => Math.round((Math.max(-1, Math.min(1, Number.isNaN(v) ? 0 : v)) + 1) * 127.5);

class Run {
  constructor(s, data, activation) {
    this.s = s; this.data = data; this.activation = activation;
    this.feats = features(s);
    const w = [this.feats.length, ...s.networkShape];
    this.sizes = w.slice(1).map((r, i) => [r, w[i]]).concat([[1, w[w.length - 1]]]);
    const tr = data.rows.filter((_, i) => data.train[i]), te = data.rows.filter((_, i) => !data.train[i]);
    this.Xtr = featureRows(tr, this.feats); this.Xte = featureRows(te, this.feats);
    this.ytr = tr.map((p) => p[2]); this.yte = te.map((p) => p[2]);
    const bce = s.loss === "bce" && data.classes;
    this.ttr = Float32Array.from(this.ytr, (y) => (bce ? (y - data.classes[0]) / (data.classes[1] - data.classes[0]) : y));
    this.N = tr.length;
    this.batch = Math.max(1, Math.min(s.batchSize, this.N));
    const P = this.sizes.reduce((a, [r, c]) => a + r * c + r, 0);  // initZero: TensorFlow Playground's all-zero start
    const [init, w2, b2, note] = resolveInit(s, activation);
    const flat = s.initZero ? new Float32Array(s.seeds * P) : initWeights(this.sizes, s.seeds, init, w2, b2);
    this.nets = new Nets(K, this.sizes, flat, Object.assign({}, s, { activation, batchSize: this.batch }));
    this.macs = this.sizes.reduce((a, [r, c]) => a + r * c, 0);
    this.grid = Math.floor(Math.min(GRID, Math.max(MIN_GRID, Math.sqrt(FRAME_MACS / this.macs))));
    this.gridIn = {};
    this.rng = rngOf(s.seed + "/order");  // the epochs' orders, one shuffle an epoch
    this.epoch = 0; this.pos = 0; this.order = null; this.ahead = [];
    this.stepMs = 0.05;
  }
  dispose() { this.nets.dispose(); }
  inputs(g) { return this.gridIn[g] || (this.gridIn[g] = featureRows(gridPoints(g, this.data.domain), this.feats)); }
  get position() { return this.epoch + (this.N ? this.pos / this.N : 0); }
  shuffle() {  // an epoch's rows and targets in a fresh order
    const n = this.N, k = this.feats.length, p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(this.rng() * (i + 1)); [p[i], p[j]] = [p[j], p[i]]; }
    const X = new Float32Array(n * k), t = new Float32Array(n);
    p.forEach((src, i) => { X.set(this.Xtr.subarray(src * k, src * k + k), i * k); t[i] = this.ttr[src]; });
    return { X, t };
  }
  // minibatch steps for about budgetMs (at least one), stopping at epoch untilEpoch or at position until
  trainFor(budgetMs, untilEpoch = null, until = null) {
    const N = this.N, B = this.batch, per = Math.ceil(N / B);
    if (!N || (until != null && this.position >= until)) return 0;
    if (!this.order || this.pos >= N) { this.order = this.ahead.length ? this.ahead.shift() : this.shuffle(); this.pos = 0; }
    const left = Math.ceil((N - this.pos) / B);
    let n = Math.max(1, Math.floor(budgetMs / this.stepMs));
    if (untilEpoch != null) n = Math.min(n, left + (untilEpoch - this.epoch - 1) * per);
    if (until != null) n = Math.min(n, Math.max(1, Math.ceil((until - this.position) * N / B - 1e-9)));
    const epochs = 1 + Math.ceil(Math.max(0, n - left) / per);
    while (this.ahead.length < epochs - 1) this.ahead.push(this.shuffle());
    const parts = [this.order, ...this.ahead.slice(0, epochs - 1)];
    const X = parts.length > 1 ? concat(parts.map((p) => p.X)) : this.order.X, t = parts.length > 1 ? concat(parts.map((p) => p.t)) : this.order.t;
    const t0 = performance.now(), done = this.nets.train(X, t, N, this.pos, n);
    this.stepMs = 0.8 * this.stepMs + 0.2 * Math.max(1e-4, (performance.now() - t0) / Math.max(done, 1));
    this.advance(done, left, N, B, per);
    return done;
  }
  advance(done, left, N, B, per) {
    if (done < left) { this.pos += done * B; return; }
    done -= left; this.epoch++; this.pos = N;
    while (done > 0) {
      const take = Math.min(done, per);
      this.order = this.ahead.shift(); this.pos = Math.min(N, take * B); done -= take;
      if (this.pos >= N) this.epoch++;
    }
  }
  threshold() { return this.s.loss === "bce" ? 0 : (this.data.classes[0] + this.data.classes[1]) / 2; }
  colour(v) {  // an output mapped to [−1, 1] for drawing
    if (!this.data.classes) return v;
    if (this.s.loss === "bce") return Math.tanh(v / 2);
    const [lo, hi] = this.data.classes;
    return (v - (lo + hi) / 2) / ((hi - lo) / 2);
  }
  loss(out, y) {
    let sum = 0;
    if (this.s.loss === "bce" && this.data.classes) {
      const [lo, hi] = this.data.classes;
      for (let i = 0; i < y.length; i++) { const z = out[i], t = (y[i] - lo) / (hi - lo); sum += Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z))); }
    } else for (let i = 0; i < y.length; i++) sum += 0.5 * (out[i] - y[i]) ** 2;
    return y.length ? sum / y.length : NaN;
  }
  solved(out, y) {  // TensorFlow Playground's sets: training accuracy ≥ 0.9; XOR (4 points): every output within 0.4
    if (!y.length) return false;
    if (this.data.name === "xor4")
      return y.every((t, i) => Math.abs((this.s.loss === "bce" ? 1 / (1 + Math.exp(-out[i])) : out[i]) - t) < 0.4);
    if (!this.data.classes) {
      const m = y.reduce((a, b) => a + b, 0) / y.length, v = Math.max(1e-12, y.reduce((a, b) => a + (b - m) ** 2, 0) / y.length);
      return 1 - y.reduce((a, t, i) => a + (out[i] - t) ** 2, 0) / y.length / v >= 0.9;
    }
    const th = this.threshold(), mid = (this.data.classes[0] + this.data.classes[1]) / 2;
    return y.filter((t, i) => (out[i] > th) === (t > mid)).length / y.length >= 0.9;
  }
  // every seed's loss, test loss, solved and diverged (and with g, its strip map), one forward pass
  stats(g) {
    const k = this.feats.length, ntr = this.ytr.length, nte = this.yte.length, grid = g ? this.inputs(g) : new Float32Array(0);
    const X = concat([this.Xtr, this.Xte, grid]), n = X.length / k, out = this.nets.predict(X, n), S = this.s.seeds;
    const params = this.nets.read(), P = this.nets.P, res = { loss: [], test_loss: [], solved: [], diverged: [] };
    if (g) res.strip = new Uint8Array(S * g * g);
    for (let s = 0; s < S; s++) {
      const o = out.subarray(s * n, (s + 1) * n), lt = this.loss(o, this.ytr);
      let div = ntr > 0 && !Number.isFinite(lt);
      for (let i = 0; i < P && !div; i++) div = !Number.isFinite(params[s * P + i]);
      res.loss.push(lt); res.test_loss.push(this.loss(o.subarray(ntr), this.yte));
      res.diverged.push(div); res.solved.push(!div && this.solved(o, this.ytr));
      if (g) for (let i = 0; i < g * g; i++) res.strip[s * g * g + i] = quantize(this.colour(o[ntr + nte + i]));
    }
    return res;
  }
  heatmap(seed, neurons) {
    const g = this.grid, out = this.nets.predict(this.inputs(g), g * g, false, seed), res = {};
    res.output = Uint8Array.from(out, (v) => quantize(this.colour(v)));
    if (neurons) {  // every input feature's and hidden unit's value on the THUMB² grid: (units, THUMB²)
      const x = this.inputs(THUMB), k = this.feats.length, n = THUMB * THUMB, T = this.nets.T, hidden = T - 1;
      const u = this.nets.predict(x, n, true, seed), m = new Uint8Array((k + hidden) * n);
      for (let i = 0; i < n; i++) {
        for (let f = 0; f < k; f++) m[f * n + i] = quantize(x[i * k + f]);
        for (let j = 0; j < hidden; j++) m[(k + j) * n + i] = quantize(u[i * T + j]);
      }
      res.neurons = m;
    }
    return res;
  }
  // the selected seed's distinct on/off patterns of its units over the output grid: a piecewise-linear
  // net is one affine map on each, so their number is a lower bound on its linear regions
  patterns(seed) {
    const exact = `the exact linear regions are counted by actlab.regions in Python (${PYTHON})`;
    if (this.activation === "linear")
      return { note: `One linear region: seed ${seed} is a single affine map on the whole square — its boundary is a line.`, patterns: 1 };
    if (!["relu", "leaky_relu"].includes(this.activation)) return { note: `${this.activation} is not piecewise linear: no linear regions` };
    const g = this.grid, n = g * g, T = this.nets.T, u = this.nets.predict(this.inputs(g), n, true, seed), seen = new Set();
    for (let i = 0; i < n; i++) {
      let key = "";
      for (let j = 0; j < T - 1; j++) key += u[i * T + j] > 0 ? "1" : "0";
      seen.add(key);
    }
    return { note: `at least ${seen.size} linear region${seen.size === 1 ? "" : "s"} (seed ${seed}: distinct on/off patterns of its units on the ${g}×${g} grid); ${exact}`,
             patterns: seen.size };
  }
}

function concat(arrays) {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let at = 0; for (const x of arrays) { out.set(x, at); at += x.length; }
  return out;
}

// ------------------------------------------------------------------ the compared run on the other core

// The compared run, trained by a second Worker (the helper) on the other core: the page joins the two
// with a MessageChannel. This side keeps the run's latest position, statistics and selected map; the
// helper trains on towards the main run's position and answers each request when it can.
const LEAD = 4;  // epochs the main run may be ahead of the compared one (both train meanwhile)
let helper = null;

class RemoteRun {
  constructor(port, s, data, activation, version) {
    Object.assign(this, { port, activation, version, remote: true, epoch: 0, position: 0, last: null, asked: false, target: -1 });
    port.postMessage({ cmd: "build", version, s, data, activation });
  }
  reply(m) {
    if (m.version !== this.version) return;  // a previous run's
    this.epoch = m.epoch; this.position = m.position;
    if (m.stats) { this.last = m.stats; this.asked = false; }
  }
  trainUntil(position) { if (position > this.target) { this.target = position; this.port.postMessage({ cmd: "train", version: this.version, until: position }); } }
  // the latest statistics and selected map (null until the first arrive); the next asked for
  latest(seed) {
    if (!this.asked) { this.asked = true; this.port.postMessage({ cmd: "stats", version: this.version, seed }); }
    return this.last;
  }
  dispose() { this.port.postMessage({ cmd: "drop", version: this.version }); }
}

// the helper's side: one run, trained towards the main run's position in chunks, answering between them
const H = { run: null, version: -1, until: 0, port: null, timer: null, stats: null, at: 0 };
function helperMessage(m) {
  if (m.cmd === "build") {
    if (H.run) H.run.dispose();
    Object.assign(H, { run: new Run(m.s, m.data, m.activation), version: m.version, until: 0, stats: null });
    return;
  }
  if (m.version !== H.version || !H.run) return;
  if (m.cmd === "drop") { H.run.dispose(); H.run = null; H.version = -1; return; }
  if (m.cmd === "train") H.until = Math.max(H.until, m.until);
  if (m.cmd === "stats") {  // every seed's statistics at most every STATS_EVERY_MS (as the main run's), the map each time
    const now = performance.now(), r = H.run;
    if (!H.stats || H.stats.epoch !== r.epoch && now - H.at >= STATS_EVERY_MS) { H.stats = r.stats(0); H.stats.epoch = r.epoch; H.at = now; }
    const st = Object.assign({}, H.stats, { output: r.heatmap(m.seed, false).output });
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
    this.runs = [new Run(s, this.data, s.activation)];
    if (s.compare !== "none")  // on the other core when the page started a helper, else here
      this.runs.push(helper ? new RemoteRun(helper, s, this.data, s.compare, this.version + 1) : new Run(s, this.data, s.compare));
    for (const a of [s.activation, ...(s.compare !== "none" ? [s.compare] : [])]) {  // no edge of chaos: which σ_w² instead
      const note = resolveInit(s, a)[3];
      if (note && !this.notices.includes(note)) this.notices.push(note);
    }
    this.version++; this.selected = Math.min(this.selected, s.seeds - 1); this.rate = []; this.cache = {}; this.netSent = false;
  }
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
    return { format: "actlab.play/1", seed, epoch: r.epoch, activation: r.activation, features: r.feats,
      output: "linear (a logit for cross-entropy)", loss: this.s.loss, settings: toHash(this.s), layers };
  }
  advance(budgetMs) {  // null: one epoch. Returns false when the main run waited for the compared one
    const [main, other] = this.runs;
    let trained = true;
    if (other && other.remote) {  // on the helper's core, in parallel: each at most LEAD epochs ahead of the other
      const limit = other.position + LEAD;
      if (budgetMs == null) main.trainFor(Infinity, main.epoch + 1);
      else if (main.position < limit) main.trainFor(budgetMs, null, limit);
      else trained = false;
      other.trainUntil(budgetMs == null ? main.position : main.position + LEAD);
    } else if (budgetMs == null) for (const r of this.runs) r.trainFor(Infinity, r.epoch + 1);
    else if (!other) main.trainFor(budgetMs);
    else {  // a comparison in lockstep: the compared run catches up with the main one
      const t0 = performance.now();
      if (other.position >= main.position) main.trainFor(budgetMs / 2);
      other.trainFor(Math.max(budgetMs - (performance.now() - t0), 0.1), null, main.position);
    }
    const now = performance.now();
    this.rate.push([now, main.position]);
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
    Object.assign(st, { epoch: r.epoch, at: now, cost: performance.now() - now, version: this.version, g, stripAt: stripDue || !g ? now : c.stripAt });
    return (this.cache[which] = st);
  }
  frame() {
    const main = this.runs[0], g = this.stripGrid(), st = this.stats(0, g), sel = this.selected;
    const links = main.sizes.reduce((a, [r, c]) => a + r * c, 0), now = performance.now();
    const net = links <= 2000 || !this.playing || !this.netSent || now - this.netSent >= 1000;
    if (net) this.netSent = now;
    const hm = main.heatmap(sel, net), sections = { output: hm.output, strip: st.strip || new Uint8Array(0), ...perSeed(st, "seed") };
    const header = { type: "frame", version: this.version, epoch: main.epoch, epochs_per_s: this.epochsPerS(), selected: sel,
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
    const out = { type: "analysis", version: this.version, seed: sel, epoch: r.epoch, features: r.feats, collapse: null, audit: null };
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
      C = m.config; K = await Kernel.load(m.gzip ? await gunzip(m.wasm) : m.wasm);
      if (m.role === "helper") {  // the compared run's engine: it answers on its port only
        H.port = m.port; H.port.onmessage = (ev) => helperMessage(ev.data);
        return;
      }
      if (m.port) {
        helper = m.port;
        helper.onmessage = (ev) => {  // the compared run's progress, or its statistics: a frame to show them
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
