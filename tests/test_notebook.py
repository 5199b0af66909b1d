"""examples/tour.ipynb runs top to bottom in a real Jupyter kernel (nbclient), and each result
shows itself as HTML: the map, the check, the audit, the XOR table, the regions, the widget."""

import ast
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("anywidget")

TOUR = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(TOUR, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("tour"))}}).execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def _cell(cells, start: str):
    return next(c for c in cells if c.source.startswith(start))


def test_every_cell_runs_without_error(executed):
    assert all(o.output_type != "error" for c in executed for o in c.outputs)


def test_results_show_themselves_as_html(executed):
    assert "AffineMap" in _html(_cell(executed, "model = nn.Sequential")) and "<rect" in _html(_cell(executed, "model = nn.Sequential"))
    assert "not affine" in _html(_cell(executed, "relu_net"))
    assert "first nonlinear" in _html(_cell(executed, "report"))
    xor = _html(_cell(executed, "from actlab.experiments.xor"))
    assert "0 / 500" in xor and "XOR lab" in xor  # the linear net never solves XOR
    assert "<polygon" in _html(_cell(executed, "from actlab import train"))


def test_the_widget_is_displayed_and_trains_in_the_kernel(executed):
    out = _cell(executed, "import actlab.play").outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in out)
    state = ast.literal_eval(_cell(executed, "w.step(200)").outputs[0]["data"]["text/plain"])
    assert state["epoch"] == 200 and 0.0 <= state["success_rate"] <= 1.0


def test_the_tour_is_stored_without_outputs():
    nb = nbformat.read(TOUR, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert not re.search(r'"execution_count": \d', TOUR.read_text())


def test_the_kernels_draw_themselves(executed):
    ranks = ast.literal_eval(_cell(executed, "x = torch.randn(40, 3").outputs[0]["data"]["text/plain"])
    assert ranks == {"linear": 4, "square": 10, "relu": 40}  # d + 1, (d + 1)(d + 2)/2 at depth 1 … and full
    html = _html(_cell(executed, "from actlab.experiments.kernels"))
    assert "Infinite width" in html and html.count("<svg") == 4


def test_the_signal_draws_itself(executed):
    edge = _html(_cell(executed, "actlab.signal('tanh'"))
    assert "critical" in edge and "Signal propagation" in edge
    study = _html(_cell(executed, "from actlab.experiments.signal"))
    assert "Signal through depth" in study and "6 ξ_c right in" in study
