"""The playground's speed: server throughput, and the page's frame rate in headless Chromium.

TensorFlow Playground's defaults: a 2-4-2-1 tanh network, 500 points (half for training),
batch size 10, SGD at 0.03 — here for 100 seeds at once, on the CPU.

    python benchmarks/bench_play.py                 # prints the tables
    python benchmarks/bench_play.py --screenshot docs/img/playground.png

1. Server: a real uvicorn server and a WebSocket client that acknowledges every frame (as the
   page does), playing for --seconds; epochs/s of all seeds together and frames/s sent. Beside
   it, in the same run: the engine alone (no frames), and the baseline — the same 100 networks
   trained the plain way, one after another (nn.Sequential + torch.optim.SGD, the same minibatches),
   as epochs/s of all 100. TensorFlow Playground trains one network at ≤ 60 epochs/s.
2. Page: headless Chromium on the same machine (it shares the 2 cores with the server) playing
   the same run: frames drawn per second (the server sends at most 30), the JavaScript drawing
   time per frame, and the server's epochs/s meanwhile.
Medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {"dataset": "circle", "activation": "tanh", "networkShape": "4,2", "seeds": 100, "batchSize": 10,
            "learningRate": 0.03, "percTrainData": 50, "optimizer": "sgd"}


def start_server():
    from actlab.play.server import make_server

    server, sock, url = make_server("127.0.0.1", 0)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    return server, t, url


def server_throughput(url: str, seconds: float) -> dict:
    import websockets

    from actlab.play.session import decode_frame

    async def run():
        async with websockets.connect(url.replace("http", "ws") + "ws", max_size=None) as ws:
            await ws.send(json.dumps({"type": "set", "values": DEFAULTS}))
            states = 0
            while states < 2:  # the connection's state, then the one of DEFAULTS
                m = await ws.recv()
                if isinstance(m, bytes):
                    await ws.send('{"type": "ack"}')
                elif json.loads(m)["type"] == "state":
                    states += 1
            await ws.send(json.dumps({"type": "play"}))
            first = last = None
            frames = 0
            while True:
                m = await ws.recv()
                if isinstance(m, bytes):
                    h, _ = decode_frame(m)
                    await ws.send('{"type": "ack"}')
                    now = time.perf_counter()
                    if first is None and h["epoch"] > 0:
                        first = (now, h["epoch"])
                    elif first is not None:
                        frames += 1
                        last = (now, h["epoch"])
                        if now - first[0] >= seconds:
                            break
            await ws.send(json.dumps({"type": "pause"}))
            dt = last[0] - first[0]
            return {"epochs_per_s": (last[1] - first[1]) / dt, "frames_per_s": frames / dt}

    return asyncio.run(run())


def engine_alone(seconds: float) -> float:
    from actlab.play.data import make_data
    from actlab.play.engine import Engine
    from actlab.play.settings import parse

    s, _ = parse(DEFAULTS)
    e = Engine(s, make_data(s))
    e.train_epochs(2)
    t0, ep0 = time.perf_counter(), e.epoch
    while time.perf_counter() - t0 < seconds:
        e.train_epochs(1)
    return (e.epoch - ep0) / (time.perf_counter() - t0)


def plain_loop(n_seeds: int = 5, epochs: int = 3) -> float:
    """Epochs/s of all 100 seeds trained one after another the plain way (measured on n_seeds)."""
    from actlab.play.data import make_data
    from actlab.play.engine import Engine
    from actlab.play.settings import parse

    s, _ = parse({**DEFAULTS, "seeds": n_seeds})
    e = Engine(s, make_data(s))
    X, y = e.X_train, e.t_train
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
    return 1.0 / (DEFAULTS["seeds"] * per_seed_epoch)


def page(url: str, seconds: float, screenshot: str | None) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest  # noqa: F401  (the helper skips through pytest when Chromium is missing)
    from _browser import chrome

    drv = chrome()
    try:
        drv.set_window_size(1400, 1150)
        hash_ = "&".join(f"{k}={v}" for k, v in DEFAULTS.items())
        drv.get(url + "#" + hash_)
        end = time.time() + 30
        while time.time() < end and not drv.execute_script("return window.playground.state().seeds === 100 && window.playground.state().frames_drawn > 0"):
            time.sleep(0.1)
        drv.execute_script("window.playground.play()")
        time.sleep(2.0)  # warm up
        a = drv.execute_script("return [performance.now(), window.playground.state()]")
        time.sleep(seconds)
        b = drv.execute_script("return [performance.now(), window.playground.state()]")
        dt = (b[0] - a[0]) / 1000
        drawn, received = b[1]["frames_drawn"] - a[1]["frames_drawn"], b[1]["frames_received"] - a[1]["frames_received"]
        out = {"fps": drawn / dt, "received_fps": received / dt, "drawn_of_received": drawn / max(received, 1), "draw_ms": b[1]["draw_ms"],
               "epochs_per_s": (b[1]["epoch"] - a[1]["epoch"]) / dt, "success": b[1]["success_rate"]}
        if screenshot:
            drv.execute_script("window.playground.set({dataset: 'xor'})")
            time.sleep(6)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            drv.save_screenshot(screenshot)
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            raise SystemExit(f"console errors on the page: {errors}")
        return out
    finally:
        drv.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measuring time per run (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure; medians are printed (default 3)")
    ap.add_argument("--screenshot", default=None, help="also save a screenshot of the page (PNG path)")
    ap.add_argument("--no-browser", action="store_true", help="server figures only")
    ap.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    from actlab.play.server import _TORCH_THREAD

    server, thread, url = start_server()
    rows = {"server": [], "alone": [], "plain": [], "page": []}
    for r in range(args.repeats):
        print(f"run {r + 1}/{args.repeats} …", file=sys.stderr, flush=True)
        rows["server"].append(server_throughput(url, args.seconds))
        # on the server's torch thread: torch's OpenMP pool is per calling thread, and two pools
        # on 2 cores would slow each other
        rows["alone"].append(_TORCH_THREAD.submit(engine_alone, args.seconds).result())
        rows["plain"].append(_TORCH_THREAD.submit(plain_loop).result())
        if not args.no_browser:
            rows["page"].append(page(url, args.seconds, args.screenshot if r == args.repeats - 1 else None))
    server.should_exit = True
    med = statistics.median
    srv_eps = med(x["epochs_per_s"] for x in rows["server"])
    srv_fps = med(x["frames_per_s"] for x in rows["server"])
    alone, plain = med(rows["alone"]), med(rows["plain"])
    page_fig = None
    if rows["page"]:
        page_fig = {k: med(x[k] for x in rows["page"]) for k in ("fps", "received_fps", "drawn_of_received", "draw_ms", "epochs_per_s")}
    if args.json:
        print(json.dumps({"server_epochs_per_s": srv_eps, "server_frames_per_s": srv_fps, "engine_epochs_per_s": alone,
                          "plain_loop_epochs_per_s": plain, "page": page_fig, "repeats": args.repeats,
                          "seconds": args.seconds, "threads": torch.get_num_threads(), "torch": torch.__version__}))
        return
    print(f"\nplayground, {DEFAULTS['seeds']} seeds of a 2-4-2-1 tanh network, 250 training points, batch 10, SGD; "
          f"{torch.get_num_threads()} CPU threads; medians of {args.repeats} runs of {args.seconds:g} s")
    print(f"{'what':58s} {'epochs/s':>9s} {'frames/s':>9s} {'vs plain loop':>14s}")
    print(f"{'server (uvicorn + WebSocket client acking each frame)':58s} {srv_eps:9.1f} {srv_fps:9.1f} {srv_eps / plain:13.0f}×")
    print(f"{'engine alone (no frames)':58s} {alone:9.1f} {'–':>9s} {alone / plain:13.0f}×")
    print(f"{'plain loop: the 100 networks one by one (torch.optim.SGD)':58s} {plain:9.2f} {'–':>9s} {1:13.0f}×")
    print(f"{'TensorFlow Playground (one network, its cap)':58s} {'≤ 60':>9s} {'≤ 60':>9s}")
    if page_fig:
        fps, draw, peps = page_fig["fps"], page_fig["draw_ms"], page_fig["epochs_per_s"]
        print(f"\npage in headless Chromium on the same cores: {fps:.1f} frames/s drawn of {page_fig['received_fps']:.1f} "
              f"received ({100 * page_fig['drawn_of_received']:.0f} %; server cap 30), "
              f"{draw:.1f} ms of JavaScript drawing per frame, {peps:.1f} epochs/s meanwhile")
    print(f"\ntargets: ≥ 60 epochs/s for all seeds (server: {'met' if srv_eps >= 60 else 'NOT met'}); "
          f"page ≥ 30 frames/s ({'not measured' if not page_fig else 'met' if page_fig['fps'] >= 29.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
