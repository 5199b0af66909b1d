// The connection: one WebSocket; JSON messages (state, analysis, errors) and binary frames.
import { $, S, renderNotices, send, setError } from "./state.js";
import { buildControls, hashValues, writeHash } from "./controls.js";
import { draw } from "./draw.js";
import { drawAnalysis } from "./panels.js";
import { frameStats } from "./stats.js";

export function connect() {
  attach(new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws"));
}

// Any object with WebSocket's send / onopen / onmessage / onclose / readyState: the server's
// WebSocket, or the notebook widget's comm (actlab.play.widget).
export function attach(ws) {
  ws.binaryType = "arraybuffer";
  S.ws = ws;
  ws.onopen = () => {
    const h = hashValues(); if (Object.keys(h).length) send({ type: "set", values: h, base: "defaults" });
    if (S.view.regions || S.view.hidden || S.view.signal) send(Object.assign({ type: "view" }, S.view));
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === "string") onJson(JSON.parse(ev.data));
    else { onFrame(ev.data); send({ type: "ack" }); }
  };
  ws.onclose = () => {
    setError(S.embedded ? "The kernel's playground stopped: run the cell again."
                        : "The connection to the server closed: restart `actlab play` and reload.");
  };
}
export function setPlaying(on) { S.playing = on; $("play").textContent = on ? "❚❚" : "▶"; }

function onJson(m) {
  if (m.type === "hello") { S.token = m.token; }
  else if (m.type === "state") { onState(m); }
  else if (m.type === "playing") { setPlaying(m.playing); }
  else if (m.type === "analysis") { if (m.version === S.version) { S.analysis = m; drawAnalysis(); } }
  else if (m.type === "error") { setError(m.message); }
}

function decode(buf) {
  const n = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const base = 4 + n, out = {};
  for (const s of header.sections) {
    const count = s.shape.reduce((a, b) => a * b, 1);
    const T = s.dtype === "uint8" ? Uint8Array : Float32Array;
    out[s.name] = new T(buf, base + s.offset, count);
  }
  return [header, out];
}

function onFrame(buf) {
  const [h, sec] = decode(buf);
  if (h.version !== S.version) return;  // a stale run's frame
  frameStats(h, sec);  // the statistics over seeds, from each seed's values
  S.framesReceived++;
  S.frame = h; S.sections = sec;
  if (sec.neurons) S.net = { neurons: sec.neurons, weights: sec.weights };  // a large network's come once a second: kept till then
  if (h.playing !== S.playing) setPlaying(h.playing);
  const st = h.stats;
  const last = S.curve[S.curve.length - 1], ep = h.stats_epoch;  // the epoch the statistics were taken at
  if (!last || ep !== last.epoch) {
    if (last && ep < last.epoch) S.curve = [];
    S.curve.push({ epoch: ep, q1: st.loss_q1, med: st.loss_median, q3: st.loss_q3, test: st.test_loss_median });
    if (S.curve.length > 2000) S.curve = S.curve.filter((_, i) => i % 2 === 0);
  }
  if (!S.pending) S.pending = requestAnimationFrame(draw);
}

function onState(m) {
  S.version = m.version; S.state = m; S.settings = m.settings; S.curve = []; S.frame = null; S.sections = null; S.net = null;
  S.analysis = null; S.errors = [];
  S.notices = m.notices || [];
  setPlaying(m.playing);
  writeHash(m.settings);
  buildControls(m);
  renderNotices();
  drawAnalysis();
}
