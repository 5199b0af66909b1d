"""The wheel works outside the repository: built from this tree, installed into a fresh virtual
environment in a temporary folder, and run from there (the zoo, the report templates and the
playground's page are package data).

The fast test lends the fresh environment this environment's dependencies (a ``.pth`` line to
its site-packages, which does not activate the editable install of actlab: ``.pth`` files in a
folder named by another ``.pth`` are not read), so actlab itself comes from the wheel alone.
The slow test installs the wheel with its declared dependencies, as a user would.
"""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fresh environments here use the POSIX venv layout (bin/)")


def _run(cmd, cwd, timeout=600, env=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
         cwd=dist)
    (whl,) = dist.glob("actlab-*.whl")
    return whl


def test_the_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ["actlab/zoo.py", "actlab/play/static/index.html", "actlab/play/static/js/main.js", "actlab/play/kernel.c",
                   "actlab/templates/report/report.css"]:
        assert needed in names, f"{needed} missing from {wheel.name}"
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Classifier: License :: OSI Approved :: MIT License" in text and "Project-URL: Documentation" in text
    assert "Provides-Extra: onnx" in text and "Requires-Dist: torch" in text


def _fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin"


def _check_commands(bin_dir: Path, work: Path, env=None):
    py = bin_dir / "python"
    where = _run([str(py), "-c", "import actlab, actlab.zoo; print(actlab.__file__)"], cwd=work, env=env)
    assert str(bin_dir.parent) in where and str(ROOT) not in where, where
    _run([str(bin_dir / "actlab"), "play", "--help"], cwd=work, env=env)
    out = _run([str(bin_dir / "actlab"), "audit", "actlab.zoo:resnet18", "--input-shape", "3,32,32", "--batch", "2"],
               cwd=work, env=env)
    assert "first nonlinear = relu" in out
    _run([str(bin_dir / "actlab"), "demo", "--quick", "--out", "report"], cwd=work, env=env)
    assert (work / "report" / "index.html").stat().st_size > 10_000
    assert (work / "report" / "results.json").exists()


def test_the_wheel_runs_outside_the_repository(wheel, tmp_path):
    bin_dir = _fresh_venv(tmp_path / "venv")
    site = Path(_run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).strip())
    # the wheel's files, unpacked as an installer would (no pip in the fresh environment)
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (bin_dir / "actlab").write_text(f"#!{bin_dir / 'python'}\nfrom actlab.cli import run\nraise SystemExit(run())\n")
    (bin_dir / "actlab").chmod(0o755)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _check_commands(bin_dir, work, env)
    # the widget bundles the page from the installed package's static files
    out = _run([str(bin_dir / "python"), "-c", "import actlab.play; w = actlab.play.widget(seeds=2); "
                "print(len(w._esm), 'window.playground' in w._esm)"], cwd=work, env=env)
    assert out.split()[-1] == "True" and int(out.split()[-2]) > 20_000
    # the playground's fused step compiles from the installed package's kernel.c (into a fresh cache)
    out = _run([str(bin_dir / "python"), "-c", "from actlab.play import _kernel; print(_kernel.load() is not None, _kernel.why_not())"],
               cwd=work, env={**env, "ACTLAB_CACHE": str(tmp_path / "cache")})
    assert out.split()[0] == "True", out
    # and without a compiler, the build the wheel ships: it loads and steps as torch's step does
    out = _run([str(bin_dir / "python"), "-c", PREBUILT_CHECK], cwd=work,
               env={**env, "ACTLAB_CACHE": str(tmp_path / "empty-cache"), "CC": "/bin/false"})
    assert "prebuilt for x86-64" in out or "prebuilt for armv8-a" in out, out
    assert out.strip().endswith("same step"), out


def test_the_wheel_carries_the_webassembly_engine_and_writes_the_static_page_without_a_compiler(wheel, tmp_path):
    """play_kernel.wasm in the wheel (built where clang, wasm-ld and wasi-libc are); actlab from the
    wheel writes the static page with no compiler on PATH and an empty cache, embedding that build."""
    import base64
    import gzip

    from actlab.play import _kernel

    if _kernel.wasm_compiler() is None:
        pytest.skip(f"no WebAssembly toolchain here to build the wheel's engine: {_kernel.WASM_TOOLCHAIN}")
    with zipfile.ZipFile(wheel) as z:
        shipped = z.read(f"actlab/play/_prebuilt/{_kernel.WASM_NAME}")
        z.extractall(tmp_path / "unpacked")
    assert shipped[:4] == b"\0asm"
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}, "PATH": str(tmp_path / "no-bin"),
           "CC": "no-such-compiler", "WASM_CC": "", "ACTLAB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path / "unpacked")}
    code = ("import sys, actlab; assert 'unpacked' in actlab.__file__, actlab.__file__; from actlab.cli import main; "
            f"sys.exit(main(['play', '--static', {str(tmp_path / 'out')!r}]))")
    _run([sys.executable, "-c", code], cwd=tmp_path, env=env)
    html = (tmp_path / "out" / "index.html").read_text()
    assert base64.b64encode(gzip.compress(shipped, compresslevel=9, mtime=0)).decode() in html
    assert not list(tmp_path.glob("cache/*.wasm"))


# run in the installed wheel's environment with CC=/bin/false: the kernel comes from _prebuilt/
PREBUILT_CHECK = """
import torch
from actlab.play import _kernel, engine
from actlab.play.data import make_data
from actlab.play.settings import parse
s, _ = parse({"activation": "tanh", "optimizer": "adam", "networkShape": "8,8", "seeds": 20, "learningRate": 0.01})
data = make_data(s)
fused = engine.Engine(s, data)
print(_kernel.build())
assert fused.fused is not None, _kernel.why_not()
engine._kernel.load = lambda: None
plain = engine.Engine(s, data)
for e in (fused, plain):
    e.train_epochs(3)
flat = lambda e: torch.cat([w.reshape(w.shape[0], -1) for w in e.W] + list(e.b), 1)
a, b = flat(fused), flat(plain)
assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4
print("same step")
"""


def test_the_wheel_is_a_platform_wheel_with_the_prebuilt_kernel(wheel):
    from actlab.play import _kernel

    if _kernel.arch() not in _kernel.PREBUILT_LEVELS:
        pytest.skip(f"no prebuilt levels for {_kernel.arch()}")
    names = set(zipfile.ZipFile(wheel).namelist())
    built = {n.rsplit("/", 1)[1] for n in names if n.startswith("actlab/play/_prebuilt/")}
    want = {_kernel.prebuilt_name(t, w) for t, w, _ in _kernel.PREBUILT_LEVELS[_kernel.arch()]}
    assert want <= built, (want, built)
    assert "-py3-none-" in wheel.name and not wheel.name.endswith("-any.whl")


@pytest.mark.slow
def test_the_wheel_installs_with_its_dependencies(wheel, tmp_path):
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel)],
         cwd=tmp_path, timeout=1800)
    work = tmp_path / "elsewhere"
    work.mkdir()
    _check_commands(bin_dir, work)
