"""The static playground: the served page as one self-contained HTML file that trains in the browser.

The page's own modules (static/js) are embedded and loaded from blob URLs, the engine is kernel.c
compiled to WebAssembly (``_kernel_build.compile_wasm``) running in a Web Worker (worker*.js with
kernel.js), and the rules it needs from Python are written in at build time: the URL keys'
(``settings.schema``) and the mean-field numbers of each activation (``mean_field.theory``). One
file, so that it opens from any static host and from disk (file://, where a browser refuses
module imports, workers and fetches of other files).
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import re
import tempfile
from pathlib import Path

from . import _kernel, data
from .mean_field import theory
from .settings import Settings, schema

__all__ = ["write", "page", "page_modules", "unmodule", "wasm_bytes", "WASM_PREBUILT"]

STATIC = Path(__file__).with_name("static")
WASM_PREBUILT = _kernel.PREBUILT / _kernel.WASM_NAME  # what a wheel carries (setup.py builds it)
# Multiply-adds of one step of all seeds (seeds × batch × 3 × weights) from which a run with nothing
# compared shares its seeds with the page's second Worker. Measured in headless Chromium on 2 cores,
# 100 seeds: from ~1.3·10⁶ on (5 × 10 tanh, 3 × 16 and 4 × 16 ReLU, 4 × 32) it trained 20–44 % more
# epochs/s at the same 30 frames/s; below 10⁶ (3 × 8, 16,16) it gained nothing.
SHARE_STEP_MACS = 1e6
_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([\w]+\.js)";\n', re.M)
# the Worker's one classic script, each part after what it imports; the page's modules are the others
_WORKER_PARTS = ("kernel.js", "worker_rules.js", "worker_data.js", "worker_run.js", "worker.js")


def wasm_bytes() -> bytes:
    """The WebAssembly engine: the wheel's build, else one compiled here (kept in the cache)."""
    if WASM_PREBUILT.exists():
        return WASM_PREBUILT.read_bytes()
    return _kernel.cached_build(_kernel.WASM_FLAGS, ".wasm", _kernel.compile_wasm).read_bytes()


def page_modules() -> dict[str, str]:
    """The page's modules in an order where each comes after those it imports."""
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted((STATIC / "js").glob("*.js"))
               if not p.name.startswith("worker")}
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in order:
            return
        if name in path:
            raise RuntimeError(f"the page's modules import each other in a cycle: {' → '.join(path + (name,))}")
        for dep in _IMPORT.findall(sources[name]):
            visit(dep, path + (name,))
        order.append(name)

    for name in sources:
        visit(name)
    return {name: sources[name] for name in order}


def unmodule(src: str) -> str:
    """A module's source for one shared scope: its imports and its ``export`` keywords taken out."""
    return re.sub(r"^export ", "", _IMPORT.sub("", src), flags=re.M)


def _worker() -> str:
    """The Worker's parts as one classic script."""
    return "\n".join(unmodule((STATIC / "js" / name).read_text(encoding="utf-8")) for name in _WORKER_PARTS)


# the (σ_w², σ_b²) at which the static page has the mean field's numbers (actlab.theory's, written at
# build time): the page's initialisations at these are exact, its header elsewhere says where it has them
SIGMA_W2 = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
SIGMA_B2 = (0.0, 0.01, 0.05, 0.1, 0.5)


def _mean_field() -> dict:
    """actlab.theory's numbers for the static page: glorot per activation; gaussian at every
    (σ_w², σ_b²) of the grids; the edge of chaos (critical σ_w², or why there is none) per σ_b²."""
    from ..theory import critical_sigma_w2

    def numbers(m: dict) -> list:  # [phase, χ₁, ξ_c, q*] (None: infinite), 7 digits
        return [m["phase"], *(None if m[k] is None else float(f"{m[k]:.7g}") for k in ("chi1", "xi_c", "q_star"))]

    out: dict = {"sigma_w2": list(SIGMA_W2), "sigma_b2": list(SIGMA_B2), "glorot": {}, "gaussian": {}, "critical": {}}
    for a in _kernel.ACTIVATIONS:
        out["glorot"][a] = theory(Settings(), a)
        for b in SIGMA_B2:
            for w in SIGMA_W2:
                out["gaussian"][f"{a}|{w!r}|{b!r}"] = numbers(theory(Settings(init="gaussian", sigmaW2=w, sigmaB2=b), a))
            try:
                w = critical_sigma_w2(a, b)
            except ValueError as e:  # no edge (an unbounded activation with σ_b² > 0): the served page's note
                out["critical"][f"{a}|{b!r}"] = {"error": str(e)}
            else:
                out["critical"][f"{a}|{b!r}"] = {"w": w, "m": numbers(theory(Settings(init="critical", sigmaB2=b), a))}
    return out


@functools.cache
def _config_json() -> str:
    limits = {"max_csv_bytes": data.MAX_CSV_BYTES, "max_points": data.MAX_POINTS, "max_coord": data.MAX_COORD,
              "n_classify": data.N_CLASSIFY, "n_regress": data.N_REGRESS}
    engine = {"share_step_macs": SHARE_STEP_MACS}
    return json.dumps({"schema": schema(), "data": limits, "theory": _mean_field(), "engine": engine}, allow_nan=False)


def _config() -> dict:
    """What the static page needs from Python, as data: the URL keys' rules, the data's limits, the mean field."""
    return json.loads(_config_json())


_LOADER = """(function () {  // the page's modules from blob URLs, each import pointed at its module's URL
  const A = window.actlabStatic, urls = {};
  for (const [name, src] of Object.entries(A.modules))
    urls[name] = URL.createObjectURL(new Blob([src.replace(/from "\\.\\/(\\w+\\.js)"/g, (m, d) => `from "${urls[d]}"`)],
                                              { type: "text/javascript" }));
  import(urls["main.js"]);
})();"""


def _script_json(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def page(wasm: bytes | None = None) -> str:
    """The static page's HTML (one file)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "play.css").read_text(encoding="utf-8")
    wasm = wasm_bytes() if wasm is None else wasm
    packed = gzip.compress(wasm, compresslevel=9, mtime=0)  # the worker unpacks it (DecompressionStream)
    data = {"config": _config(), "wasm": base64.b64encode(packed).decode(), "worker": _worker(), "modules": page_modules()}
    link = '<link rel="stylesheet" href="/static/play.css">'
    script = '<script type="module" src="/static/js/main.js"></script>'
    if link not in html or script not in html:
        raise RuntimeError("static/index.html no longer has the stylesheet link and module script the static build replaces")
    html = html.replace(link, f"<style>\n{css}</style>")
    return html.replace(script, f"<script>window.actlabStatic = {_script_json(data)};</script>\n<script>{_LOADER}</script>")


def write(out_dir: str | os.PathLike, wasm: bytes | None = None) -> Path:
    """The static playground written to ``out_dir``/index.html (made if missing; the file replaced
    whole, never half-written). Returns its path. RuntimeError when no WebAssembly build is at
    hand (no wheel's, no toolchain here: the message names the toolchain)."""
    text = page(wasm)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--static needs a directory to write index.html into, got the file {out}")
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".html", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # readable as any page a web server serves (mkstemp makes it private)
        os.replace(tmp, out / "index.html")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out / "index.html"
