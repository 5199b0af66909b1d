"""Notebook reprs: each result's ``_repr_html_`` is well-formed HTML that shows the object's own
numbers (checked against its attributes), and builds without importing matplotlib."""

import re
import subprocess
import sys
from html.parser import HTMLParser

import torch
from torch import nn

import actlab
from actlab.experiments.xor import XorConfig, run_xor


class _Balance(HTMLParser):
    """Counts open tags: every element that is opened is closed (void elements aside)."""

    VOID = {"br", "hr", "img", "input", "meta", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def well_formed(h: str) -> list[str]:
    p = _Balance()
    p.feed(h)
    p.close()
    assert p.errors == [] and p.stack == [], (p.errors, p.stack)
    return p.tags


def text(h: str) -> str:
    return re.sub(r"<[^>]+>", " ", h)


def test_affine_map_shows_shape_rank_certificate_and_a_heatmap_of_w():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 3))
    m = actlab.collapse(net, (5,))
    h = m._repr_html_()
    tags = well_formed(h)
    assert tags.count("rect") == 3 * 5  # one cell per entry of W
    t = text(h)
    assert f"rank: {m.rank()}" in " ".join(t.split()) and f"{m.residual:.1e}" in t and "certified" in t
    w_text = re.findall(r"W\[(\d+),(\d+)\] = ([-0-9.e]+)", h)
    for i, j, v in w_text:
        assert abs(float(v) - float(m.weight[int(i), int(j)])) <= 1e-3 * abs(float(m.weight[int(i), int(j)])) + 1e-12


def test_a_large_map_is_not_drawn_cell_by_cell():
    m = actlab.collapse(nn.Linear(100, 3), (100,))
    assert "<rect" not in m._repr_html_() and "too large" in m._repr_html_()


def test_affine_check_shows_the_verdict_and_residual():
    torch.manual_seed(0)
    c = actlab.check_affine(nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)), (3,))
    h = c._repr_html_()
    well_formed(h)
    assert "not affine" in text(h) and f"{c.residual:.2e}" in h


def test_audit_report_rows_and_the_first_owner_highlighted():
    from actlab import zoo

    torch.manual_seed(0)
    r = actlab.audit(zoo.resnet18(), torch.randn(2, 3, 32, 32))
    h = r._repr_html_()
    well_formed(h)
    assert h.count("<tr") == len(r.rows) + 1  # header + one row per module
    highlighted = re.findall(r'<tr style="background:#fff3b0"><td[^>]*>([^<]*)</td>', h)
    assert [s.replace("&nbsp;", "").strip() for s in highlighted] == ["relu"] == [r.first_nonlinear]
    assert "first nonlinear" in text(h)


def test_xor_result_table_and_bars_match_the_stats():
    res = run_xor(XorConfig(activations=("identity", "relu"), n_seeds=64, n_steps=300))
    h = res._repr_html_()
    well_formed(h)
    for s in res.activations.values():
        assert f"{s.n_success:,} / {s.n_seeds:,}" in h and f"{s.success_rate:.1%}" in h
    assert h.count("<line") >= 2  # one interval whisker per activation (and the axis)


def test_region_map_draws_every_region_and_the_boundary():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
    rm = actlab.regions(net, (-2, 2, -2, 2))
    h = rm._repr_html_()
    well_formed(h)
    assert h.count("<polygon") == rm.count and f"{rm.count:,}" in text(h)
    assert h.count("<polyline") == len(rm.boundary(0.0))


def test_dynamics_result_shows_each_mode():
    from actlab.experiments.dynamics import DynamicsResult

    modes = [{"s": s, "t": [0, 1, 2], "measured": [0.0, s / 2, s], "analytic": [0.0, s / 2, s], "r2": 1.0,
              "half_time_measured": 1.0, "half_time_predicted": 1.0, "single_exponential_r2": 0.8} for s in (3.0, 1.0)]
    from actlab.experiments.dynamics import DynamicsConfig

    d = DynamicsResult(config=DynamicsConfig(preset="glance"), saxe={"modes": modes, "collapse_residual_max": 1e-16,
                       "n_checkpoints": 3}, xor_init_scale=[], xor_skip=[], relu_failures={"n_seeds": 10})
    h = d._repr_html_()
    well_formed(h)
    assert h.count("<polyline") == 4 and "1.00000" in h


def test_reprs_import_no_matplotlib():
    code = ("import sys, torch, actlab; from torch import nn; "
            "m = actlab.collapse(nn.Linear(3, 2), (3,)); m._repr_html_(); "
            "actlab.check_affine(nn.Linear(3, 2), (3,))._repr_html_(); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
