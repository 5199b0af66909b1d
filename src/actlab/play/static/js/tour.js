// The article's lesson under the toy, in six steps: each a link that sets the page, two or three
// sentences, and a line of what the page measures while that step's run trains (never typed in).
import { $, FEATURE_LABELS, S, el, send } from "./state.js";

const pct = (v) => (v == null ? "–" : `${(100 * v).toFixed(0)}%`);
const ci = (st) => `95% CI ${pct(st.success_ci[0])}–${pct(st.success_ci[1])}`;
const affine = (m, feats) => m.weight.map((w, i) => `${w >= 0 && i ? "+ " : ""}${w.toFixed(3)}·${FEATURE_LABELS[feats[i]]}`).join(" ")
  + ` ${m.bias < 0 ? "−" : "+"} ${Math.abs(m.bias).toFixed(3)}`;

const STEPS = [
  { link: "activation=linear&dataset=circle&networkShape=4,2&seeds=100",
    title: "A linear network on the circle draws a line.",
    text: "With no activation every layer is affine, so the whole network is one affine map of (x₁, x₂) and its boundary " +
          "is a straight line. No line puts a ring on one side and its centre on the other.",
    live: (h) => `${pct(h.stats.success_rate)} of ${h.stats.n_seeds} seeds solve it (${ci(h.stats)}) at epoch ${h.epoch}.` },
  { link: "activation=linear&dataset=circle&networkShape=8,8,8,8&seeds=100",
    title: "More linear layers: still one line.",
    text: "Four hidden layers of eight units, 216 weights, and still one affine map: below is the one the selected seed " +
          "collapses to, beside the best affine fit least squares finds on the same data.",
    live: (h, a) => (a && a.collapse && a.best_affine
      ? `seed ${a.seed}: ŷ = ${affine(a.collapse, a.features)}; least squares: ŷ = ${affine(a.best_affine, a.features)} (R² ${a.best_affine.r2.toFixed(3)}); ${pct(h.stats.success_rate)} of seeds solve it.`
      : `${pct(h.stats.success_rate)} of seeds solve it at epoch ${h.epoch}.`) },
  { link: "activation=tanh&compare=linear&dataset=circle&networkShape=8,8,8,8&seeds=100",
    title: "The same network with tanh solves it, in most seeds.",
    text: "Put tanh between the layers and the map bends: the boundary can close around the centre. The small map is the " +
          "same seed without the activation, trained beside it on the same seeds.",
    live: (h) => (h.compare
      ? `tanh solves ${pct(h.stats.success_rate)} (${ci(h.stats)}), the same seeds without an activation ${pct(h.compare.stats.success_rate)}; ` +
        `only tanh ${h.compare.paired.only_main}, both ${h.compare.paired.both}, at epoch ${h.epoch}.`
      : "") },
  { link: "activation=relu&dataset=xor4&networkShape=4&optimizer=adam&learningRate=0.01&batchSize=4&seeds=100",
    title: "XOR with a 2-4-1 ReLU network: solved in only some seeds.",
    text: "The article's XOR: four points, one hidden layer of four ReLU units, Adam. Any affine model is stuck at ½ on " +
          "every point; a ReLU network can solve it, but a seed whose units switch off on the wrong points stays stuck.",
    live: (h) => `${pct(h.stats.success_rate)} of ${h.stats.n_seeds} seeds solve XOR (${ci(h.stats)}) after ${h.epoch} full-batch steps.` },
  { link: "activation=relu&dataset=xor&networkShape=6,6&seeds=20&learningRate=0.03", view: "regions",
    title: "The regions a ReLU network cuts.",
    text: "Each ReLU unit is on at one side of a line and off at the other; together they cut the plane into cells, and " +
          "inside each cell the network is one affine map. Nonlinear overall, linear piece by piece.",
    live: (h) => (h.regions && h.regions.count != null ? `seed ${h.selected}: ${h.regions.count} linear regions (exact) at epoch ${h.epoch}.`
      : h.regions && h.regions.patterns != null ? `seed ${h.selected}: at least ${h.regions.patterns} linear regions on the drawn grid at epoch ${h.epoch}.`
      : "tick “Linear regions” to count them.") },
  { link: "activation=tanh&dataset=circle&networkShape=8,8,8,8,8,8,8,8&seeds=100",
    title: "Depth, and the edge of chaos.",
    text: "Through eight tanh layers a signal shrinks, keeps its size or explodes, by how the weights are drawn; mean-field " +
          "theory names the border, χ₁ = 1. Glorot's draws sit on it for tanh; set the initialisation to gaussian with " +
          "σ_w² = 4 (chaotic) or 0.5 (ordered), and watch the header and the success rate.",
    live: (h) => `mean field: ${$("meanField").textContent}; ${pct(h.stats.success_rate)} of seeds solve it at epoch ${h.epoch}.` },
];

function keysOf(link) { return Object.fromEntries(link.split("&").map((kv) => kv.split("="))); }

export function buildTour() {
  const ol = $("tourSteps");
  ol.replaceChildren(...STEPS.map((s, i) => {
    const a = el("a", { href: "#" + s.link }, s.title);
    a.onclick = (ev) => {
      if (S.embedded) {  // in a notebook the URL is the notebook's: the link's settings are sent instead
        ev.preventDefault();
        send({ type: "set", values: keysOf(s.link), base: "defaults" });
      }
      if (!s.view) return;
      const box = $("showRegions");  // the step's view on, through its checkbox (the controls send it)
      if (!box.checked) { box.checked = true; box.dispatchEvent(new Event("change")); }
    };
    return el("li", { id: `tour${i + 1}` }, a, el("p", {}, s.text), el("p", { class: "live", id: `tourLive${i + 1}` }, ""));
  }));
}

// the current step (the settings match its link), and its line of measurements
export function drawTour() {
  const h = S.frame, set = S.settings || {};
  STEPS.forEach((s, i) => {
    const on = Object.entries(keysOf(s.link)).every(([k, v]) => set[k] === v) && set.compare === (keysOf(s.link).compare || "none");
    $(`tour${i + 1}`).className = on ? "current" : "";
    $(`tourLive${i + 1}`).textContent = on && h && h.version === S.version ? "Now: " + s.live(h, S.analysis) : "";
  });
}
