"""The static playground in headless Chromium, from a static server and from disk (file://, as a
user's browser opens it): it trains TensorFlow Playground's default set-up, the spiral pair and a
run whose seeds the two Workers share, with no console error; TensorFlow Playground's links as
people paste them work in both pages; and the WebAssembly step equals the native one in the
browser too."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
import torch
from _browser import chrome, served_playground, wait_state

from actlab.play import _kernel, static_site
from actlab.play.settings import Settings
from actlab.train import init_weights


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if _kernel.wasm_compiler() is None and not static_site.WASM_PREBUILT.exists():
        pytest.skip(f"no WebAssembly build: {_kernel.WASM_TOOLCHAIN}")
    out = tmp_path_factory.mktemp("site") / "play"
    static_site.write(out)
    return out


@pytest.fixture(scope="module")
def static_url(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def served_url():
    yield from served_playground()


def _severe(drv):
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("where", ["http", "file"])
def test_static_page_trains_the_default_and_the_spiral_pair(where, site, static_url, tmp_path):
    url = static_url if where == "http" else site.joinpath("index.html").as_uri()
    drv = chrome(file_access=False)
    try:
        drv.set_window_size(1400, 1000)
        drv.get(url)
        st = wait_state(drv, lambda s: s["frames_drawn"] > 0, what="the first frame")
        assert st["static"] is True and st["activation"] == "tanh" and st["seeds"] == 100 and st["epoch"] == 0
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 100 and (s["success_rate"] or 0) > 0.5, what="100 epochs, most seeds solved")
        assert st["epochs_per_s"] > 0 and st["errors"] == [] and st["notices"] == []
        drv.get(url + "#activation=relu&compare=tanh&dataset=spiral&networkShape=8,8,8&seeds=100&learningRate=0.03")
        drv.refresh()  # a new link in the same tab, as a pasted one
        st = wait_state(drv, lambda s: s["dataset"] == "spiral" and s["compare"] == "tanh", what="the spiral pair's link")
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 20 and s["compare_stats"] is not None, what="20 epochs of the pair")
        assert sum(st["compare_stats"]["paired"].values()) == 100
        assert st["network"] and st["strip"]["n"] == 100 and st["errors"] == []
        # a step over the two-core threshold, nothing compared: the second Worker trains the later
        # seeds (56 … 99) — most of the 100 are solved only if both halves train
        drv.get(url + "#activation=tanh&dataset=circle&networkShape=64,64&seeds=100&learningRate=0.03")
        drv.refresh()
        st = wait_state(drv, lambda s: s["networkShape"] == "64,64" and s["frames_drawn"] > 0, what="the 64,64 link")
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 15 and (s["success_rate"] or 0) >= 0.9, what="both halves of the seeds trained")
        assert st["strip"]["n"] == 100 and st["errors"] == []
        drv.save_screenshot(str(tmp_path / f"static-{where}.png"))
        assert _severe(drv) == []
    finally:
        drv.quit()


LINKS = [  # (hash, what the page must show)
    ("activation=relu&activation_hide=true&numHiddenLayers_hide=true&problem_hide=true&dataset=xor",
     lambda s: s["activation"] == "relu" and s["dataset"] == "xor"
     and {"activation_hide", "numHiddenLayers_hide", "problem_hide"} <= set(s["hidden_controls"])),
    ("activation=tanh&amp;dataset=spiral&amp;networkShape=3&amp;seeds=12",  # pasted from HTML
     lambda s: s["dataset"] == "spiral" and s["networkShape"] == "3" and s["seeds"] == 12),
    ("activation=sigmoid&dataset=gauss&networkShape=2&", lambda s: s["activation"] == "sigmoid" and s["dataset"] == "gauss"),
    ("activation=relu&dataset=xo", lambda s: s["activation"] == "relu" and s["dataset"] == "circle"
     and any(n.startswith("dataset='xo'") for n in s["notices"])),  # cut short
    ("activation=relu&networkShape=4%2", lambda s: s["activation"] == "relu" and s["networkShape"] == "4,2"
     and any(n.startswith("networkShape=") for n in s["notices"])),  # cut inside an escape
    ("initZero=true&seeds=20&dataset=xor&hideText=true&collectStats=false&cosX=true&stepButton_hide=true",
     lambda s: s["settings"]["initZero"] == "true" and s["seeds"] == 20 and {"hideText", "stepButton_hide"} <= set(s["hidden_controls"])
     and s["notices"] == []),  # a fork's keys are ignored
]


@pytest.mark.parametrize("mode", ["served", "static"])
def test_tensorflow_playground_links_in_both_pages(mode, static_url, served_url):
    base = static_url if mode == "static" else served_url
    drv = chrome()
    try:
        drv.set_window_size(1400, 1000)
        for link, check in LINKS:
            drv.get("about:blank")
            drv.get(base + "#" + link)
            st = wait_state(drv, lambda s: s["frames_drawn"] > 0 and check(s), what=f"the link #{link}")
            for key in st["hidden_controls"]:
                assert key in link
        # initZero: every seed starts the same, so after an epoch they all agree
        drv.execute_script("window.playground.step()")
        st = wait_state(drv, lambda s: s["epoch"] >= 1, what="one epoch from zero")
        assert st["success_rate"] in (0, 1)
        assert "hideText=true" in drv.execute_script("return location.hash")  # the page keys stay in the URL
        assert _severe(drv) == []
    finally:
        drv.quit()


def test_wasm_step_equals_native_step_in_chromium(static_url):
    """The equality test of tests/test_play_wasm.py once in the browser's own WebAssembly engine:
    kernel.js from the page, every activation × {SGD, Adam} × {mse, bce}, 200 epochs."""
    lib = _kernel.load()
    if lib is None:
        pytest.skip(f"no native kernel here: {_kernel.why_not()}")
    sizes, seeds, N, epochs, batch = [(4, 2), (3, 4), (1, 3)], 6, 40, 200, 10
    rng = np.random.default_rng(7)
    pts = rng.uniform(-3, 3, (N, 2)).astype(np.float32)
    y = np.where(np.hypot(pts[:, 0], pts[:, 1]) < 2, 1.0, -1.0).astype(np.float32)
    order = np.concatenate([rng.permutation(N) for _ in range(epochs)])
    flat = init_weights(sizes, torch.arange(seeds))
    cases, want = [], []
    for act in _kernel.ACTIVATIONS:
        for opt in ("sgd", "adam"):
            for loss in ("mse", "bce"):
                t = ((y + 1) / 2 if loss == "bce" else y)[order].astype(np.float32)
                s = Settings(activation=act, optimizer=opt, loss=loss, learningRate=0.01 if opt == "adam" else 0.1, batchSize=batch)
                fused = _kernel.FusedStep(lib, flat.clone(), sizes, act, s, batch)
                fused.run(pts[order], t, N, 0, epochs * N // batch)
                want.append(fused.read().numpy())
                cases.append({"opts": {"activation": act, "loss": loss, "optimizer": opt, "regularization": "none",
                                       "regularizationRate": 0, "learningRate": s.learningRate, "batchSize": batch}, "t": t.tolist()})
    script = """
    const [sizes, flat, X, cases, N, steps, done] = arguments;
    (async () => {
      const A = window.actlabStatic, url = URL.createObjectURL(new Blob([A.modules["kernel.js"]], {type: "text/javascript"}));
      const { Kernel, Nets } = await import(url);
      const gz = new Blob([Uint8Array.from(atob(A.wasm), (c) => c.charCodeAt(0))]);
      const k = await Kernel.load(await new Response(gz.stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
      const out = cases.map((c) => { const n = new Nets(k, sizes, Float32Array.from(flat), c.opts);
        n.train(Float32Array.from(X), Float32Array.from(c.t), N, 0, steps); const p = Array.from(n.read()); n.dispose(); return p; });
      done(out);
    })().catch((e) => done(String(e)));
    """
    drv = chrome()
    try:
        drv.set_script_timeout(120)
        drv.get(static_url)
        wait_state(drv, lambda s: s["frames_drawn"] > 0, what="the page")
        got = drv.execute_async_script(script, sizes, flat.numpy().ravel().tolist(), pts[order].ravel().tolist(), cases, N,
                                       epochs * N // batch)
    finally:
        drv.quit()
    assert isinstance(got, list), got
    for c, w, g in zip(cases, want, got):
        rel = np.abs(np.array(g, np.float32).reshape(w.shape) - w).max() / np.abs(w).max()
        assert rel <= 1e-5, f"{c['opts']}: {rel:.2e}"


def test_a_browser_without_webassembly_simd_gets_a_notice(static_url):
    """No 128-bit SIMD (Safari before 16.4): the page loads, says why it cannot train and what to
    use instead, and throws nothing."""
    drv = chrome()
    try:
        drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "WebAssembly.validate = () => false;"})
        drv.get(static_url)
        st = wait_state(drv, lambda s: s["errors"], what="the notice")
        assert "WebAssembly with 128-bit SIMD" in st["errors"][0] and "actlab play" in st["errors"][0]
        assert "128-bit SIMD" in drv.find_element("id", "notices").text
        assert _severe(drv) == []
    finally:
        drv.quit()
