// The page's state, constants and colours: what the other modules read. No imports.

export const $ = (id) => document.getElementById(id);
export const LEARNING_RATES = ["0.00001", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"];
export const REG_RATES = ["0", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"];
export const FEATURE_LABELS = { x: "x₁", y: "x₂", xSquared: "x₁²", ySquared: "x₂²", xTimesY: "x₁x₂", sinX: "sin x₁", sinY: "sin x₂" };
export const DATASET_LABELS = { circle: "circle", xor: "xor", gauss: "gaussians", spiral: "spiral", moons: "moons",
  checkerboard: "checker", xor4: "XOR (4 pts)", custom: "your data", "reg-plane": "plane", "reg-gauss": "gaussian" };

// TensorFlow Playground's colours: orange (−1) through light grey (0) to blue (+1)
export const LUT = new Uint8ClampedArray(256 * 4), LUT_DISC = new Uint8ClampedArray(256 * 4), LUT_HEAT = new Uint8ClampedArray(256 * 4);
(function () {
  const neg = [245, 147, 34], mid = [232, 234, 235], pos = [8, 119, 189];
  for (let i = 0; i < 256; i++) {
    const v = i / 127.5 - 1, a = Math.abs(v), end = v < 0 ? neg : pos;
    for (let c = 0; c < 3; c++) {
      LUT[i * 4 + c] = mid[c] + (end[c] - mid[c]) * a;
      LUT_DISC[i * 4 + c] = (v < 0 ? neg : pos)[c] * 0.85 + mid[c] * 0.15;
    }
    LUT[i * 4 + 3] = 255; LUT_DISC[i * 4 + 3] = 255;
    for (let c = 0; c < 3; c++) LUT_HEAT[i * 4 + c] = mid[c] + (end[c] - mid[c]) * a * 0.7;  // lighter: the points stand out
    LUT_HEAT[i * 4 + 3] = 255;
  }
})();
export const colourOf = (v) => { const i = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) * 4; return `rgb(${LUT[i]},${LUT[i + 1]},${LUT[i + 2]})`; };

export const S = {  // what the page knows
  ws: null, token: null, version: 0, settings: {}, state: null, frame: null, sections: null,
  net: null,  // the selected seed's thumbnails and weights, from the last frame that carried them
  playing: false, curve: [], analysis: null, notices: [], errors: [], fpsTimes: [], drawMs: [],
  framesDrawn: 0, framesReceived: 0, firstFrameMs: null, pending: null, hover: null, consoleErrors: 0,
  view: { regions: false, hidden: false, signal: false },  // views that change no run (not in the URL)
  embedded: false,  // in a notebook widget: no URL hash, no export links (the kernel has them)
  pageKeys: {},  // TensorFlow Playground's page keys of the link (KEY_hide, hideText), kept in the URL
  static: false,  // the static page: the engine is a Web Worker (static_link.js), no server
};

export function send(msg) { if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(msg)); }
export function setting(key, value) { send({ type: "set", values: { [key]: value } }); }
export function shape() { const s = S.settings.networkShape; return s ? s.split(",").filter((x) => x).map(Number) : []; }
export function setShape(arr) { setting("networkShape", arr.join(",")); }
export function fmt(v) { return v == null ? "–" : (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(3)); }

export function renderNotices() {
  const box = $("notices"); box.replaceChildren();
  for (const [list, cls] of [[S.notices, "notice"], [S.errors, "notice error"]])
    for (const n of list) { const d = document.createElement("div"); d.className = cls; d.textContent = n; box.appendChild(d); }
}
export function setError(msg) { S.errors = [msg]; renderNotices(); }

/** An element with attributes and children: strings become text nodes, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  return e;
}
