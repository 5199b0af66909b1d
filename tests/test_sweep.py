"""``actlab sweep``: a local run equals its cells run alone (and ``actlab xor``), kill -9 at any
moment and a resume give the uninterrupted rows, a different spec is refused, bad specs are
one line with exit 2 and nothing written, and cells on a two-node Ray cluster losing a node
give the local rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import actlab
from actlab.cli import main
from actlab.studies import SpecError, load_spec, parse_spec, presets, read_rows, sweep
from actlab.studies.cell import run_cell

SPEC = """
seeds = 12
[fixed]
n_steps = 150
optimizer = "adam"
lr = 0.05
[grid]
dataset = ["xor", "circle"]
activation = ["linear", "relu", "tanh"]
hidden = [[4], [6, 6]]
"""
RUN_KEYS = ("seconds", "device")  # what may differ between runs of the same cell


def _same(rows):
    return [{k: v for k, v in r.items() if k not in RUN_KEYS} for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return sweep(parse_spec(SPEC), out)


def test_local_run_is_each_cell_alone_and_writes_its_spec(reference, tmp_path):
    spec = parse_spec(SPEC)
    assert len(reference) == len(spec.cells()) == 12
    for cell, row in zip(spec.cells(), reference):
        assert {k: row[k] for k in cell} == cell
        assert _same([row]) == _same([run_cell(cell, 12)])
        lo, hi = row["success_ci"]
        assert lo <= row["success_rate"] <= hi and row["n_success"] == round(row["success_rate"] * 12)
    assert all(r["n_success"] == 0 for r in reference if r["dataset"] == "xor" and r["activation"] == "linear")


def test_an_xor_cell_equals_actlab_xor(tmp_path):
    """The same settings as `actlab xor` (its TrainConfig, its data, its seeds): the same successes."""
    from actlab.experiments.xor import XorConfig, run_xor

    xc = XorConfig(activations=("tanh",), n_seeds=64)
    cfg = xc.train_config("tanh")
    cell = {"dataset": "xor", "activation": "tanh", "hidden": list(cfg.hidden), "n_steps": cfg.n_steps, "lr": cfg.lr,
            "optimizer": cfg.optimizer, "loss": cfg.loss}
    for k in ("stop_loss", "stop_delta", "hit_loss"):
        if getattr(cfg, k) is not None:
            cell[k] = getattr(cfg, k)
    row = run_cell(cell, 64)
    assert row["n_success"] == run_xor(xc).activations["tanh"].n_success


def test_rerun_skips_written_cells_and_a_partial_line_is_redone(reference, tmp_path):
    out = tmp_path / "r"
    sweep(parse_spec(SPEC), out)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:5]) + lines[5][:40])  # five whole lines and a cut one
    calls = []
    rows = sweep(parse_spec(SPEC), out, progress=lambda d, t, r: calls.append((d, t)))
    assert calls[0] == (5, 12) and calls[-1] == (12, 12)
    assert _same(rows) == _same(reference)
    assert len((out / "results.jsonl").read_text().splitlines()) == 12


def test_a_different_spec_is_refused_naming_the_difference(tmp_path, capsys):
    out = tmp_path / "d"
    spec = tmp_path / "a.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    before = (out / "results.jsonl").read_bytes()
    spec.write_text(SPEC.replace("n_steps = 150", "n_steps = 151"))
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep ([fixed] n_steps: 151 here, 150 there)" in err and err.count("\n") == 1
    assert (out / "results.jsonl").read_bytes() == before


@pytest.mark.parametrize("text, expected", [
    ("seeds = 4\n[grid]\nbogus = [1]", "unknown key 'bogus'"),
    ("seeds = 4\n[grid]\nactivation = ['relu', 'swishy']", "activation = 'swishy': unknown activation"),
    ("seeds = 4\n[grid]\ndataset = ['mnist']", "dataset = 'mnist': unknown dataset"),
    ("seeds = 4\n[grid]\n", "[grid] must be a table with at least one key"),
    ("seeds = 4\n[grid]\nactivation = 'relu'", "[grid] activation must be a non-empty list"),
    ("seeds = 4\n[grid]\nactivation = []", "[grid] activation must be a non-empty list"),
    ("seeds = 0\n[grid]\nactivation = ['relu']", "seeds must be an integer ≥ 1"),
    ("seeds = 4\n[fixed]\nlr = -1\n[grid]\nactivation = ['relu']", "lr = -1: lr must be a positive number"),
    ("seeds = 4\n[grid]\nwidth = [8]", "width and depth go together"),
    ("seeds = 4\n[fixed]\nskip = true\n[grid]\narch = ['2-2-1']", "give one of hidden, width and depth, or arch"),
    ("seeds = 4\n[grid\n", "is not valid TOML"),
])
def test_bad_specs_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, text, expected):
    spec, out = tmp_path / "bad.toml", tmp_path / "out"
    spec.write_text(text)
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and err.startswith("actlab sweep: error:")
    assert not out.exists()


def test_unknown_spec_file_and_unreachable_ray_address(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "no spec file" in capsys.readouterr().err
    pytest.importorskip("ray")
    spec = tmp_path / "a.toml"
    spec.write_text(SPEC)
    t0 = time.perf_counter()
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--ray", "127.0.0.1:9"]) == 2
    assert "no Ray cluster answers there" in capsys.readouterr().err and time.perf_counter() - t0 < 30
    assert not (tmp_path / "o").exists()


def test_dry_run_counts_and_times_writing_nothing(tmp_path, capsys):
    spec = tmp_path / "a.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["cells"] == d["pending"] == 12 and d["first_cell_seconds"] > 0
    assert d["estimated_seconds"] == pytest.approx(12 * d["first_cell_seconds"])
    from actlab.studies.cell import cell_flops

    # xor (4 rows) and circle (200): weights 2·4 + 4·1 = 12 or 2·6 + 6·6 + 6·1 = 54, 150 steps, 12 seeds, 3 activations
    hand = sum(2 * 3 * rows * w * 150 * 12 * 3 for rows in (4, 200) for w in (12, 54))
    assert d["flops"] == hand == sum(cell_flops(c, 12) for c in parse_spec(SPEC).cells())
    assert not (tmp_path / "o").exists()


def test_shipped_specs_parse_and_match_their_studies():
    assert set(presets()) >= {"xor_trainability", "phase_diagram"}
    xt = load_spec("xor_trainability")
    assert len(xt.cells()) * xt.seeds == 100_800  # 3 nets × 2 activations × 6 ranges × 2,800 seeds
    from actlab.experiments.xor_trainability import ARCHS, TrainabilityConfig

    from actlab.studies.spec import ARCHS as SPEC_ARCHS

    tc = TrainabilityConfig()
    assert SPEC_ARCHS == ARCHS and xt.grid["init_scale"] == list(tc.ranges) and xt.fixed["lr"] == tc.lr
    pd = load_spec("phase_diagram")
    from actlab.experiments.signal import SIGNAL_PRESETS

    full = SIGNAL_PRESETS["full"]
    assert pd.grid["sigma_w2"] == list(full.sigma_w2s) and pd.grid["depth"] == list(full.depths)
    assert pd.fixed["width"] == full.width and pd.fixed["n_steps"] == full.steps and pd.seeds == full.seeds
    ex = Path(__file__).resolve().parent.parent / "examples" / "phase_diagram_paper.toml"
    assert len(load_spec(str(ex)).cells()) > 100


def test_phase_diagram_cell_equals_actlab_signal_cell():
    """A sweep cell of the shipped phase diagram is the same nets as `actlab signal`'s cell."""
    from dataclasses import replace

    from actlab.experiments.signal import phase_diagram, preset

    cfg = replace(preset("full"), sigma_w2s=(0.5,), depths=(4,), steps=30)
    pd = phase_diagram(cfg)
    cell = {**load_spec("phase_diagram").fixed, "sigma_w2": 0.5, "depth": 4, "n_steps": 30}
    row = run_cell(cell, cfg.seeds)
    assert row["success_rate"] == pd["trained"][0][0]


KILL_SPEC = """
seeds = 64
[fixed]
n_steps = 400
optimizer = "adam"
[grid]
dataset = ["xor", "circle", "moons"]
activation = ["relu", "tanh", "sigmoid"]
hidden = [[4], [8]]
"""


def test_kill_9_at_any_moment_then_resume_equals_an_uninterrupted_run(tmp_path):
    spec = tmp_path / "k.toml"
    spec.write_text(KILL_SPEC)
    full = sweep(str(spec), tmp_path / "full")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "import sys; from actlab.cli import main; sys.exit(main(sys.argv[1:]))",
           "sweep", str(spec), "--out", str(out), "--json"]
    killed_with = []
    for delay in (1.2, 0.4, 0.9, 0.3):  # after imports, mid-cell, between cells: wherever it lands
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay + (1.5 if not killed_with else 0.0))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        killed_with.append(len(read_rows(out)))
    assert killed_with[0] < 18  # the first kill landed before the end
    rows = sweep(str(spec), out)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 18 and len(set(lines)) == 18  # none missing, none twice
    assert _same(rows) == _same(full)


RAY_SCRIPT = r"""
import json, sys, threading, time
import ray
from ray.cluster_utils import Cluster
from actlab.studies import sweep, read_rows

spec, out, result = sys.argv[1:4]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
worker = cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
removed = []

def remove_when_started():
    while not read_rows(out):  # the first row is in: tasks are spread over both nodes
        time.sleep(0.05)
    cluster.remove_node(worker, allow_graceful=False)
    removed.append(len(read_rows(out)))

threading.Thread(target=remove_when_started, daemon=True).start()
rows = sweep(spec, out, ray=cluster.address)
ray.shutdown()
cluster.shutdown()
json.dump({"rows": rows, "removed_after": removed}, open(result, "w"))
"""


def _netns_ok() -> bool:
    try:
        r = subprocess.run(["unshare", "--net", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def test_ray_cluster_losing_a_node_gives_the_local_rows(reference, tmp_path):
    pytest.importorskip("ray")
    if not _netns_ok():
        pytest.skip("needs a network namespace of its own (unshare --net, as root): Ray binds the machine's addresses")
    spec, script, result = tmp_path / "s.toml", tmp_path / "ray_run.py", tmp_path / "result.json"
    spec.write_text(SPEC.replace("n_steps = 150", "n_steps = 150\nhit_loss = 0.001"))  # a distinct spec: its own rows
    script.write_text(RAY_SCRIPT)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}
    proc = subprocess.run(["unshare", "--net", "sh", "-c", f'ip link set lo up && exec "{sys.executable}" "{script}" '
                           f'"{spec}" "{tmp_path / "out"}" "{result}"'], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(result.read_text())
    assert got["removed_after"] and got["removed_after"][0] < 12  # the node went while cells were left
    local = sweep(parse_spec(spec.read_text()), tmp_path / "local")
    assert _same(got["rows"]) == _same(local)
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 12 and len(set(lines)) == 12


def test_public_name():
    assert actlab.sweep is sweep and issubclass(SpecError, ValueError)
