// The fused training step (kernel.c) compiled to WebAssembly: the static page's engine.
// The same C source as the served page's native build, one thread, 8 seeds a vector (two v128).
// No DOM here: the Web Worker and Node's tests load this module alike.

export const ACTIVATIONS = { linear: 0, relu: 1, tanh: 2, sigmoid: 3, leaky_relu: 4 };  // kernel.c's enum
export const LEAKY_SLOPE = 0.01;  // actlab.activations' leaky_relu
const LOSS = { mse: 0, bce: 1 }, OPT = { sgd: 0, adam: 1 }, REG = { none: 0, L1: 1, L2: 2 };

/** Whether this engine runs WebAssembly with 128-bit SIMD (a one-instruction module validates). */
export function simdSupported() {
  if (typeof WebAssembly !== "object") return false;
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
    65, 0, 253, 15, 253, 98, 11]);  // (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)
  return WebAssembly.validate(probe);
}

export class Kernel {
  /** The module instantiated from its bytes (an ArrayBuffer or a typed array). */
  static async load(bytes) {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    if (instance.exports._initialize) instance.exports._initialize();
    return new Kernel(instance.exports);
  }
  constructor(exports) { this.x = exports; this.VS = exports.block_seeds(); }
  alloc(n) {  // n floats, zeroed
    const p = this.x.malloc(Math.max(1, n) * 4);
    if (!p) throw new Error(`the WebAssembly engine is out of memory (${n * 4} bytes asked)`);
    this.f32(p, n).fill(0);
    return p;
  }
  f32(ptr, n) { return new Float32Array(this.x.memory.buffer, ptr, n); }  // a fresh view: malloc may grow memory
  i32(ptr, n) { return new Int32Array(this.x.memory.buffer, ptr, n); }
  free(...ptrs) { for (const p of ptrs) if (p) this.x.free(p); }
}

/**
 * S networks of one architecture in the kernel's block layout: (blocks, P, VS), the seeds the
 * vector lanes. sizes: [[rows, cols], …] per layer (W then b, row-major, as actlab's flat order);
 * flat: (S, P) initial parameters. opts: activation, loss, optimizer, regularization,
 * regularizationRate, learningRate, batchSize.
 */
export class Nets {
  constructor(kernel, sizes, flat, opts) {
    const k = kernel, VS = k.VS;
    this.k = k; this.sizes = sizes; this.L = sizes.length;
    this.P = sizes.reduce((a, [r, c]) => a + r * c + r, 0);
    this.S = flat.length / this.P;
    this.blocks = Math.ceil(this.S / VS);
    this.U = Math.max(...sizes.flat());
    this.T = sizes.reduce((a, [r]) => a + r, 0);
    if (!(opts.activation in ACTIVATIONS)) throw new Error(`the engine trains ${Object.keys(ACTIVATIONS).join(", ")}; got ${opts.activation}`);
    this.opts = opts;
    this.batch = opts.batchSize;
    const n = this.blocks * this.P * VS;
    this.params = k.alloc(n); this.m = k.alloc(n); this.v = k.alloc(n);
    this.rows = k.x.malloc(4 * this.L); this.cols = k.x.malloc(4 * this.L);
    k.i32(this.rows, this.L).set(sizes.map(([r]) => r)); k.i32(this.cols, this.L).set(sizes.map(([, c]) => c));
    this.scratchN = Number(k.x.scratch_floats(this.L, this.U, this.batch));
    this.scratch = k.alloc(this.scratchN);
    this.write(flat);
    this.adamStep = 0; this.calls = 0; this.inputs = { ptr: 0, n: 0 };
    this.trainBlocks = this.blocks;  // train() steps blocks 0 … trainBlocks − 1; the rest are another Worker's to train
  }
  /** (S, P) parameters into the block layout (padding seeds stay zero). */
  write(flat) {
    const VS = this.k.VS, P = this.P, p = this.k.f32(this.params, this.blocks * P * VS);
    for (let s = 0; s < this.S; s++) {
      const base = Math.floor(s / VS) * P * VS, lane = s % VS;
      for (let i = 0; i < P; i++) p[base + i * VS + lane] = flat[s * P + i];
    }
  }
  /** (S, P) every seed's parameters now (a copy), or seeds [first, first + n); of Adam's moments with buf this.m or this.v. */
  read(first = 0, n = this.S, buf = this.params) {
    const VS = this.k.VS, P = this.P, p = this.k.f32(buf, this.blocks * P * VS), out = new Float32Array(n * P);
    for (let s = 0; s < n; s++) {
      const g = first + s, base = Math.floor(g / VS) * P * VS, lane = g % VS;
      for (let i = 0; i < P; i++) out[s * P + i] = p[base + i * VS + lane];
    }
    return out;
  }
  /** The floats of blocks first … (all of them: their parameters in the block layout), a copy. */
  readBlocks(first = 0) {
    const n = this.P * this.k.VS;
    return this.k.f32(this.params + 4 * first * n, (this.blocks - first) * n).slice();
  }
  /** Blocks first … written from floats readBlocks gave (another Worker's training of those seeds). */
  writeBlocks(first, floats) {
    const n = this.P * this.k.VS;
    if (floats.length !== (this.blocks - first) * n) throw new Error(`expected ${(this.blocks - first) * n} floats for blocks ${first}…, got ${floats.length}`);
    this.k.f32(this.params + 4 * first * n, floats.length).set(floats);
  }
  _input(X) {  // X copied into the module's memory (a buffer kept and grown)
    if (this.inputs.n < X.length) { this.k.free(this.inputs.ptr); this.inputs = { ptr: this.k.alloc(X.length), n: X.length }; }
    this.k.f32(this.inputs.ptr, X.length).set(X);
    return this.inputs.ptr;
  }
  /** nSteps minibatch steps over X (epochs · N, n_in) and targets t (epochs · N), from row start. */
  train(X, t, N, start, nSteps) {
    const k = this.k, o = this.opts, both = new Float32Array(X.length + t.length);
    both.set(X); both.set(t, X.length);
    const px = this._input(both), pt = px + 4 * X.length;
    const done = k.x.train_steps(this.params, this.m, this.v, this.scratch, this.L, this.rows, this.cols, this.U,
      ACTIVATIONS[o.activation], LEAKY_SLOPE, LOSS[o.loss], OPT[o.optimizer], REG[o.regularization],
      o.regularization === "none" ? 0 : o.regularizationRate, o.learningRate,
      px, pt, N, t.length / N, this.batch, start, nSteps, this.adamStep, this.trainBlocks, 1, this.calls % 2);
    if (done < 0) throw new Error("the WebAssembly engine refused its arguments");
    if (o.optimizer === "adam") this.adamStep += done;
    this.calls++;
    return done;
  }
  /** (S, n) every seed's output on the rows X (n, n_in); with units, (S, n, T) every unit's value;
      with seed, that seed's alone (predict_one: the rows in the vector lanes). */
  predict(X, n, units = false, seed = null) {
    const k = this.k, per = units ? this.T : 1, px = this._input(X), args = [this.L, this.rows, this.cols, this.U,
      ACTIVATIONS[this.opts.activation], LEAKY_SLOPE];
    const S = seed != null ? 1 : this.S, out = k.alloc(Math.max(S, this.blocks * k.VS) * n * per);
    let rc, flat = 0;
    if (seed != null) {
      flat = k.alloc(this.P);
      k.f32(flat, this.P).set(this.read(seed, 1));
      rc = k.x.predict_one(flat, this.scratch, ...args, px, n, out, units ? 1 : 0);
    } else rc = k.x.predict_blocks(this.params, this.scratch, ...args, this.batch, px, n, out, this.blocks, units ? 1 : 0);
    const res = k.f32(out, S * n * per).slice();
    k.free(out, flat);
    if (rc < 0) throw new Error("the WebAssembly engine refused its arguments");
    return res;
  }
  dispose() { this.k.free(this.params, this.m, this.v, this.rows, this.cols, this.scratch, this.inputs.ptr); }
}
