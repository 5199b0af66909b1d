"""The static playground's session (worker.js on kernel.c's WebAssembly build), driven under Node,
against the served page's Session on the same links: the same settings and notices, the same
initial weights (actlab's), the same per-seed values where the data are the same (the article's
4-point XOR), the same collapsed map and least-squares fit, the same CSV rows; the page's
statistics over seeds against actlab's; and the static build (``actlab play --static``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.cli import main
from actlab.play import _kernel, static_site
from actlab.play.session import Session, decode_frame
from actlab.play.settings import parse
from actlab.train import init_weights

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "js" / "static_session.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (it runs the static page's session)")


def _static(wasm: Path, runs: list[dict], tmp_path: Path) -> list[dict]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"wasm": str(wasm), "config": static_site._config(), "runs": runs}))
    done = subprocess.run([NODE, str(DRIVER), str(path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _served(values: dict, epochs: int) -> tuple[Session, tuple[dict, dict]]:
    s = Session(values=values)
    for _ in range(epochs):
        s.advance(None)
    return s, decode_frame(s.frame())


LINKS = [
    {},
    {"activation": "relu", "dataset": "spiral", "networkShape": "8,8,8", "seeds": "40", "learningRate": "0.1"},
    {"activation": "ReLU", "noise": "15", "percTrainData": "70", "batchSize": "5", "regularization": "l2",
     "regularizationRate": "0.003", "x": "false", "xSquared": "true", "seed": "0.12345"},
    {"activation": "banana", "learningRate": "99", "networkShape": "4,x", "noise": "7.5", "collectStats": "false", "cosX": "true"},
    {"problem": "regression", "regDataset": "reg-gauss", "loss": "bce", "x": "false", "y": "false"},
    {"networkShape": "", "seeds": "1000", "activation": "linear", "optimizer": "adam", "compare": "tanh"},
    {"networkShape": "64,64,64,64,64,64,64,64", "seeds": "1000"},
]


def test_static_settings_follow_the_served_rules(wasm, tmp_path):
    """Every link: the same settings and the same notices (bad values named, unknown keys ignored)."""
    got = _static(wasm, [{"values": v, "parse_only": True} for v in LINKS], tmp_path)
    for values, res in zip(LINKS, got):
        want, notices = parse(values)
        assert res["settings"] == want.to_hash(), values
        assert res["notices"] == notices, values


def test_static_says_what_needs_python(wasm, tmp_path):
    """What only the served page does falls back with a notice naming `actlab play`: another
    activation, actlab's own datasets, the edge of chaos off the build's table of σ_b²."""
    runs = [{"values": {"activation": "gelu"}, "parse_only": True}, {"values": {"dataset": "moons"}, "parse_only": True},
            {"values": {"init": "critical", "sigmaB2": "0.4"}, "parse_only": True}]
    for res, (key, fallback) in zip(_static(wasm, runs, tmp_path), [("activation", "tanh"), ("dataset", "circle"), ("sigmaB2", "0.5")]):
        assert res["settings"][key] == fallback
        assert len(res["notices"]) == 1 and "actlab play" in res["notices"][0]


def test_static_initial_weights_are_actlabs(wasm, tmp_path):
    """Seed s starts from actlab's own glorot draws (splitmix64 of seed and index), bit for bit."""
    res = _static(wasm, [{"values": {"networkShape": "5,3", "seeds": "3", "xTimesY": "true"}, "epochs": 0}], tmp_path)[0]
    sizes = [tuple(s) for s in res["sizes"]]
    assert sizes == [(5, 3), (3, 5), (1, 3)]
    want = init_weights(sizes, torch.arange(3)).numpy().ravel()
    np.testing.assert_array_equal(np.array(res["init"], np.float32), want)


XOR = {"dataset": "xor4", "networkShape": "3", "seeds": "60", "learningRate": "0.3", "batchSize": "4"}


@pytest.mark.parametrize("extra", [{"activation": "tanh"}, {"activation": "relu", "optimizer": "adam", "learningRate": "0.03"},
                                   {"activation": "sigmoid", "loss": "bce", "learningRate": "3"},
                                   {"activation": "linear", "compare": "relu"}])
def test_static_engine_hands_the_page_the_served_pages_values(wasm, tmp_path, extra):
    """The article's 4-point XOR (the same data in both pages, a whole batch a step): after 150
    epochs every seed is in the same state (solved, failed, diverged) and has the same training
    loss, to float32 rounding, in both pages' frames — the values the page's statistics come from."""
    values = {**XOR, **extra}
    res = _static(wasm, [{"values": values, "epochs": 150}], tmp_path)[0]
    _, frame = _served(values, 150)
    got, want = res["sections"], frame[1]
    assert res["epoch"] == frame[0]["epoch"] == 150
    runs = ["seed", "compare"] if "compare" in extra else ["seed"]
    for run in runs:
        np.testing.assert_array_equal(got[f"{run}_state"], want[f"{run}_state"])
        assert 0 < (want[f"{run}_state"] == 1).sum() < 60 or run == "compare" or extra["activation"] == "linear"
        np.testing.assert_allclose(np.array(got[f"{run}_loss"], float), want[f"{run}_loss"], rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("values", [{"networkShape": "5,3", "seeds": "20", "activation": "relu", "optimizer": "adam",
                                     "dataset": "spiral", "batchSize": "7"},
                                    {"networkShape": "4", "seeds": "9", "activation": "tanh", "dataset": "circle"}])
def test_static_run_shared_by_two_engines_equals_one(wasm, tmp_path, values):
    """A run whose step is worth two cores trains its later blocks of seeds in the helper Worker
    (here the two in one Node process, joined by a MessageChannel as the page joins them): after 3
    epochs a step at a time, every seed's parameters and per-seed values equal those of the same run
    on one engine, bit for bit — seeds are independent — and the frame's epoch is where all are."""
    config = static_site._config()
    config["engine"]["share_step_macs"] = 0  # share these small nets too
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"wasm": str(wasm), "config": config, "values": values, "epochs": 3}))
    done = subprocess.run([NODE, str(ROOT / "tests" / "js" / "static_split.mjs"), str(path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    shared, alone = json.loads(done.stdout)
    assert shared["shared"] and not alone["shared"]
    assert 0 < shared["first"] < int(values["seeds"]) and shared["first"] % _kernel.WASM_VS == 0
    assert shared["epoch"] == alone["epoch"] == 3
    assert shared["params"] == alone["params"]
    assert shared["sections"] == alone["sections"]
    init = init_weights([(int(values["networkShape"].split(",")[0]), 2)], torch.arange(1))  # (trained: they moved)
    assert np.abs(np.array(shared["params"][:init.shape[1]]) - init.numpy()[0]).max() > 0


def test_page_statistics_agree_with_actlabs(tmp_path):
    """static/js/stats.js — the statistics both pages show — against actlab.stats.wilson, numpy's
    quantiles and the paired counts, on seeds with ties, NaN losses and diverged ones."""
    from actlab.stats import wilson

    rng = np.random.default_rng(5)
    cases = []
    for n in (1, 2, 7, 100, 1000):
        loss = rng.gamma(1.0, 0.1, n).round(3)
        loss[rng.random(n) < 0.1] = np.nan
        state = rng.choice([0, 1, 2], n, p=[0.4, 0.5, 0.1]).astype(int)
        other = rng.choice([0, 1, 2], n).astype(int)
        cases.append({"loss": [None if np.isnan(v) else v for v in loss], "test_loss": (loss * 2).tolist(), "state": state.tolist(),
                      "other": other.tolist()})
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases).replace("NaN", "null"))
    done = subprocess.run([NODE, str(ROOT / "tests" / "js" / "stats.mjs"), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for case, got in zip(cases, json.loads(done.stdout)):
        state = np.array(case["state"])
        loss = np.array([np.nan if v is None else v for v in case["loss"]])
        k, n = int((state == 1).sum()), len(state)
        assert (got["n_seeds"], got["n_solved"], got["n_diverged"]) == (n, k, int((state == 2).sum()))
        assert got["success_ci"] == pytest.approx(list(wilson(k, n)), abs=1e-12)
        kept = loss[(state != 2) & np.isfinite(loss)]
        want = np.quantile(kept, [0.25, 0.5, 0.75]) if len(kept) else [None] * 3
        assert [got["loss_q1"], got["loss_median"], got["loss_q3"]] == (pytest.approx(list(want), abs=1e-12) if len(kept) else want)
        assert got["status"] == "".join("dsf"[[2, 1, 0].index(s)] for s in state)
        a, b = state == 1, np.array(case["other"]) == 1
        assert got["paired"] == {"both": int((a & b).sum()), "only_main": int((a & ~b).sum()),
                                 "only_compare": int((~a & b).sum()), "neither": int((~a & ~b).sum())}


def test_static_collapsed_map_and_fit_equal_the_served_pages(wasm, tmp_path):
    """A linear network: the collapsed map of the selected seed and the least-squares fit."""
    values = {**XOR, "activation": "linear", "networkShape": "4,3", "xSquared": "true"}
    res = _static(wasm, [{"values": values, "epochs": 40}], tmp_path)[0]
    s, _ = _served(values, 40)
    want = s.analysis()
    got = res["analysis"]
    np.testing.assert_allclose(got["collapse"]["weight"], want["collapse"]["weight"], rtol=1e-4, atol=1e-5)
    assert got["collapse"]["bias"] == pytest.approx(want["collapse"]["bias"], rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(got["best_affine"]["weight"], want["best_affine"]["weight"], atol=1e-6)
    assert got["best_affine"]["r2"] == pytest.approx(want["best_affine"]["r2"], abs=1e-9)
    assert got["why"] == want["why"]


def test_static_build_writes_one_page(wasm, tmp_path, capsys):
    """`actlab play --static DIR`: one index.html carrying the engine, its worker and the page."""
    out = tmp_path / "site" / "play"
    assert main(["play", "--static", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "window.actlabStatic" in html and "</script" not in html.split("window.actlabStatic = ", 1)[1].split(";</script>")[0]
    assert list(out.iterdir()) == [out / "index.html"]
    assert "wrote" in capsys.readouterr().out


def test_static_build_refuses_a_file(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["play", "--static", str(f)])
    assert e.value.code == 2 and "expected a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


CSVS = [
    ("x1,x2,label\n0,0,0\n1,1,1\n0.5,2,1\n", "classification"),
    ("0,0,1\n1,1,0\n1,2\n", "classification"),
    ("0,0,1\nfoo,1,0\n", "classification"),
    ("0,0,1\n1,1,2\n2,2,3\n", "classification"),
    ("0,0,1\n1,nan,0\n", "classification"),
    ("0,0,0.3\n1,1,-2\n", "regression"),
    ("0,0,1\r\n1,1,0\r2,2,1", "classification"),
    ('0,0,"1\n1,1,0', "classification"),
    ('"0","0","1"\n"1",1,"0"\n', "classification"),
    ('0,0,"1"x\n1,1,0\n', "classification"),
    (" 1_0 , +2.5e1 ,1\n\n\n-.5,3.,0\n", "classification"),
    ("1,2,3\n", "regression"),
    ("a,b,c\nd,e,f\n", "regression"),
    ("0,0,1\n2000000,1,0\n", "classification"),
    ("0,0,inf\n1,1,0\n", "regression"),
    ("0,0,1\n" * 5001, "classification"),
    ("0,0,1\n" * 200_000, "classification"),
    ("", "classification"),
]


def test_static_csv_reader_agrees_with_the_served_one(wasm, tmp_path):
    """Your own CSV: the static page reads it as the served page's parse_csv does, rows or error."""
    from actlab.play.data import parse_csv

    runs = [{"values": {"problem": problem}, "csv": text} for text, problem in CSVS]
    for (text, problem), got in zip(CSVS, _static(wasm, runs, tmp_path)):
        try:
            want = parse_csv(text, problem)
        except ValueError as e:
            assert got == {"error": str(e)}, text[:40]
        else:
            assert "rows" in got, (text[:40], got)
            np.testing.assert_array_equal(np.array(got["rows"]), want)


def test_static_gaussian_and_critical_initialisations_are_actlabs(wasm, tmp_path):
    """init=gaussian and init=critical: actlab's draws (normals by the inverse CDF of the same
    uniforms) at the same σ_w² (the edge of chaos from actlab.theory's table), to float32 rounding."""
    from actlab.theory import critical_sigma_w2

    runs = [{"values": {"networkShape": "5,3", "seeds": "3", "init": "gaussian", "sigmaW2": "2", "sigmaB2": "0.1"}, "epochs": 0},
            {"values": {"networkShape": "5,3", "seeds": "3", "init": "critical", "sigmaB2": "0.05"}, "epochs": 0}]
    got = _static(wasm, runs, tmp_path)
    sizes = [(5, 2), (3, 5), (1, 3)]
    for res, (w2, b2) in zip(got, [(2.0, 0.1), (critical_sigma_w2("tanh", 0.05), 0.05)]):
        want = init_weights(sizes, torch.arange(3), init="gaussian", sigma_w2=w2, sigma_b2=b2).numpy().ravel()
        np.testing.assert_array_max_ulp(np.array(res["init"], np.float32), want, maxulp=1)


MEAN_FIELD_LINKS = [{}, {"init": "gaussian", "sigmaW2": "2", "sigmaB2": "0.1", "activation": "relu"},
                    {"init": "critical", "sigmaB2": "0.05", "activation": "tanh", "compare": "sigmoid"},
                    {"init": "critical", "sigmaB2": "0.05", "sigmaW2": "1.5", "activation": "relu"}]


def test_static_mean_field_equals_the_served_pages(wasm, tmp_path):
    """The header's mean field (phase, χ₁, ξ_c, q*, the σ used, the note) and the notices, from
    the tables the build writes, against the served page's actlab.theory; elsewhere it says where
    it has them."""
    got = _static(wasm, [{"values": v, "parse_only": True} for v in MEAN_FIELD_LINKS]
                  + [{"values": {"init": "gaussian", "sigmaW2": "2.7"}, "parse_only": True}], tmp_path)
    for values, res in zip(MEAN_FIELD_LINKS, got):
        state = Session(values=values).state_message()
        assert res["notices"] == state["notices"], values
        for a, b in zip(res["mean_field"], state["mean_field"], strict=True):
            assert a.keys() == b.keys() and a["phase"] == b["phase"] and a["note"] == b["note"], values
            for k in ("sigma_w2", "sigma_b2", "chi1", "xi_c", "q_star"):
                assert a[k] == (None if b[k] is None else pytest.approx(b[k], rel=1e-6)), (values, k)
    off = got[-1]["mean_field"][0]
    assert off["phase"] is None and "σ_w² = 0.5, 1, 1.5, 2, 3, 4" in off["note"] and off["sigma_w2"] == 2.7
