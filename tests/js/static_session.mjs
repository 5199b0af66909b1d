// The static page's session (static/js/worker.js, as the page's Worker runs it) driven from Node:
// reads {wasm, config, runs: [{values, epochs, parse_only}]} as JSON from the file argv[2]; for each
// run applies the link's values (and uploads its csv), trains `epochs` epochs one at a time, and writes its state and its
// frame's header (or, for parse_only, the settings and notices) as JSON to stdout.
import { readFileSync } from "node:fs";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const posted = [];
globalThis.self = { postMessage: (m) => posted.push(m) };
await import("../../src/actlab/play/static/js/worker.js");
await self.onmessage({ data: { type: "init", config: spec.config, wasm: readFileSync(spec.wasm) } });
const session = self.actlab.session;

function decode(buf) {  // a frame's JSON header and its per-seed sections
  const n = new DataView(buf).getUint32(0, true), h = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const sec = {};
  for (const s of h.sections) {
    const count = s.shape.reduce((a, b) => a * b, 1), T = s.dtype === "uint8" ? Uint8Array : Float32Array;
    if (/_(loss|test_loss|state)$/.test(s.name)) sec[s.name] = Array.from(new T(buf, 4 + n + s.offset, count), (v) => (Number.isFinite(v) ? v : null));
  }
  return [h, sec];
}
const out = [];
for (const run of spec.runs) {
  const [state] = session.handle({ type: "set", values: run.values, base: "defaults" });
  if (run.csv != null) {  // a CSV upload: the rows read, or the error said
    try { session.handle({ type: "csv", text: run.csv }); out.push({ rows: session.custom }); } catch (e) { out.push({ error: e.message }); }
    continue;
  }
  if (run.parse_only) { out.push({ settings: state.settings, notices: state.notices, mean_field: state.mean_field }); continue; }
  for (let e = 0; e < run.epochs; e++) session.advance(null);
  const [h, sec] = decode(session.frame());
  out.push({ settings: state.settings, notices: state.notices, epoch: h.epoch, sections: sec, compare: h.compare || null,
             init: Array.from(session.runs[0].nets.read(0, Math.min(3, session.s.seeds))), sizes: session.runs[0].sizes,
             analysis: session.analysis() });
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
