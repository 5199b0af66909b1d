// Statistics over seeds, from the per-seed values an engine hands the page (each seed's training
// and test loss and its state: failed, solved or diverged): computed here, by this code alone, for
// the served page, the static page and the notebook widget alike. No DOM.

const FAILED = 0, SOLVED = 1, DIVERGED = 2;  // a seed's state, as the engines send it

/** [q25, median, q75] by linear interpolation (numpy's and torch's default); nulls when empty. */
export function quantiles(values) {
  if (!values.length) return [null, null, null];
  const a = Array.from(values).sort((x, y) => x - y);
  return [0.25, 0.5, 0.75].map((q) => {
    const h = (a.length - 1) * q, lo = Math.floor(h), hi = Math.min(lo + 1, a.length - 1);
    return a[lo] + (h - lo) * (a[hi] - a[lo]);
  });
}

/** The 95 % Wilson score interval of k successes in n trials (actlab.stats.wilson's closed form). */
export function wilson(k, n) {
  const z = 1.959963984540054, p = k / n, z2 = z * z, c = (p + z2 / (2 * n)) / (1 + z2 / n);
  const h = (z * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Success rate with its interval, loss quartiles over the seeds that did not diverge (those are
    counted, never averaged), and every seed's state as a string ("s" solved, "f" not, "d" diverged). */
export function summary(loss, testLoss, state) {
  const S = state.length, ok = (i) => state[i] !== DIVERGED;
  let k = 0, d = 0;
  for (const s of state) { k += s === SOLVED; d += s === DIVERGED; }
  const out = { n_seeds: S, n_solved: k, n_diverged: d, success_rate: k / S, success_ci: wilson(k, S) };
  for (const [key, v] of [["loss", loss], ["test_loss", testLoss]]) {
    const [q1, med, q3] = quantiles(Array.from(v).filter((x, i) => ok(i) && Number.isFinite(x)));
    Object.assign(out, { [key + "_q1"]: q1, [key + "_median"]: med, [key + "_q3"]: q3 });
  }
  out.status = Array.from(state, (s) => (s === DIVERGED ? "d" : s === SOLVED ? "s" : "f")).join("");
  return out;
}

/** Paired counts of two runs on the same seeds: both solve, only one, neither. */
export function paired(a, b) {
  const out = { both: 0, only_main: 0, only_compare: 0, neither: 0 };
  for (let i = 0; i < a.length; i++) {
    const x = a[i] === SOLVED, y = b[i] === SOLVED;
    out[x && y ? "both" : x ? "only_main" : y ? "only_compare" : "neither"]++;
  }
  return out;
}

/** A frame's statistics from its per-seed sections: h.stats, and with a compared run h.compare's. */
export function frameStats(h, sec) {
  h.stats = summary(sec.seed_loss, sec.seed_test_loss, sec.seed_state);
  if (h.compare && sec.compare_state) {
    h.compare.stats = summary(sec.compare_loss, sec.compare_test_loss, sec.compare_state);
    h.compare.paired = paired(sec.seed_state, sec.compare_state);
  }
}
