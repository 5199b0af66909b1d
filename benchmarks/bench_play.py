"""The playground's speed on the settings people explore, and where the time goes.

Three set-ups, 100 seeds asked for, on this machine's CPU:
  default   TensorFlow Playground's default: 2-4-2-1 tanh on circle, 250 training points, batch 10, SGD
  spiral    3 × 8 ReLU on spiral, Adam, compared with tanh (two runs in lockstep)
  wide      8 × 64 ReLU on spiral, Adam (64 seeds: the cap of seeds × parameters, 2·10⁶, in whole blocks of 16)

    python benchmarks/bench_play.py                 # prints the tables (about four minutes)
    python benchmarks/bench_play.py --repeats 1 --only default spiral
    python benchmarks/bench_play.py --screenshot docs/img/playground.png --json

Per set-up, medians of --repeats runs:
1. The engine alone, no frames: the fused C step (play/kernel.c) and torch's step of the same
   engine, epochs/s of all seeds together. Baselines measured in the same run: the 100
   networks trained one after another the plain way (nn.Sequential + torch.optim, default
   set-up only) and, for the wide nets, the batched-matmul bound — the same step's
   ``torch.bmm`` calls alone (3 per layer) at these shapes — and the fused step with SGD
   instead of Adam (what Adam's update costs).
2. Where the time goes, from the session itself: one epoch's training, one frame, the
   statistics over all seeds (with and without the strip's grid), the analysis panel.
3. The server with a client that draws nothing (a WebSocket that acknowledges each frame): the
   server's own cost of frames, statistics and messages, without a browser's.
4. The page in headless Chromium (sharing the cores with the server): epochs/s of each run while
   it draws, frames/s drawn, JavaScript per frame.
Targets (issue #20): default ≥ 150 epochs/s at 30 frames/s; spiral ≥ 60 epochs/s for each run at
≥ 25 frames/s; wide nets at least the batched-matmul bound.

    python benchmarks/bench_play.py --static        # the static page beside the served one (about three minutes)

--static: the static page (``actlab play --static``, kernel.c in WebAssembly in a Web Worker,
from a static server on loopback) and the served page, each in headless Chromium on the same
cores, alternately in the same run, with the wide set-up at its cap of 64 seeds; then the static
page's size and its first frame after loading; for the wide set-up also the engines alone, no page:
the native step on 1 and on all threads, and the WebAssembly step on one thread of Chromium (a
page of kernel.js and the module alone) — the ceiling of the static page's two Workers. Targets
(issue #38): default ≥ 1,000 epochs/s at ≥ 29 frames/s; spiral ≥ 200 epochs/s (each run) at ≥ 25
frames/s; wide ≥ half the served page's epochs/s; the page ≤ 250 KB, WebAssembly included; the
first frame ≤ 1 s after the page loads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SETUPS = {
    "default": {"dataset": "circle", "activation": "tanh", "networkShape": "4,2", "seeds": 100, "batchSize": 10,
                "learningRate": 0.03, "percTrainData": 50, "optimizer": "sgd"},
    "spiral": {"dataset": "spiral", "activation": "relu", "networkShape": "8,8,8", "seeds": 100, "optimizer": "adam",
               "compare": "tanh"},
    "wide": {"dataset": "spiral", "activation": "relu", "networkShape": ",".join(["64"] * 8), "seeds": 100,
             "optimizer": "adam"},
}
TARGETS = {"default": (150, 29.5), "spiral": (60, 25)}  # epochs/s of each run, frames/s drawn


def start_server():
    from actlab.play.server import make_server

    server, sock, url = make_server("127.0.0.1", 0)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    return server, t, url


def _engine(values: dict, fused: bool, activation: str | None = None):
    from actlab.play import engine as engine_mod
    from actlab.play.data import make_data
    from actlab.play.settings import parse

    s, _ = parse(values)
    load = engine_mod._kernel.load
    if not fused:
        engine_mod._kernel.load = lambda: None
    try:
        return engine_mod.Engine(s, make_data(s), activation=activation)
    finally:
        engine_mod._kernel.load = load


def engine_alone(values: dict, fused: bool, seconds: float) -> float | None:
    """Epochs/s of the engine alone (a comparison: both runs, in lockstep)."""
    engines = [_engine(values, fused)]
    if values.get("compare", "none") != "none":
        engines.append(_engine(values, fused, activation=values["compare"]))
    if fused and any(e.fused is None for e in engines):
        return None  # the kernel does not cover these settings
    for e in engines:
        e.train_epochs(1)
    t0, ep0 = time.perf_counter(), engines[0].epoch
    while time.perf_counter() - t0 < seconds:
        for e in engines:
            e.train_epochs(1)
    return (engines[0].epoch - ep0) / (time.perf_counter() - t0)


def bmm_bound(values: dict, seconds: float) -> float:
    """Epochs/s if a step cost only its batched matmuls: per layer one forward, two backward
    ``torch.bmm`` of the engine's shapes (S, B, ·), 25 steps an epoch."""
    e = _engine(values, fused=False)
    S, B = e.settings.seeds, e.settings.batchSize
    steps = -(-e.X_train.shape[0] // B)
    mats = []
    for rows, cols in e.sizes:
        h, w, g = torch.randn(S, B, cols), torch.randn(S, rows, cols), torch.randn(S, B, rows)
        mats.append((h, w, g))

    def step():
        for h, w, g in mats:
            torch.bmm(h, w.transpose(1, 2))  # forward
            torch.bmm(g.transpose(1, 2), h)  # weight gradient
            torch.bmm(g, w)  # input gradient

    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0) / steps


def plain_loop(values: dict, n_seeds: int = 5, epochs: int = 3) -> float:
    """Epochs/s of all 100 seeds trained one after another the plain way (measured on n_seeds)."""
    e = _engine({**values, "seeds": n_seeds}, fused=False)
    s, X, y = e.settings, e.X_train, e.t_train
    torch.optim.SGD(e.module(0).parameters(), lr=0.1)  # warm: the first torch.optim import costs seconds, not counted
    t0 = time.perf_counter()
    for seed in range(n_seeds):
        model = e.module(seed)
        opt = torch.optim.SGD(model.parameters(), lr=s.learningRate)
        gen = torch.Generator().manual_seed(s.data_seed)
        for _ in range(epochs):
            perm = torch.randperm(len(X), generator=gen)
            for j in range(0, len(X), s.batchSize):
                idx = perm[j : j + s.batchSize]
                loss = 0.5 * (model(X[idx])[:, 0] - y[idx]).square().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
    per_seed_epoch = (time.perf_counter() - t0) / (n_seeds * epochs)
    return 1.0 / (values["seeds"] * per_seed_epoch)


def where_time_goes(values: dict) -> dict:
    """Milliseconds of each part of the server's loop, from a session of these settings."""
    from actlab.play.session import Session

    sess = Session("cpu", values={k: str(v) for k, v in values.items()})
    sess.playing = True
    sess.advance(None)

    def ms(fn, at_least: float = 0.5) -> float:
        fn()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < at_least or n < 3:
            fn()
            n += 1
        return 1e3 * (time.perf_counter() - t0) / n

    main = sess.engines[0]
    return {"epoch_ms": ms(lambda: sess.advance(None)), "frame_ms": ms(sess.frame),
            "stats_ms": ms(lambda: [e.stats() for e in sess.engines]), "strip_ms": ms(lambda: main.stats(strip=sess.strip_grid())), "strip_grid": sess.strip_grid(),
            "analysis_ms": ms(sess.analysis), "grid": main.grid, "fused": [e.fused is not None for e in sess.engines],
            "seeds": sess.settings.seeds}


def server_only(url: str, values: dict, seconds: float) -> dict:
    """Epochs/s and frames/s the server keeps up for a client that draws nothing: it sends the
    page's messages (the settings, play) and acknowledges each frame at once."""
    from websockets.sync.client import connect

    def header(buf: bytes) -> dict:
        n = struct.unpack("<I", buf[:4])[0]
        return json.loads(buf[4 : 4 + n])

    with connect(url.replace("http://", "ws://") + "ws", origin=url.rstrip("/"), max_size=None) as ws:
        ws.send(json.dumps({"type": "set", "values": {k: str(v) for k, v in values.items()}, "base": "defaults"}))
        ws.send(json.dumps({"type": "play"}))
        start, first, frames = time.perf_counter(), None, 0
        while True:
            msg = ws.recv(timeout=30)
            if isinstance(msg, str):
                continue
            ws.send(json.dumps({"type": "ack"}))
            now, h = time.perf_counter(), header(msg)
            if first is None and now - start > 2.0:  # warmed up: the kernel compiled, the run started
                first = (now, h["epoch"], frames)
            frames += 1
            if first and now - first[0] >= seconds:
                dt = now - first[0]
                ws.send(json.dumps({"type": "pause"}))
                # the main run's epochs (a compared run trains in lockstep with it)
                return {"epochs_per_s": (h["epoch"] - first[1]) / dt, "fps": (frames - first[2]) / dt}


def page(url: str, values: dict, seconds: float, screenshot: str | None) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest  # noqa: F401  (the helper skips through pytest when Chromium is missing)
    from _browser import chrome

    drv = chrome()
    try:
        drv.set_window_size(1400, 1150)
        drv.get(url + "#" + "&".join(f"{k}={v}" for k, v in values.items()))
        end = time.time() + 30
        while time.time() < end and not drv.execute_script(
                f"const s = window.playground && window.playground.state(); return s && s.seeds === {values['seeds']} && s.frames_drawn > 0"):
            time.sleep(0.1)
        drv.execute_script("window.playground.play()")
        time.sleep(2.0)  # warm up
        a = drv.execute_script("return [performance.now(), window.playground.state()]")
        time.sleep(seconds)
        b = drv.execute_script("return [performance.now(), window.playground.state()]")
        dt = (b[0] - a[0]) / 1000
        other = lambda st: (st["compare_stats"] or {}).get("epoch")  # noqa: E731
        out = {"fps": (b[1]["frames_drawn"] - a[1]["frames_drawn"]) / dt, "draw_ms": b[1]["draw_ms"],
               "received_fps": (b[1]["frames_received"] - a[1]["frames_received"]) / dt,
               "epochs_per_s": (b[1]["epoch"] - a[1]["epoch"]) / dt,
               "compare_epochs_per_s": None if other(b[1]) is None else (other(b[1]) - (other(a[1]) or 0)) / dt}
        if screenshot:
            drv.execute_script("window.playground.set({dataset: 'xor', compare: 'none'})")
            time.sleep(6)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            drv.save_screenshot(screenshot)
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            raise SystemExit(f"console errors on the page: {errors}")
        return out
    finally:
        drv.quit()


def measure(name: str, url: str, args) -> dict:
    from actlab.play.server import _TORCH_THREAD

    values = SETUPS[name]
    runs = []
    for r in range(args.repeats):
        print(f"{name}: run {r + 1}/{args.repeats} …", file=sys.stderr, flush=True)
        # on the server's torch thread: torch's OpenMP pool is per calling thread, and two pools
        # on 2 cores would slow each other
        on_torch = lambda fn, *a: _TORCH_THREAD.submit(fn, *a).result()  # noqa: E731
        row = {"fused": on_torch(engine_alone, values, True, args.seconds),
               "torch": on_torch(engine_alone, values, False, args.seconds)}
        if name == "wide":
            row["bmm_bound"] = on_torch(bmm_bound, values, args.seconds)
            # the same net with SGD: what Adam's update (its moments streamed through the caches) costs
            row["fused_sgd"] = on_torch(engine_alone, {**values, "optimizer": "sgd"}, True, args.seconds)
        if name == "default":
            row["plain"] = on_torch(plain_loop, values)
        row["server"] = server_only(url, values, args.seconds)
        if not args.no_browser:
            shot = args.screenshot if name == "default" and r == args.repeats - 1 else None
            row["page"] = page(url, values, args.seconds, shot)
        runs.append(row)
    med = statistics.median
    out = {k: med(r[k] for r in runs) if runs[0][k] is not None else None for k in runs[0] if k not in ("page", "server")}
    out["server"] = {k: med(r["server"][k] for r in runs) for k in ("epochs_per_s", "fps")}
    if not args.no_browser:
        out["page"] = {k: (med(r["page"][k] for r in runs) if runs[0]["page"][k] is not None else None) for k in runs[0]["page"]}
    out["parts"] = _TORCH_THREAD.submit(where_time_goes, values).result()
    return out


def machine() -> str:
    """The CPU and the fused kernel's vector width here (the wide net's ratio to torch's bmm depends on both)."""
    from actlab.play import _kernel

    return f"{_kernel.cpu_name()}; the fused kernel's vectors hold {_kernel.block_width()} seeds"


def verdict(name: str, d: dict) -> str:
    p = d.get("page")
    if p is None:
        return "page not measured"
    runs = [p["epochs_per_s"]] + ([p["compare_epochs_per_s"]] if p["compare_epochs_per_s"] is not None else [])
    if name == "wide":
        ok = min(runs) >= d["bmm_bound"]
        return (f"{'met' if ok else 'NOT met'}: {min(runs):.1f} epochs/s in the page vs the bmm bound {d['bmm_bound']:.1f} "
                f"({min(runs) / d['bmm_bound']:.2f}×; the engine alone {d['fused']:.1f}, {d['fused'] / d['bmm_bound']:.2f}×)")
    eps, fps = TARGETS[name]
    ok = min(runs) >= eps and p["fps"] >= fps
    return f"{'met' if ok else 'NOT met'}: {min(runs):.0f} epochs/s (each run) at {p['fps']:.1f} frames/s (target ≥ {eps} at ≥ {fps:g})"


def report(results: dict, args) -> None:
    from actlab.play.server import ANALYSIS_EVERY_S, ANALYSIS_SHARE
    from actlab.play.session import STATS_EVERY_S, STATS_SHARE, STRIP_EVERY_S

    print(f"\nplayground; {torch.get_num_threads()} CPU threads ({machine()}); medians of {args.repeats} runs of {args.seconds:g} s")
    for name, d in results.items():
        v, p, parts = SETUPS[name], d.get("page"), d["parts"]
        print(f"\n{name}: {v['networkShape'] or 'no hidden layer'} {v['activation']}"
              f"{' vs ' + v['compare'] if 'compare' in v else ''}, {v['dataset']}, {v['optimizer']}, {parts['seeds']} seeds")
        fused = f"{d['fused']:.0f}" if d["fused"] is not None else "not covered"
        print(f"  engine alone (epochs/s of all seeds): fused C step {fused}, torch step {d['torch']:.1f}"
              + (f"; plain per-seed loop {d['plain']:.2f} (fused {d['fused'] / d['plain']:.0f}×)" if d.get("plain") else "")
              + (f"; batched-matmul bound {d['bmm_bound']:.1f}; the fused step with SGD instead of Adam {d['fused_sgd']:.1f}"
                 if d.get("bmm_bound") else ""))
        print(f"  where the time goes: an epoch {parts['epoch_ms']:.1f} ms ({'fused' if all(parts['fused']) else 'torch'}), "
              f"a frame {parts['frame_ms']:.1f} ms (output grid {parts['grid']}², statistics amortised), statistics {parts['stats_ms']:.1f} ms "
              f"(every {STATS_EVERY_S:g} s at most, ≤ {STATS_SHARE:.0%} of the time), with the strip ({parts['strip_grid']}² a seed) "
              f"{parts['strip_ms']:.1f} ms (every {STRIP_EVERY_S:g} s), the analysis panel {parts['analysis_ms']:.1f} ms "
              f"(every {ANALYSIS_EVERY_S:g} s at most, ≤ {ANALYSIS_SHARE:.0%} of the time)")
        sv = d["server"]
        print(f"  the server for a client that draws nothing: {sv['epochs_per_s']:.1f} epochs/s at {sv['fps']:.1f} frames/s")
        if p:
            cmp_ = f", the compared run {p['compare_epochs_per_s']:.0f}" if p["compare_epochs_per_s"] is not None else ""
            print(f"  page in headless Chromium on the same cores: {p['epochs_per_s']:.1f} epochs/s{cmp_}, "
                  f"{p['fps']:.1f} frames/s drawn ({p['received_fps']:.1f} received), {p['draw_ms']:.1f} ms of JavaScript per frame")
        print(f"  target: {verdict(name, d)}")


STATIC_TARGETS = {"default": (1000, 29), "spiral": (200, 25)}


def start_static_server(tmp: Path):
    """The static page written to tmp and served from loopback, as any static host serves it."""
    import functools
    import http.server

    from actlab.play.static_site import write

    path = write(tmp / "play")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(path.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/", path


def first_frame(url: str, runs: int = 5) -> dict:
    """Milliseconds from the navigation's start to the load event and to the first frame drawn (medians)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _browser import chrome

    loads, firsts = [], []
    for _ in range(runs):
        drv = chrome()
        try:
            drv.get(url)
            end = time.time() + 30
            st = None
            while time.time() < end:
                st = drv.execute_script("return window.playground && window.playground.state()")
                if st and st["first_frame_ms"] is not None and st["load_ms"]:
                    break
                time.sleep(0.05)
            loads.append(st["load_ms"])
            firsts.append(st["first_frame_ms"])
        finally:
            drv.quit()
    return {"load_ms": statistics.median(loads), "first_frame_ms": statistics.median(firsts)}


ENGINE_PAGE = """<!doctype html><meta charset="utf-8"><title>engine alone</title><script type="module">
import { Kernel, Nets } from "./kernel.js";
const spec = await (await fetch("engine.json")).json();
const K = await Kernel.load(await (await fetch("play_kernel.wasm")).arrayBuffer());
const nets = new Nets(K, spec.sizes, Float32Array.from(spec.flat), spec.opts);
const X = Float32Array.from(spec.X), t = Float32Array.from(spec.t), N = t.length, per = Math.ceil(N / spec.opts.batchSize);
nets.train(X, t, N, 0, per);
const t0 = performance.now(); let epochs = 0;
while (performance.now() - t0 < 1000 * spec.seconds) { nets.train(X, t, N, 0, per); epochs++; }
window.result = epochs / ((performance.now() - t0) / 1000);
</script>"""


def wasm_engine_alone(base: str, root: Path, values: dict, seconds: float) -> float:
    """Epochs/s of the static page's engine alone: kernel.js and the WebAssembly module on one
    thread of headless Chromium, no page drawing, the set-up's net, data and initial weights."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _browser import chrome

    from actlab.play import static_site

    e = _engine(values, fused=True)  # the served engine's net, data and initial weights
    s = e.settings
    (root / "play_kernel.wasm").write_bytes(static_site.wasm_bytes())
    (root / "kernel.js").write_text((static_site.STATIC / "js" / "kernel.js").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "engine.html").write_text(ENGINE_PAGE, encoding="utf-8")
    opts = {"activation": s.activation, "loss": s.loss, "optimizer": s.optimizer, "regularization": s.regularization,
            "regularizationRate": s.regularizationRate, "learningRate": s.learningRate, "batchSize": s.batchSize}
    (root / "engine.json").write_text(json.dumps({"sizes": e.sizes, "flat": e.fused.read().numpy().ravel().tolist(), "opts": opts,
                                                   "X": e.X_train.numpy().ravel().tolist(), "t": e.t_train.numpy().tolist(),
                                                   "seconds": seconds}))
    drv = chrome()
    try:
        drv.get(base + "engine.html")
        end = time.time() + seconds + 60
        while time.time() < end:
            r = drv.execute_script("return window.result || null")
            if r:
                return r
            time.sleep(0.2)
        raise SystemExit(f"the engine page gave no result: {drv.get_log('browser')}")
    finally:
        drv.quit()


def engines_alone(base: str, root: Path, values: dict, seconds: float) -> dict:
    """The wide set-up's engines with no page: the served page's (native, on 1 thread and on all
    THREADS) and the static page's (WebAssembly, one thread of Chromium) — what bounds the pages."""
    from actlab.play import _kernel
    from actlab.play.server import _TORCH_THREAD

    out = {}
    for n in (1, _kernel.THREADS):
        saved, _kernel.THREADS = _kernel.THREADS, n
        try:
            out[f"native_{n}"] = _TORCH_THREAD.submit(engine_alone, values, True, seconds).result()
        finally:
            _kernel.THREADS = saved
    out["threads"] = _kernel.THREADS
    out["wasm_1"] = wasm_engine_alone(base, root, values, seconds)
    return out


def static_report(args, served_url: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        httpd, url, path = start_static_server(Path(tmp))
        try:
            rows = {}
            for name in args.only:
                values = {**SETUPS[name], **({"seeds": 64} if name == "wide" else {})}
                runs = {"served": [], "static": []}
                for r in range(args.repeats):
                    for mode, base in (("served", served_url), ("static", url)):
                        print(f"{name}: {mode} page, run {r + 1}/{args.repeats} …", file=sys.stderr, flush=True)
                        runs[mode].append(page(base, values, args.seconds, None))
                med = lambda mode, k: statistics.median(x[k] for x in runs[mode]) if runs[mode][0][k] is not None else None  # noqa: E731
                rows[name] = {m: {k: med(m, k) for k in runs[m][0]} for m in runs}
                if name == "wide":  # what bounds the two pages: their engines alone
                    rows[name]["alone"] = engines_alone(url, path.parent, values, args.seconds)
            ff = first_frame(url)
            size = path.stat().st_size
        finally:
            httpd.shutdown()
    if args.json:
        print(json.dumps({"setups": rows, "size": size, "first_frame": ff, "machine": machine(), "threads": torch.get_num_threads(),
                          "repeats": args.repeats, "seconds": args.seconds, "targets": STATIC_TARGETS}))
        return
    print(f"\nthe static page (WebAssembly, in the browser) beside the served page (Python server); headless Chromium, "
          f"{torch.get_num_threads()} cores shared with the server; {machine()}; medians of {args.repeats} runs of {args.seconds:g} s")
    print(f"{'set-up':<34} {'served: epochs/s':>17} {'frames/s':>9} {'static: epochs/s':>17} {'frames/s':>9} {'ratio':>6}  target")
    for name, d in rows.items():
        v, sv, st = SETUPS[name], d["served"], d["static"]
        seeds = 64 if name == "wide" else v["seeds"]
        label = f"{name}: {v['networkShape']} {v['activation']}{' vs ' + v['compare'] if 'compare' in v else ''}, {seeds} seeds"
        each = lambda p: min(x for x in (p["epochs_per_s"], p["compare_epochs_per_s"]) if x is not None)  # noqa: E731
        if name in STATIC_TARGETS:
            eps, fps = STATIC_TARGETS[name]
            ok = each(st) >= eps and st["fps"] >= fps
            target = f"{'met' if ok else 'NOT met'} (≥ {eps} epochs/s each run at ≥ {fps} frames/s)"
        else:
            ok = each(st) >= 0.5 * each(sv)
            target = f"{'met' if ok else 'NOT met'} (≥ half the served page's)"
        print(f"{label:<34} {each(sv):>17.0f} {sv['fps']:>9.1f} {each(st):>17.0f} {st['fps']:>9.1f} {each(st) / each(sv):>6.2f}  {target}")
        if "alone" in d:
            a = d["alone"]
            n, native = a["threads"], a[f"native_{a['threads']}"]
            print(f"  {name}, the engines alone (no page): native (the served page's) {a['native_1']:.1f} epochs/s on 1 thread, "
                  f"{native:.1f} on {n}; WebAssembly (the static page's) {a['wasm_1']:.1f} on one thread of Chromium — "
                  f"its {n} Workers at most {n * a['wasm_1'] / native:.2f}× the served engine, before either page draws")
    ok = size <= 250 * 1024
    print(f"the static page: {size / 1024:.0f} KB in one file, WebAssembly included ({'met' if ok else 'NOT met'}: ≤ 250 KB)")
    ok = ff["first_frame_ms"] - ff["load_ms"] <= 1000
    print(f"first frame: {ff['first_frame_ms']:.0f} ms after the navigation started, the load event at {ff['load_ms']:.0f} ms "
          f"({'met' if ok else 'NOT met'}: ≤ 1 s after the page loads; medians of 5 loads)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measuring time per figure (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure; medians are printed (default 3)")
    ap.add_argument("--only", nargs="+", choices=list(SETUPS), default=list(SETUPS), help="these set-ups only")
    ap.add_argument("--screenshot", default=None, help="also save a screenshot of the page (PNG path)")
    ap.add_argument("--no-browser", action="store_true", help="engine and parts only")
    ap.add_argument("--json", action="store_true", help="print the medians as JSON")
    ap.add_argument("--static", action="store_true", help="the static page beside the served one (issue #38's table)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    server, _, url = start_server()
    if args.static:
        static_report(args, url)
        server.should_exit = True
        return
    results = {name: measure(name, url, args) for name in args.only}
    server.should_exit = True
    if args.json:
        print(json.dumps({"setups": results, "repeats": args.repeats, "seconds": args.seconds, "machine": machine(),
                          "threads": torch.get_num_threads(), "torch": torch.__version__}))
    else:
        report(results, args)


if __name__ == "__main__":
    main()
