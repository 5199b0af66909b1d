// The static page's session with a run's seeds shared by two engines (worker.js's RemotePart), driven
// from Node: the page's Worker and its helper in one process, joined by a MessageChannel as the page
// joins its two Workers. Reads {wasm, config, values, epochs} as JSON from the file argv[2]; trains
// `epochs` epochs one at a time, first shared (the seeds from the helper's first on trained by the
// helper), then on one engine; writes each frame's epoch and per-seed sections, every seed's
// parameters and whether the run was shared, as JSON to stdout.
import { readFileSync } from "node:fs";
import { decodeFrame } from "./frame.mjs";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
globalThis.self = { postMessage: () => {} };
await import("../../src/actlab/play/static/js/worker.js");
const wasm = readFileSync(spec.wasm), link = new MessageChannel();
await self.onmessage({ data: { type: "init", role: "helper", config: spec.config, wasm, port: link.port2 } });
await self.onmessage({ data: { type: "init", config: spec.config, wasm, port: link.port1 } });
const session = self.actlab.session;
const until = async (ok) => { for (let i = 0; i < 6000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5)); if (!ok()) throw new Error("timed out"); };

const out = [];
for (const shared of [true, false]) {
  if (!shared) spec.config.engine.share_step_macs = Infinity;  // the oracle: the same run on one engine (the worker reads this object)
  session.handle({ type: "set", values: spec.values, base: "defaults" });
  const part = session.part, main = session.runs[0];
  for (let e = 0; e < spec.epochs; e++) session.advance(null);
  if (part) await until(() => part.position >= main.position);
  session.frame();  // asks for the helper's seeds
  if (part) await until(() => part.synced.position >= main.position);
  const [h, sec] = decodeFrame(session.frame());
  out.push({ shared: !!part, first: part ? part.first : null, epoch: h.epoch, sections: sec, params: Array.from(main.nets.read()) });
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
