// The static page's session (static/js/worker.js, as the page's Worker runs it) driven from Node:
// reads {wasm, config, runs: [{values, epochs, parse_only}]} as JSON from the file argv[2]; for each
// run applies the link's values (and uploads its csv), trains `epochs` epochs one at a time, and writes its state and its
// frame's header (or, for parse_only, the settings and notices) as JSON to stdout.
import { readFileSync } from "node:fs";
import { decodeFrame as decode } from "./frame.mjs";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const posted = [];
globalThis.self = { postMessage: (m) => posted.push(m) };
await import("../../src/actlab/play/static/js/worker.js");
await self.onmessage({ data: { type: "init", config: spec.config, wasm: readFileSync(spec.wasm) } });
const session = self.actlab.session;

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
