// The page's statistics (static/js/stats.js) on cases a Python test writes: reads [{loss, test_loss, state, other}]
// as JSON from the file argv[2] (null: a NaN loss), writes each case's summary with its paired counts as JSON.
import { readFileSync } from "node:fs";
import { paired, summary } from "../../src/actlab/play/static/js/stats.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const nan = (v) => v.map((x) => (x === null ? NaN : x));
process.stdout.write(JSON.stringify(cases.map((c) =>
  Object.assign(summary(nan(c.loss), nan(c.test_loss), c.state), { paired: paired(c.state, c.other) }))));
