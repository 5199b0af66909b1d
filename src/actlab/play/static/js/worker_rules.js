// The static page's settings, as actlab.play.settings parses them: the URL keys' rules come from
// the build's config (settings.schema(), written by Python); the initialisation and the header's
// mean field as actlab.play.mean_field resolves them, from the tables actlab.theory wrote.
// Part of the static page's Worker (see worker.js); no DOM.
import { ACTIVATIONS } from "./kernel.js";

export const C = {};  // the build's config: schema, data limits, mean-field tables (set when the Worker starts)
export const PYTHON = "pip install actlab, then `actlab play`";

export function parseValue(key, rule, raw) {
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
export function pyRepr(v, max) {
  const r = typeof v === "string" ? (v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/'/g, "\\'")}'`)
    : typeof v === "boolean" ? (v ? "True" : "False") : String(v);
  return r.length <= max ? r : r.slice(0, max - 3) + "…";
}
export function pyG(v) {
  if (v === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(6)))));
  if (e < -4 || e >= 6) {
    const [m, x] = v.toExponential(5).split("e");
    return `${m.replace(/\.?0+$/, "")}e${x[0] === "-" ? "-" : "+"}${x.replace(/^[-+]/, "").padStart(2, "0")}`;
  }
  return String(Number(v.toPrecision(6)));
}
export function pyDefault(rule) {
  const d = rule.default;
  if (rule.kind === "int") return d;
  if (rule.kind === "float") return pyFloat(Number(d));
  if (rule.kind === "bool") return d === "true" ? "True" : "False";
  return pyRepr(d, Infinity);
}

export function defaults() {
  const out = {};
  for (const [k, r] of Object.entries(C.schema.keys)) out[k] = parseValue(k, r, r.default);
  return out;
}

// Settings from URL keys over base (a whole link: over the defaults); a notice for each bad value.
export function parse(values, base) {
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

export function features(s) { return C.schema.features.filter((f) => s[f]); }
export function nParams(s) {
  const w = [Math.max(1, features(s).length), ...s.networkShape, 1];
  let n = 0; for (let i = 0; i + 1 < w.length; i++) n += w[i + 1] * (w[i] + 1);
  return n;
}
export function maxSeeds(s) {
  const cap = Math.min(C.schema.limits.seeds, Math.floor(C.schema.limits.seed_params / nParams(s))), B = C.schema.seed_block;
  return Math.max(1, cap > B ? cap - (cap % B) : cap);
}
export function pyFloat(v) {  // a float as Python's str() writes it (the served page's links: 0.0, 1e-05)
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  if (v === 0 || (Math.abs(v) >= 1e-4 && Math.abs(v) < 1e16)) return String(v);
  const [m, e] = v.toExponential().split("e");
  return `${m}e${e[0] === "-" ? "-" : "+"}${e.replace(/^[-+]/, "").padStart(2, "0")}`;
}
export function toHash(s) {  // the settings as a link writes them
  const out = {};
  for (const [k, rule] of Object.entries(C.schema.keys)) {
    const v = s[k];
    out[k] = typeof v === "boolean" ? String(v) : Array.isArray(v) ? v.join(",") : rule.kind === "float" ? pyFloat(v) : String(v);
  }
  return out;
}

// ------------------------------------------------------------------ the initialisation and its mean field

// (init, σ_w², σ_b², note) as actlab.play.mean_field.resolve_init, the edge of chaos from the build's table
export function resolveInit(s, activation) {
  if (s.init === "glorot") return ["glorot", 1.0, 0.0, null];
  if (s.init === "gaussian") return ["gaussian", s.sigmaW2, s.sigmaB2, null];
  const c = C.theory.critical[`${activation}|${pyFloat(s.sigmaB2)}`];
  if (c.error) return ["gaussian", s.sigmaW2, s.sigmaB2, `init=critical: ${c.error}; using σ_w² = ${pyG(s.sigmaW2)}`];
  return ["gaussian", c.w, s.sigmaB2, null];
}

// the header's mean field (actlab.play.mean_field.theory), from the tables actlab.theory wrote at build time
export function meanField(s, activation) {
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

