// The controls: the URL hash, the settings widgets, the views, and what clicks send.
import { $, DATASET_LABELS, FEATURE_LABELS, LEARNING_RATES, REG_RATES, S, send, setError, setShape, setting, shape } from "./state.js";
import { layoutNetwork, onNetHover, stripGeometry, updateExport } from "./draw.js";

// A link as people paste it: "&amp;" from HTML, cut short, ending in "&", a "%" cut in two.
export function hashValues() {
  const out = {};
  if (S.embedded) return out;  // in a notebook the URL is the notebook's, not the playground's
  const decode = (x) => { try { return decodeURIComponent(x); } catch (e) { return x; } };
  for (const part of location.hash.replace(/^#/, "").replace(/&amp;/g, "&").split("&")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    out[decode(part.slice(0, i))] = decode(part.slice(i + 1));
  }
  readPageKeys(out);
  return out;
}

// TensorFlow Playground's page keys, kept in the URL: KEY_hide=true hides a control (the ML Crash
// Course's exercises hide the activation, the layers, the problem, …), hideText the text under the toy.
const HIDES = {  // its control names → this page's elements (other keys: the element of that id)
  playButton: ["play"], stepButton: ["step"], resetButton: ["reset"], dataset: ["datasets", "regdatasets"],
  numHiddenLayers: ["addLayer", "removeLayer", "layerButtons", "layerCount"], regDataset: ["regdatasets"],
};
function readPageKeys(values) {
  S.pageKeys = {};
  for (const [k, v] of Object.entries(values))
    if ((k.endsWith("_hide") || k === "hideText") && /^(true|1)$/i.test(v)) S.pageKeys[k] = "true";
  applyPageKeys();
}
function applyPageKeys() {
  document.querySelectorAll("[data-hidden-by-link]").forEach((e) => { e.style.display = ""; e.removeAttribute("data-hidden-by-link"); });
  for (const k of Object.keys(S.pageKeys)) {
    const ids = k === "hideText" ? ["tour"] : HIDES[k.slice(0, -5)] || [k.slice(0, -5), "feature-" + k.slice(0, -5)];
    for (const id of ids) {
      const e = $(id);
      if (!e) continue;  // a fork's control this page does not have
      const box = e.closest(".field, .slider, label") || e;
      box.style.display = "none"; box.setAttribute("data-hidden-by-link", k);
    }
  }
}
export function writeHash(settings) {
  if (S.embedded) return;
  const all = Object.assign({}, settings, S.pageKeys || {});
  const h = Object.entries(all).map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ",")}`).join("&");
  history.replaceState(null, "", "#" + h);
  applyPageKeys();  // the controls were rebuilt
}

export function setView(v) {
  Object.assign(S.view, v);
  $("showRegions").checked = S.view.regions; $("showHidden").checked = S.view.hidden; $("showSignal").checked = S.view.signal;
  $("hiddenPanel").hidden = !S.view.hidden; $("regionsInfo").hidden = !S.view.regions; $("signalPanel").hidden = !S.view.signal;
  send(Object.assign({ type: "view" }, S.view));
}

function fillSelect(el, values, labels, current) {
  el.replaceChildren();
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v; o.textContent = labels ? labels(v) : v; el.appendChild(o);
  }
  if (!values.includes(current)) { const o = document.createElement("option"); o.value = current; o.textContent = current; el.appendChild(o); }
  el.value = current;
}

export function buildControls(m) {
  const s = m.settings;
  fillSelect($("activation"), m.activations, null, s.activation);
  fillSelect($("compare"), ["none"].concat(m.activations), (v) => (v === "none" ? "—" : v), s.compare);
  fillSelect($("learningRate"), LEARNING_RATES, null, s.learningRate.replace(/\.0$/, ""));
  fillSelect($("regularizationRate"), REG_RATES, null, s.regularizationRate.replace(/\.0$/, ""));
  for (const k of ["optimizer", "loss", "regularization", "problem"]) $(k).value = s[k];
  $("seeds").value = s.seeds;
  $("init").value = s.init; $("sigmaW2").value = s.sigmaW2; $("sigmaB2").value = s.sigmaB2;
  $("sigmaW2").disabled = s.init !== "gaussian"; $("sigmaB2").disabled = s.init === "glorot";
  $("meanField").textContent = meanFieldText(m.mean_field && m.mean_field[0]);
  for (const k of ["percTrainData", "noise", "batchSize"]) { $(k).value = s[k]; $(k + "V").textContent = s[k]; }
  $("showTestData").checked = s.showTestData === "true";
  $("discretize").checked = s.discretize === "true";
  // datasets
  const reg = s.problem === "regression";
  for (const [id, list, key] of [["datasets", m.datasets, "dataset"], ["regdatasets", m.reg_datasets, "regDataset"]]) {
    const box = $(id); box.replaceChildren(); box.hidden = (key === "regDataset") !== reg;
    for (const d of list) {
      const b = document.createElement("button");
      b.textContent = DATASET_LABELS[d] || d; b.dataset.value = d;
      if (s[key] === d) b.className = "on";
      b.onclick = () => setting(key, d);
      box.appendChild(b);
    }
  }
  // features
  const fbox = $("features"); fbox.replaceChildren();
  for (const f of m.all_features) {
    const l = document.createElement("label"), c = document.createElement("input");
    c.type = "checkbox"; c.checked = s[f] === "true"; c.id = "feature-" + f;
    c.onchange = () => setting(f, c.checked);
    l.appendChild(c); l.appendChild(document.createTextNode(" " + FEATURE_LABELS[f])); fbox.appendChild(l);
  }
  $("layerCount").textContent = `${shape().length} hidden layer${shape().length === 1 ? "" : "s"}`;
  $("heatCompare").hidden = s.compare === "none";
  $("comparePanel").hidden = s.compare === "none";
  layoutNetwork();
  updateExport();
}

/** The mean field at the run's initialisation, as the header shows it: phase, χ₁, ξ_c (σ_w² when critical). */
export function meanFieldText(mf) {
  if (!mf) return "–";
  if (mf.phase == null) return mf.note || "–";
  const xi = mf.xi_c == null ? "∞" : mf.xi_c.toFixed(1);
  const edge = mf.init === "critical" ? ` at σ_w² ${mf.sigma_w2.toFixed(3)}` : "";
  return `${mf.phase}${edge} · χ₁ ${mf.chi1 == null ? "∞" : mf.chi1.toFixed(3)} · ξ_c ${xi}`;
}

export function bindControls() {
  for (const k of ["activation", "compare", "learningRate", "optimizer", "loss", "regularization", "regularizationRate", "problem", "init"])
    $(k).onchange = () => setting(k, $(k).value);
  for (const k of ["sigmaW2", "sigmaB2"]) $(k).onchange = () => setting(k, $(k).value);
  $("seeds").onchange = () => setting("seeds", $("seeds").value);
  for (const k of ["percTrainData", "noise", "batchSize"]) {
    $(k).oninput = () => { $(k + "V").textContent = $(k).value; };
    $(k).onchange = () => setting(k, $(k).value);
  }
  $("showTestData").onchange = () => setting("showTestData", $("showTestData").checked);
  $("showRegions").onchange = () => setView({ regions: $("showRegions").checked });
  $("showHidden").onchange = () => setView({ hidden: $("showHidden").checked });
  $("showSignal").onchange = () => setView({ signal: $("showSignal").checked });
  $("discretize").onchange = () => setting("discretize", $("discretize").checked);
  $("play").onclick = () => send({ type: S.playing ? "pause" : "play" });
  $("step").onclick = () => send({ type: "step" });
  $("reset").onclick = () => send({ type: "reset" });
  $("regenerate").onclick = () => send({ type: "regenerate" });
  $("clearPoints").onclick = () => send({ type: "clear_points" });
  $("addLayer").onclick = () => { const s = shape(); if (s.length < S.state.limits.layers) setShape(s.concat([4])); };
  $("removeLayer").onclick = () => { const s = shape(); if (s.length) setShape(s.slice(0, -1)); };
  $("csv").onchange = () => {
    const f = $("csv").files[0]; if (!f) return;
    if (f.size > 1 << 20) { setError(`the CSV is ${Math.round(f.size / 1024)} KiB; at most 1024 KiB`); $("csv").value = ""; return; }
    f.text().then((text) => send({ type: "csv", text }));
    $("csv").value = "";
  };
  $("heat").addEventListener("click", (ev) => {
    if (!S.state) return;
    const r = $("heat").getBoundingClientRect(), [lo, hi] = S.state.domain;
    const x = lo + (ev.clientX - r.left) / r.width * (hi - lo), y = hi - (ev.clientY - r.top) / r.height * (hi - lo);
    send({ type: "add_point", x, y, label: ev.shiftKey ? -1 : 1 });
  });
  $("strip").addEventListener("click", (ev) => {
    const g = stripGeometry(); if (!g) return;
    const r = $("strip").getBoundingClientRect();
    const col = Math.floor((ev.clientX - r.left) * ($("strip").width / r.width) / g.tile), row = Math.floor((ev.clientY - r.top) * ($("strip").height / r.height) / g.tile);
    const i = row * g.cols + col;
    if (col < g.cols && i >= 0 && i < g.n) { send({ type: "select", seed: i }); }
  });
  $("net").addEventListener("mousemove", onNetHover);
  $("net").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
}
