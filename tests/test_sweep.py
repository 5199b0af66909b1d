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
    _refused(tmp_path, capsys, text, expected)


def _refused(tmp_path, capsys, text: str, expected: str) -> None:
    """`actlab sweep` on the spec ``text``: exit 2, one line naming ``expected``, no folder."""
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
    for address in ("127.0.0.1:9", "localhost:1"):  # localhost is a host like any other, not "local"
        assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--ray", address]) == 2
        err = capsys.readouterr().err
        assert f"--ray {address}: no Ray cluster answers there" in err and err.count("\n") == 1
        assert not (tmp_path / "o").exists()


def test_dry_run_estimates_by_flops_writing_nothing(tmp_path, capsys):
    spec = tmp_path / "a.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    from actlab.studies.cell import cell_flops

    cells = parse_spec(SPEC).cells()
    flops = [cell_flops(c, 12) for c in cells]
    assert d["cells"] == d["pending"] == 12 and d["timed_cell"] == cells[flops.index(min(flops))]
    assert d["estimated_seconds"] == pytest.approx(d["timed_seconds"] * sum(flops) / min(flops))
    # xor (4 rows) and circle (200): weights 2·4 + 4·1 = 12 or 2·6 + 6·6 + 6·1 = 54, 150 steps, 12 seeds, 3 activations
    hand = sum(2 * 3 * rows * w * 150 * 12 * 3 for rows in (4, 200) for w in (12, 54))
    assert d["flops"] == hand == sum(flops)
    assert not (tmp_path / "o").exists()


def test_dry_run_counts_what_is_left_and_refuses_a_different_spec(reference, tmp_path, capsys):
    out = tmp_path / "r"
    sweep(parse_spec(SPEC), out)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:7]))
    d = sweep(parse_spec(SPEC), out, dry_run=True)
    done = [json.loads(x) for x in lines[:7]]
    assert d["pending"] == 5 and d["timed_cell"] not in [{k: r[k] for k in d["timed_cell"]} for r in done]
    spec = tmp_path / "b.toml"
    spec.write_text(SPEC.replace("lr = 0.05", "lr = 0.06"))
    assert main(["sweep", str(spec), "--out", str(out), "--dry-run"]) == 2
    assert "holds a different sweep ([fixed] lr: 0.06 here, 0.05 there)" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ("seeds = 4\n[grid]\nsigma_w2 = [1.0, 2.0]", "sigma_w2 changes nothing where init = 'glorot'"),
    ("seeds = 4\n[fixed]\nsigma_b2 = 0.1\n[grid]\nactivation = ['tanh']", "sigma_b2 changes nothing where init = 'glorot'"),
    ("seeds = 4\n[fixed]\ninit = 'uniform'\n[grid]\ninit_scale = [1.0]\nsigma_w2 = [1.0, 2.0]", "sigma_w2 changes nothing where init = 'uniform'"),
    ("seeds = 4\n[grid]\ninit = ['glorot', 'gaussian']\nsigma_w2 = [1.0, 2.0]", "sigma_w2 changes nothing where init = 'glorot'"),
    ("seeds = 4\n[fixed]\ninit = 'gaussian'\n[grid]\ninit_scale = [0.5, 1.0]", "init_scale changes nothing where init = 'gaussian'"),
    ("seeds = 4\n[grid]\npoints = [50, 100]", "points changes nothing where dataset = 'xor'"),
    ("seeds = 4\n[fixed]\ndataset = 'digits_parity'\n[grid]\nnoise = [0.0, 0.1]", "noise changes nothing where dataset = 'digits_parity'"),
    ("seeds = 4\n[grid]\ndata_draw = [0, 1]", "data_draw changes nothing where dataset = 'xor' without noise"),
    ("seeds = 4\n[fixed]\ndataset = 'circle'\n[grid]\ndata_seed = [0, 1]", "data_seed changes nothing where full batch"),
    ("seeds = 4\n[grid]\nmaxout_k = [2, 3]", "maxout_k changes nothing where activation = 'linear'"),
    ("seeds = 4\n[fixed]\ndataset = 'digits_parity'\n[grid]\npoints = [100, 5000]", "points = 5000: digits_parity has 1797 digits"),
])
def test_keys_that_change_nothing_are_refused(tmp_path, capsys, text, expected):
    _refused(tmp_path, capsys, text, expected)


def test_keys_that_act_in_some_cells_are_kept():
    """A fixed σ with init gridded over glorot and gaussian acts in the Gaussian cells: no refusal."""
    spec = parse_spec("seeds = 2\n[fixed]\nsigma_w2 = 2.0\n[grid]\ninit = ['glorot', 'gaussian']")
    assert len(spec.cells()) == 2


def test_a_second_run_on_a_folder_is_refused_while_the_first_holds_it(tmp_path, capsys):
    from actlab.studies.run import _locked

    spec = tmp_path / "a.toml"
    spec.write_text(SPEC)
    out = tmp_path / "busy"
    with _locked(out):
        assert main(["sweep", str(spec), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"another actlab sweep (pid {os.getpid()}) is running on {out}" in err and err.count("\n") == 1
        assert not (out / "results.jsonl").exists() and not (out / "spec.toml").exists()


def test_rows_written_twice_are_read_once_and_a_damaged_line_is_named(reference, tmp_path):
    out = tmp_path / "dup"
    rows = sweep(parse_spec(SPEC), out)
    path = out / "results.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[2:5]))  # two runs that both appended (before the lock)
    assert _same(read_rows(out)) == _same(rows) and _same(sweep(parse_spec(SPEC), out)) == _same(rows)
    path.write_text("".join(lines[:3]) + '{"dataset": "xor", "activ\n' + "".join(lines[3:]))
    with pytest.raises(SpecError, match=r"results.jsonl line 4 is not a whole row"):
        read_rows(out)


def test_a_failed_cell_on_the_cluster_cancels_the_others_and_is_named(monkeypatch):
    """run_on_ray against a stand-in for Ray's API: the second task raises; the error names its cell
    and every task still waiting is cancelled."""
    import types

    from actlab.studies import _ray

    class Ref:
        def __init__(self, cell):
            self.cell = cell

    cancelled, written = [], []
    fake = types.SimpleNamespace(
        is_initialized=lambda: True,
        remote=lambda **kw: (lambda f: types.SimpleNamespace(remote=lambda cell, seeds, device: Ref(cell))),
        wait=lambda refs, num_returns: (refs[:1], refs[1:]),
        cancel=lambda ref, force: cancelled.append(ref.cell),
    )

    def get(ref):
        if ref.cell["activation"] == "tanh":
            raise RuntimeError("the worker ran out of memory")
        return {"row": ref.cell}

    fake.get = get
    monkeypatch.setitem(sys.modules, "ray", fake)
    cells = [{"activation": a} for a in ("relu", "tanh", "sigmoid", "gelu")]
    with pytest.raises(_ray.CellError, match=r'the cell \{"activation":"tanh"\} failed on the cluster: RuntimeError: the worker ran out'):
        _ray.run_on_ray(cells, 4, "cpu", "auto", written.append)
    assert written == [{"row": cells[0]}] and cancelled == cells[2:]


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
seeds = 16
[fixed]
n_steps = 100
optimizer = "adam"
[grid]
dataset = ["xor", "circle", "moons"]
activation = ["relu", "tanh", "sigmoid"]
hidden = [[4], [8]]
"""


def test_killed_after_a_row_or_mid_write_then_resumed_equals_an_uninterrupted_run(tmp_path):
    """kill -9 at set points of the run (ACTLAB_SWEEP_CRASH: after the Nth row, or halfway through
    writing it), each time resumed from what the last left: the same rows as a run never killed."""
    spec = tmp_path / "k.toml"
    spec.write_text(KILL_SPEC)
    full = sweep(str(spec), tmp_path / "full")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "import sys; from actlab.cli import main; sys.exit(main(sys.argv[1:]))",
           "sweep", str(spec), "--out", str(out), "--json"]
    whole = []
    for crash in ("after:3", "mid:2", "after:1", "mid:1"):
        p = subprocess.run(cmd, env={**os.environ, "ACTLAB_SWEEP_CRASH": crash}, capture_output=True, timeout=600)
        assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
        whole.append(len(read_rows(out)))
        text = (out / "results.jsonl").read_text()
        assert text.endswith("\n") == crash.startswith("after")  # mid-write leaves a cut line behind
    assert whole == [3, 4, 5, 5]  # mid:2 writes one whole row, then half of the next
    rows = sweep(str(spec), out)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 18 and len(set(lines)) == 18  # none missing, none twice, no cut line left
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
