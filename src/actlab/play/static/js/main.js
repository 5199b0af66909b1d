// The page: window.playground (the contract scripts and tests use) and the start.
import { $, S, send } from "./state.js";
import { bindControls, hashValues, setView } from "./controls.js";
import { attach, connect } from "./connection.js";
import { bindStaticExport, staticSocket } from "./static_link.js";
import { buildTour } from "./tour.js";
import { fpsNow, layoutNetwork, networkGeometry, stripGeometry } from "./draw.js";

const api = {
  state() {
    const h = S.frame, st = h ? h.stats : null, s = S.settings;
    return {
      version: S.version, epoch: h ? h.epoch : 0, seeds: Number(s.seeds), activation: s.activation, dataset: s.dataset,
      regDataset: s.regDataset, networkShape: s.networkShape, problem: s.problem, compare: s.compare,
      success_rate: st ? st.success_rate : null, success_ci: st ? st.success_ci : null,
      n_diverged: st ? st.n_diverged : null, loss_median: st ? st.loss_median : null,
      test_loss_median: st ? st.test_loss_median : null, epochs_per_s: h ? h.epochs_per_s : null,
      fps: fpsNow(), frames_drawn: S.framesDrawn, frames_received: S.framesReceived,
      draw_ms: S.drawMs.length ? S.drawMs.slice().sort((a, b) => a - b)[S.drawMs.length >> 1] : null,
      playing: S.playing, selected: h ? h.selected : 0,
      collapse: S.analysis && S.analysis.collapse ? { weight: S.analysis.collapse.weight, bias: S.analysis.collapse.bias } : null,
      audit: S.analysis ? S.analysis.audit : null, notices: S.notices.slice(), errors: S.errors.slice(),
      compare_stats: h && h.compare ? h.compare : null, settings: Object.assign({}, s),
      view: Object.assign({}, S.view), regions: h && h.regions ? h.regions : null,
      regions_all: S.analysis ? S.analysis.regions_all || null : null,
      first_frame_ms: S.firstFrameMs == null ? null : S.firstFrameMs,
      load_ms: (() => { const n = performance.getEntriesByType("navigation")[0]; return n && n.loadEventEnd ? n.loadEventEnd : null; })(),
      network: networkGeometry(), page_keys: Object.assign({}, S.pageKeys), static: S.static,
      hidden_controls: Array.from(document.querySelectorAll("[data-hidden-by-link]"), (e) => e.getAttribute("data-hidden-by-link")),
      strip: (() => { const geo = stripGeometry(); return geo ? { n: geo.n, cols: geo.cols, rows: geo.rows, tile: geo.tile } : null; })(),
      mean_field: S.state && S.state.mean_field ? S.state.mean_field : null, mean_field_text: $("meanField").textContent,
      signal: S.analysis && S.analysis.signal ? { note: S.analysis.signal.note || null, seeds: S.analysis.signal.seeds,
                                                   layers: (S.analysis.signal.layers || []).map((l) => ({ units: l.units, q: l.q, grad: l.grad })),
                                                   q_predicted: S.analysis.signal.q_predicted, painted: S.signalPainted } : null,
      hidden: S.analysis && S.analysis.hidden ? { width: S.analysis.hidden.width, projection: S.analysis.hidden.projection,
                                                   note: S.analysis.hidden.note || null, points: (S.analysis.hidden.data || []).length } : null,
    };
  },
  view(v) { setView(v); },
  play() { send({ type: "play" }); },
  pause() { send({ type: "pause" }); },
  step() { send({ type: "step" }); },
  reset() { send({ type: "reset" }); },
  set(values) {
    const v = {};
    for (const [k, x] of Object.entries(values)) v[k] = Array.isArray(x) ? x.join(",") : x;
    send({ type: "set", values: v });
  },
  select(seed) { send({ type: "select", seed }); },
};
// The start: over the server's WebSocket, or over ``sock`` (the notebook widget's comm).
export function start(sock) {
  window.playground = api;
  window.addEventListener("error", () => { S.consoleErrors++; });
  if (sock) {
    S.embedded = true;
    $("exportLinks").hidden = true;
  } else {
    window.addEventListener("hashchange", () => send({ type: "set", values: hashValues(), base: "defaults" }));
  }
  window.addEventListener("resize", layoutNetwork);
  bindControls();
  buildTour();
  if (window.actlabStatic) {  // the static page: the engine is a Web Worker in this browser
    S.static = true;
    bindStaticExport();
    sock = staticSocket();
    if (sock) attach(sock);
  } else if (sock) attach(sock); else connect();
  return api;
}
if (!window.actlabEmbedded) start();  // the page's entry point
