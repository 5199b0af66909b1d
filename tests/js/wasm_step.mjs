// The static page's engine (static/js/kernel.js over the WebAssembly build) on cases a Python test
// writes: reads {wasm, cases: [{sizes, flat, opts, X, t, N, steps, predict}]} as JSON from the file
// argv[2], writes {simd, results: [{params, outputs, units, one, one_units}]} as JSON to stdout. A case
// with `then: {X, t, N, steps}` trains on those rows after; with `moments`, Adam's m and v come back too
// as (S, P) (its moments as `params`).
import { readFileSync } from "node:fs";
import { Kernel, Nets, simdSupported } from "../../src/actlab/play/static/js/kernel.js";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const kernel = await Kernel.load(readFileSync(spec.wasm));
const results = [];
for (const c of spec.cases) {
  const nets = new Nets(kernel, c.sizes, Float32Array.from(c.flat), c.opts);
  const done = nets.train(Float32Array.from(c.X), Float32Array.from(c.t), c.N, 0, c.steps);
  if (c.then) nets.train(Float32Array.from(c.then.X), Float32Array.from(c.then.t), c.then.N, 0, c.then.steps);
  const out = { done, params: Array.from(nets.read()) };
  if (c.moments) for (const k of ["m", "v"]) out[k] = Array.from(nets.read(0, nets.S, nets[k]));
  if (c.predict) out.outputs = Array.from(nets.predict(Float32Array.from(c.predict), c.predict.length / c.sizes[0][1]));
  if (c.predict) out.units = Array.from(nets.predict(Float32Array.from(c.predict), c.predict.length / c.sizes[0][1], true));
  if (c.seed != null) {
    const n = c.predict.length / c.sizes[0][1];
    out.one = Array.from(nets.predict(Float32Array.from(c.predict), n, false, c.seed));
    out.one_units = Array.from(nets.predict(Float32Array.from(c.predict), n, true, c.seed));
  }
  nets.dispose();
  results.push(out);
}
process.stdout.write(JSON.stringify({ simd: simdSupported(), vs: kernel.VS, results }));
