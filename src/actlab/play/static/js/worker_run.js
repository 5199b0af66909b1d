// One activation's seeds in the static page: actlab's initial weights, the training loop over
// shuffled epochs, and each seed's statistics and maps — kernel.c (kernel.js) doing the arithmetic.
// Part of the static page's Worker (see worker.js); no DOM.
import { Nets } from "./kernel.js";
import { features, resolveInit } from "./worker_rules.js";
import { featureRows, gridPoints, rngOf } from "./worker_data.js";

export const THUMB = 20;  // neuron thumbnails (cells a side), as the served engine's
const GRID = 100, MIN_GRID = 32, FRAME_MACS = 30e6;  // the output map: GRID² cells, fewer for a wide net

// ------------------------------------------------------------------ initial weights: actlab's own

const M64 = (1n << 64n) - 1n;
// actlab's trainer's draws (actlab.train.init_weights): uniforms from splitmix64 of (seed, index), so
// seed s starts here as in `actlab play`, `actlab xor` and actlab.train. glorot: weights
// U(±√(6/(fan_in + fan_out))), zero biases; gaussian: weights N(0, σ_w²/fan_in), biases N(0, σ_b²).
// Seeds first … first + S − 1.
function initWeights(sizes, S, init = "glorot", w2 = 1, b2 = 0, first = 0) {
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
    const base = (BigInt(first + s) * 0xD1B54A32D192ED03n) & M64;
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

export class Run {
  // K: the Kernel; seeds first … s.seeds − 1 (a part of a run that the helper trains: first > 0)
  constructor(K, s, data, activation, first = 0) {
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
    const count = s.seeds - first;
    const flat = s.initZero ? new Float32Array(count * P) : initWeights(this.sizes, count, init, w2, b2, first);
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
  // epochs trained, the current one's fraction included (pos = N: an epoch just ended, the next not begun)
  get position() { return this.epoch + (this.N && this.pos < this.N ? this.pos / this.N : 0); }
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
    const X = concat([this.Xtr, this.Xte, grid]), n = X.length / k, out = this.nets.predict(X, n), S = this.nets.S;
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

export function concat(arrays) {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let at = 0; for (const x of arrays) { out.set(x, at); at += x.length; }
  return out;
}

