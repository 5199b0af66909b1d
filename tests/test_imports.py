"""Import cost is part of the API: a fresh process pays for `import torch` and nothing a call
does not need — no torch._dynamo (torch.func, torch.optim), scipy, sympy or matplotlib."""

import json
import subprocess
import sys

HEAVY = ("torch._dynamo", "scipy", "sympy", "matplotlib", "sklearn")

SCRIPT = """
import json, sys
import torch
import actlab
from actlab import nets, train
from actlab.experiments.xor import XorConfig, run_xor
seen = {}
seen["import"] = [m for m in HEAVY if m in sys.modules]
spec = nets.spec_from_sizes("conv", in_shape=(3, 32, 32), out=128, hidden=(32, 32, 32), pool=(True, True, False))
m = actlab.collapse(nets.build(spec, "linear", seed=0), spec.in_shape)
assert m.verified and m.method == "reverse"
dense = nets.spec_from_sizes("rnn", in_shape=(20, 3), out=4, hidden=(8,))
assert actlab.collapse(nets.build(dense, "linear", seed=0), dense.in_shape).verified
seen["collapse"] = [m for m in HEAVY if m in sys.modules]
X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
train.train(train.TrainConfig(activation="relu", stop_loss=1e-5, n_steps=50), X, torch.tensor([0.0, 1.0, 1.0, 0.0]), 16)
run_xor(XorConfig(activations=("linear", "relu", "tanh", "maxout"), n_seeds=16, n_steps=30))
seen["train"] = [m for m in HEAVY if m in sys.modules]
print(json.dumps(seen))
"""


def test_collapse_and_training_import_nothing_heavy():
    out = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"import": [], "collapse": [], "train": []}


def _heavy_after(code: str) -> list[str]:
    """The HEAVY modules loaded after running ``code`` in a fresh process."""
    code += f"\nimport sys\nprint([m for m in {HEAVY!r} if m in sys.modules])\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_xor_command_imports_nothing_heavy():
    assert _heavy_after(
        "import io, contextlib\n"
        "from actlab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['xor', '--activations', 'relu,linear', '--seeds', '20', '--steps', '20', '--json']) == 0\n"
    ) == []


def test_dynamics_computation_imports_nothing_heavy():
    """actlab dynamics trains by plain gradient descent: torch.optim's first use would import
    torch._dynamo (and sympy with it)."""
    assert _heavy_after(
        "from actlab.experiments.dynamics import DynamicsConfig, run_dynamics\n"
        "run_dynamics(DynamicsConfig(preset='glance'))\n"
    ) == []


def test_fold_report_imports_nothing_heavy():
    """fold counts multiply-adds with a TorchFunctionMode: torch.utils.flop_counter would import
    torch._dynamo and sympy."""
    assert _heavy_after(
        "import torch, actlab\n"
        "m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()\n"
        "assert actlab.fold(m, torch.randn(2, 3, 8, 8)).fold_report.macs_after > 0\n"
    ) == []


def test_kernels_import_nothing_heavy():
    """actlab.nngp / actlab.ntk on every path (closed form, Hermite series, both direct rules), and actlab.signal."""
    assert _heavy_after(
        "import torch, actlab\n"
        "x = torch.randn(12, 3, dtype=torch.float64)\n"
        "for a in ('relu', 'tanh', 'selu', 'softsign', 'hardtanh'):\n"
        "    actlab.ntk(a, x, depth=3)\n"
        "actlab.signal('tanh', 4.0, 0.05)\n"
    ) == []


def test_actlab_imports_and_reads_sweep_specs_without_tomllib():
    """Python 3.10 has no tomllib: actlab imports without it and reads TOML specs with tomli."""
    code = ("import sys; sys.modules['tomllib'] = None\n"
            "import actlab\n"
            "from actlab.studies import parse_spec\n"
            "spec = parse_spec('seeds = 3\\n[grid]\\nactivation = [\"relu\", \"tanh\"]')\n"
            "assert [c['activation'] for c in spec.cells()] == ['relu', 'tanh'], spec\n"
            "assert 'tomli' in sys.modules\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
