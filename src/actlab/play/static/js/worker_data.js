// The static page's data: TensorFlow Playground's sets (its generators, as actlab.play.data's),
// input features, grids, and your own CSV read as actlab.play.data.parse_csv reads it.
// Part of the static page's Worker (see worker.js); no DOM.
import { C, pyG, pyRepr } from "./worker_rules.js";

// ------------------------------------------------------------------ data: TensorFlow Playground's sets

export function rngOf(text) {  // a seeded uniform [0, 1): mulberry32 of the string's FNV-1a hash
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
export function makeData(s, custom) {
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
export function featureRows(points, names) {  // (n, len(names)) float32, row-major
  const out = new Float32Array(points.length * names.length);
  points.forEach(([x, y], i) => names.forEach((f, j) => { out[i * names.length + j] = FEATURE_FNS[f](x, y); }));
  return out;
}
export function gridPoints(g, [lo, hi]) {  // cell centres, row 0 at the top (largest x₂)
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
export function parseCsv(text, problem) {
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

