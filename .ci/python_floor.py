"""CI: nothing in actlab needs a newer Python than pyproject's requires-python.

1. vermin (a tool made for this) reads src/ and fails on any construct or standard-library name
   newer than the floor (tomllib, ExceptionGroup, typing.Self, …) not guarded by a fallback.
2. pip resolves every dependency and extra, under constraints.txt, for the floor's Python
   (--dry-run: nothing is installed): a pin or a package with no wheel for it fails here.
3. Every Python from the floor to 3.13 found on this machine (on PATH as pythonX.Y, or in pyenv)
   compiles src/ with warnings as errors: syntax that is new, or deprecated, fails here.

Usage: python .ci/python_floor.py  (from the repository root; needs vermin and network to the index)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib  # novermin: guarded
except ImportError:  # this script runs on the floor's Python too
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def floor() -> str:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+\.\d+)", spec.strip())
    if not m:
        sys.exit(f"python_floor: expected requires-python '>=X.Y', got {spec!r}")
    return m.group(1)


def requirements() -> list[str]:
    """Every dependency of actlab and of all its extras, self-references expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    reqs = list(project["dependencies"])
    for deps in extras.values():
        reqs += [d for d in deps if not d.replace(" ", "").startswith(project["name"] + "[")]
    return sorted(set(reqs))


def main() -> int:
    version = floor()
    print(f"python_floor: vermin --target={version}- over src/", flush=True)
    subprocess.run([str(Path(sys.executable).parent / "vermin"), f"--target={version}-", "--violations", "--no-tips",
                    "--eval-annotations", "--backport", "typing_extensions", str(ROOT / "src")], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(requirements()) + "\n")
    print(f"python_floor: pip resolves the dependencies and extras for Python {version} under constraints.txt", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                    "--target", tempfile.mkdtemp(), "--python-version", version, "--only-binary=:all:", "-c", str(ROOT / "constraints.txt"),
                    "-r", f.name], check=True)
    compile_everywhere(version)
    print(f"python_floor: Python {version} is enough for actlab and every extra")
    return 0


def interpreters(floor_version: str) -> dict[str, str]:
    """Python X.Y → an interpreter on this machine, for X.Y from the floor to 3.13."""
    minor = int(floor_version.split(".")[1])
    found = {}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for m in range(minor, 14):
        v = f"3.{m}"
        exe = shutil.which(f"python{v}")
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode != 0:
            exe = None  # a pyenv shim of a version that is not selected
        if exe is None and pyenv.is_dir():
            exe = next((str(p / "bin" / "python") for p in sorted(pyenv.glob(f"{v}.*")) if (p / "bin" / "python").exists()), None)
        if exe:
            found[v] = exe
    return found


def compile_everywhere(floor_version: str) -> None:
    found = interpreters(floor_version)
    print(f"python_floor: compiling src/ with warnings as errors on Python {', '.join(found) or '(none found)'}", flush=True)
    for v, exe in found.items():
        with tempfile.TemporaryDirectory() as tmp:  # a copy: no __pycache__ of other Pythons left in src/
            shutil.copytree(ROOT / "src", Path(tmp) / "src")
            subprocess.run([exe, "-W", "error", "-m", "compileall", "-q", str(Path(tmp) / "src")], check=True)


if __name__ == "__main__":
    sys.exit(main())
