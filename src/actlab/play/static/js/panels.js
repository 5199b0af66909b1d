// The panels: the comparison, what the network is (collapse, audit), the hidden space, the signal.
// Text from the server is set as text (textContent, text nodes), never parsed as HTML.
import { $, FEATURE_LABELS, S, colourOf, el } from "./state.js";

export function drawCompare() {
  const h = S.frame, box = $("comparePanel");
  if (!h.compare) return;
  const a = h.stats, b = h.compare.stats, p = h.compare.paired, main = S.settings.activation, other = h.compare.activation;
  const pct = (v) => (100 * v).toFixed(0) + "%";
  box.replaceChildren(
    el("b", {}, main), ` ${pct(a.success_rate)} vs `, el("b", {}, other), ` ${pct(b.success_rate)}`,
    ` (95% CI ${pct(b.success_ci[0]).slice(0, -1)}–${pct(b.success_ci[1])}) on the same ${a.n_seeds} seeds.`, el("br"),
    `Paired: both solve ${p.both}, only ${main} ${p.only_main}, only ${other} ${p.only_compare}, neither ${p.neither}. `,
    `The small map is the selected seed with ${other}.`,
  );
}

export function drawAnalysis() {
  const box = $("analysisBody"), a = S.analysis;
  if (!a) { box.textContent = "…"; drawHidden(); drawSignal(); return; }
  const feats = a.features.map((f) => FEATURE_LABELS[f]);
  const num = (v, d) => (v == null ? "–" : v.toFixed(d));  // null: not finite (the server never sends NaN)
  const affine = (m) => m.weight.map((w, i) => `${w != null && w >= 0 && i ? "+ " : ""}${num(w, 4)}·${feats[i]}`).join(" ")
    + ` ${m.bias != null && m.bias < 0 ? "−" : "+"} ${num(m.bias == null ? null : Math.abs(m.bias), 4)}`;
  const parts = [];
  if (a.collapse) parts.push(el("div", {}, `Collapsed map of seed ${a.seed} (exact, `, el("code", {}, "actlab.collapse"), "): ",
                                el("code", { id: "collapseMap" }, `ŷ = ${affine(a.collapse)}`)));
  if (a.best_affine) parts.push(el("div", {}, `Best affine fit (least squares on the training set, R² ${num(a.best_affine.r2, 3)}): `,
                                   el("code", {}, `ŷ = ${affine(a.best_affine)}`)));
  if (a.audit) parts.push(el("div", {}, "Audit (", el("code", {}, "actlab.audit"), " on the training inputs): ",
                             ...(a.audit.is_affine ? ["affine"] : ["nonlinear, first at ", el("code", {}, String(a.audit.first_nonlinear))])));
  if (a.why) parts.push(el("p", {}, a.why));
  if (a.note) parts.push(el("p", { class: "hint" }, a.note));
  box.replaceChildren(...parts);
  drawHidden();
  drawSignal();
}

// The Signal view: per layer, every seed's pre-activations (histogram, the mean field's ±√q dashed)
// and, right, the mean squared loss gradient per layer (median and quartiles over seeds, log scale)
// with the theory's slope from the last layer back (dashed).
export function drawSignal() {
  const sg = S.analysis && S.analysis.signal, c = $("signal"), ctx = c.getContext("2d"), W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  S.signalPainted = false;
  if (!S.view.signal || !sg) return;
  if (sg.note) { $("signalLabel").textContent = sg.note; return; }
  const L = sg.layers.length, left = 190, rowH = (H - 16) / L;
  $("signalLabel").textContent = `${sg.seeds} seeds, ${sg.points} points; q = mean square (median over seeds), mean field at init dashed`;
  ctx.font = "10px sans-serif"; ctx.textBaseline = "top";
  sg.layers.forEach((l, i) => {
    const y0 = i * rowH, peak = Math.max(...l.hist, 1e-12), bw = (left - 10) / l.hist.length;
    ctx.fillStyle = i === L - 1 ? "#888" : "#4c72b0";
    l.hist.forEach((v, j) => { const h = (rowH - 14) * v / peak; ctx.fillRect(j * bw, y0 + rowH - 2 - h, bw - 1, h); });
    const qp = sg.q_predicted[i], r = l.range;
    if (qp != null && Math.sqrt(qp) < r) {
      ctx.strokeStyle = "#c44e52"; ctx.setLineDash([3, 2]); ctx.beginPath();
      for (const sgn of [-1, 1]) { const x = (sgn * Math.sqrt(qp) + r) / (2 * r) * (left - 10); ctx.moveTo(x, y0 + 12); ctx.lineTo(x, y0 + rowH - 2); }
      ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.fillStyle = "#222";
    const q = l.q[1] == null ? "–" : l.q[1].toPrecision(3), qpText = qp == null ? "–" : qp.toPrecision(3);
    ctx.fillText(`${i === L - 1 ? "output" : "layer " + (i + 1)} · q ${q} (theory ${qpText})`, 0, y0);
  });
  // gradients, log scale
  const g = sg.layers.map((l) => l.grad), vals = g.flat().filter((v) => v != null && v > 0);
  if (!vals.length) return;
  const pred = new Array(L).fill(null);
  pred[L - 1] = g[L - 1][1];
  for (let i = L - 2; i >= 0; i--) pred[i] = pred[i + 1] != null ? pred[i + 1] * sg.grad_ratio_predicted[i] : null;
  const all = vals.concat(pred.filter((v) => v != null && v > 0));
  let lo = Math.log10(Math.min(...all)), hi = Math.log10(Math.max(...all));
  if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
  const x0 = left + 30, x1 = W - 8, Y = (v) => 14 + (H - 30) * (1 - (Math.log10(v) - lo) / (hi - lo));
  const X = (i) => x0 + (L === 1 ? 0 : i / (L - 1)) * (x1 - x0);
  ctx.fillStyle = "#222"; ctx.fillText("E|∂loss/∂z_l|² per layer", x0 - 20, 0);
  ctx.textBaseline = "middle";
  ctx.fillText(`1e${Math.round(hi)}`, left, Y(10 ** hi)); ctx.fillText(`1e${Math.round(lo)}`, left, Y(10 ** lo));
  ctx.strokeStyle = "#c44e52"; ctx.setLineDash([3, 2]); ctx.beginPath();
  pred.forEach((v, i) => { if (v != null && v > 0) (i && pred[i - 1] ? ctx.lineTo(X(i), Y(v)) : ctx.moveTo(X(i), Y(v))); });
  ctx.stroke(); ctx.setLineDash([]);
  ctx.strokeStyle = "#4c72b0"; ctx.fillStyle = "#4c72b0";
  g.forEach(([q1, m, q3], i) => {
    if (m == null || !(m > 0)) return;
    ctx.beginPath(); ctx.moveTo(X(i), Y(Math.max(q1, 10 ** lo))); ctx.lineTo(X(i), Y(q3)); ctx.stroke();
    ctx.beginPath(); ctx.arc(X(i), Y(m), 3, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.textBaseline = "top"; ctx.fillStyle = "#222";
  g.forEach((_, i) => ctx.fillText(i === L - 1 ? "out" : String(i + 1), X(i) - 5, H - 12));
  S.signalPainted = true;
}

export function drawHidden() {
  const hs = S.analysis && S.analysis.hidden, c = $("hidden"), ctx = c.getContext("2d"), W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  if (!S.view.hidden || !hs) return;
  if (hs.note) { $("hiddenLabel").textContent = hs.note; return; }
  $("hiddenLabel").textContent = `seed ${S.analysis.seed}, width ${hs.width}: ${hs.projection}`;
  const all = hs.data.concat(...hs.grid);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of all) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const pad = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-9);
  x0 -= pad; x1 += pad; y0 -= pad; y1 += pad;
  const X = (v) => (v - x0) / (x1 - x0 || 1) * W, Y = (v) => H - (v - y0) / (y1 - y0 || 1) * H;
  ctx.strokeStyle = "#c8c8c8"; ctx.lineWidth = 0.6;
  for (const line of hs.grid) { ctx.beginPath(); line.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y)))); ctx.stroke(); }
  const [n0, n1] = hs.boundary_normal, off = hs.boundary_offset;
  ctx.beginPath(); ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
  if (Math.abs(n1) > 1e-12) { ctx.moveTo(X(x0), Y((off - n0 * x0) / n1)); ctx.lineTo(X(x1), Y((off - n0 * x1) / n1)); }
  else if (Math.abs(n0) > 1e-12) { ctx.moveTo(X(off / n0), 0); ctx.lineTo(X(off / n0), H); }
  ctx.stroke();
  const thr = hs.level;
  hs.data.forEach(([x, y], i) => {
    ctx.beginPath(); ctx.arc(X(x), Y(y), 3, 0, 2 * Math.PI);
    ctx.fillStyle = colourOf(hs.labels[i] > thr ? 1 : -1); ctx.fill();
  });
}
