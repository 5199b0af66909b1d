"""The playground's web server: Starlette + uvicorn, one WebSocket per page.

    GET  /                       the page (static HTML + plain JavaScript, nothing from the internet)
    WS   /ws                     messages in (JSON), state / analysis (JSON) and frames (binary) out
    GET  /export/{token}/{seed}.json   the selected seed's parameters and set-up
    GET  /export/{token}/{seed}.pt2    the same network (with its input features) as torch.export

Per page: a trainer task advances the run in a worker thread in chunks that end when the next frame is due and
sends a frame when the page has acknowledged all but IN_FLIGHT − 1 of those before it: at most
30 frames a second, a slow page gets fewer, stale frames are never queued. Any control change rebuilds the run with a new
version number; the old run stops at its chunk's end. Closing the tab ends its training.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import secrets
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ._guard import LOOPBACK_HOSTS, Guard, hosts_for
from .data import MAX_CSV_BYTES
from .session import FPS, Budget, MessageError, Session

__all__ = ["make_app", "make_server", "serve", "STATIC"]

STATIC = Path(__file__).with_name("static")
MAX_MESSAGE = 2 * MAX_CSV_BYTES  # the largest WebSocket message accepted (a CSV upload)
ANALYSIS_EVERY_S = 2.0  # the collapse / audit panel, refreshed while playing at most this often
ANALYSIS_SHARE = 0.01  # and within this share of the time (an 8 × 64 net's panel costs ~50 ms: then every ~5 s)
FRAME_SHARE = 0.25  # the most of the time frames may take (statistics, redone inside some frames, have their own STATS_SHARE)
CHUNK_STEPS = 100  # minibatch steps between two frames, at least (four epochs of TensorFlow Playground's 250 points in batches of 10)
MAX_FRAME_PERIOD = 0.15  # but a frame every 0.15 s, at least
CALL_STEPS = 10  # minibatch steps a chunk of training holds at the least (a frame may then be a few ms late)
IN_FLIGHT = 2  # frames sent before the page's acknowledgement: one late acknowledgement then costs no frame


# All torch work runs on this one thread: torch's OpenMP pool is per calling thread, and work
# spread over asyncio.to_thread's many threads leaves several pools spinning on the same cores.
_TORCH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actlab-play-torch")


def _torch(fn, *args):
    return asyncio.get_running_loop().run_in_executor(_TORCH_THREAD, fn, *args)


def make_app(device: str = "cpu", *, hosts: frozenset[str] = LOOPBACK_HOSTS, token: str | None = None,
             budget: Budget | None = None):
    """The playground as an ASGI app: only requests to ``hosts`` (and a browser's WebSocket from
    the page's own origin) are answered; with ``token``, only requests that carry it. One
    ``budget`` of work is shared by every page."""
    sessions: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()
    budget = budget or Budget()

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def export(request):
        token, seed, fmt = request.path_params["token"], request.path_params["seed"], request.path_params["fmt"]
        session = sessions.get(token)
        if session is None:
            return JSONResponse({"error": "no such page session (it was closed, or the server restarted)"}, status_code=404)
        if not 0 <= seed < session.settings.seeds:
            return JSONResponse({"error": f"seed must be in 0..{session.settings.seeds - 1}, got {seed}"}, status_code=400)
        engine = session.engines[0]
        name = f"actlab-play-seed{seed}-{engine.activation}-epoch{engine.epoch}"
        if fmt == "json":
            body = json.dumps(await _torch(engine.to_json, seed), indent=1).encode()
            return Response(body, media_type="application/json",
                            headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
        if fmt == "pt2":
            body = await _torch(_export_pt2, engine, seed)
            return Response(body, media_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{name}.pt2"'})
        return JSONResponse({"error": f"format must be json or pt2, got {fmt!r}"}, status_code=400)

    async def ws_endpoint(ws: WebSocket):
        await ws.accept()
        session = await _torch(lambda: Session(device, budget=budget))
        token = secrets.token_urlsafe(12)
        sessions[token] = session
        await _PageLink(ws, session, token).run()

    routes = [
        Route("/", index),
        Route("/export/{token}/{seed:int}.{fmt}", export),
        WebSocketRoute("/ws", ws_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.sessions, app.state.budget = sessions, budget
    guarded = Guard(app, frozenset(hosts), token)
    guarded.state = app.state  # the pages' sessions and the budget, for tests and tools
    return guarded


def _export_pt2(engine, seed: int) -> bytes:
    import torch

    model = engine.module(seed, with_features=True).eval()
    ep = torch.export.export(model, (torch.zeros(4, 2),), dynamic_shapes=({0: torch.export.Dim.AUTO},))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


class _PageLink:
    """One WebSocket: a receiver (messages in) and a trainer (chunks, frames, analyses)."""

    def __init__(self, ws: WebSocket, session: Session, token: str):
        self.ws, self.session, self.token = ws, session, token
        self.lock = asyncio.Lock()  # the session is touched by one worker thread at a time
        self.wake = asyncio.Event()
        self.unacked = 0  # frames sent that the page has not acknowledged yet
        self.sent_at = 0.0
        self.next_at = 0.0  # when the next frame is due
        self.dirty = True  # something changed: send a frame even when paused
        self.analysis_key = None
        self.analysis_at = 0.0

    async def send(self, msg: dict) -> None:
        await self.ws.send_text(json.dumps(msg, allow_nan=False))

    async def _try_send(self, msg: dict) -> bool:
        """Send, or say False when the page has gone."""
        try:
            await self.send(msg)
            return True
        except (WebSocketDisconnect, RuntimeError):
            return False

    async def run(self) -> None:
        await self.send({"type": "hello", "token": self.token, "fps_cap": FPS, "max_message": MAX_MESSAGE})
        await self.send(self.session.state_message())
        trainer = asyncio.create_task(self.trainer())
        try:
            await self.receiver()
        finally:
            trainer.cancel()  # the tab closed: its training stops
            self.session.playing = False

    async def receiver(self) -> None:
        while True:
            try:
                event = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if event["type"] == "websocket.disconnect":
                return
            text = event.get("text")
            try:
                if text is None:
                    raise MessageError("expected a JSON text message, got binary data")
                if len(text) > MAX_MESSAGE:
                    raise MessageError(f"message too large: {len(text):,} characters (at most {MAX_MESSAGE:,})")
                try:
                    msg = json.loads(text)
                except json.JSONDecodeError as e:
                    raise MessageError(f"expected JSON, got {text[:40]!r}… ({e.msg})") from None
                if isinstance(msg, dict) and msg.get("type") == "ack":
                    self.unacked = max(0, self.unacked - 1)
                    self.wake.set()
                    continue
                async with self.lock:
                    replies = await _torch(self.session.handle, msg)
                for r in replies:
                    await self.send(r)
            except WebSocketDisconnect:
                return
            except MessageError as e:
                if not await self._try_send({"type": "error", "message": str(e)}):
                    return
            except Exception as e:  # never take the server down for one page's message
                if not await self._try_send({"type": "error", "message": f"internal error: {type(e).__name__}: {e}"}):
                    return
            self.dirty = True
            self.wake.set()

    async def trainer(self) -> None:
        s = self.session
        period = 1.0 / FPS
        frame_cost = 0.005  # running estimate of one frame's computation
        analysis_cost = 0.0  # the analysis panel's, the last time
        try:
            while True:
                train = s.playing or s.pending_steps
                if train:
                    async with self.lock:
                        if s.pending_steps:
                            s.pending_steps -= 1
                            await _torch(s.advance, None)  # one epoch
                        elif s.playing:  # train until the next frame must be started to be sent on time
                            # (a call of fewer than CALL_STEPS steps costs more than it trains: a wide
                            # net's blocks are fetched into the caches once a call)
                            budget = self.next_at - frame_cost - time.perf_counter()
                            await _torch(s.advance, min(period, max(0.002, CALL_STEPS * s.step_s(), budget)))
                    self.dirty = True
                now = time.perf_counter()
                if self.unacked and now - self.sent_at > 2.0:
                    self.unacked = 0  # frames never acknowledged: go on rather than stall
                sent = False
                if self.dirty and self.unacked < IN_FLIGHT and now >= self.next_at - frame_cost - 0.002:
                    async with self.lock:
                        t0 = time.perf_counter()
                        buf = await _torch(s.frame)
                        frame_cost = 0.8 * frame_cost + 0.2 * (time.perf_counter() - t0)
                    # frames take at most FRAME_SHARE of the time: a large network's frames (every
                    # neuron's heatmap, every seed's statistics) lower the frame rate, not the training
                    # and each chunk of training holds CHUNK_STEPS minibatch steps, up to MAX_FRAME_PERIOD:
                    # a wide net's parameters and moments (tens of MB) are then fetched into the
                    # caches once a chunk, not once a step
                    period = max(1.0 / FPS, frame_cost / FRAME_SHARE, min(MAX_FRAME_PERIOD, CHUNK_STEPS * s.step_s()))
                    self.unacked, self.dirty, self.sent_at = self.unacked + 1, False, time.perf_counter()
                    # frames on a fixed schedule (30 a second on average); a late one is not made up twice
                    self.next_at = max(self.next_at + period, self.sent_at - period)
                    await self.ws.send_bytes(buf)
                    sent = True
                key = (s.version, s.selected, s.view["regions"], s.view["hidden"], s.view["signal"], s.engines[0].epoch)
                stale = key[:5] != (self.analysis_key or (None,) * 5)[:5]  # a new run, seed or view: at once
                # while playing, the panel is refreshed right after a frame: it then takes training
                # time (the next chunk is shorter), never a frame's slot
                every = max(ANALYSIS_EVERY_S, analysis_cost / ANALYSIS_SHARE)
                due = key != self.analysis_key and (not s.playing or sent and now - self.analysis_at > every)
                if stale or due:
                    async with self.lock:
                        t0 = time.perf_counter()
                        msg = await _torch(s.analysis)
                    self.analysis_key, self.analysis_at = key, time.perf_counter()
                    analysis_cost = self.analysis_at - t0
                    await self.send(msg)
                if not (s.playing or s.pending_steps or self.dirty):
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=0.25)
                    except asyncio.TimeoutError:
                        pass
                elif not train:
                    await asyncio.sleep(0.003)  # waiting for the page's acknowledgement
        except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
            return
        except Exception as e:  # a failure of the run itself: say so on the page, stop training, keep serving
            s.playing = False
            await self._try_send({"type": "error", "message": f"training stopped: {type(e).__name__}: {e}"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(host: str = "127.0.0.1", port: int = 8000, device: str = "cpu", *, token: str | None = None):
    """(uvicorn.Server, bound socket, URL): the playground ready to ``run(sockets=[sock])``
    (port 0: any free port). Binding here makes a busy port an OSError naming the address.
    ``token``: required on every request (the URL carries it)."""
    import uvicorn

    sock = _bind(host, port)
    port = sock.getsockname()[1]
    app = make_app(device, hosts=hosts_for(host), token=token)
    # frames are compressed (permessage-deflate) only off loopback: on this machine, compressing a
    # wide net's 0.4 MB frame costs milliseconds of the server's time that the network does not need
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws_max_size=MAX_MESSAGE + 1024, lifespan="off",
                            ws_per_message_deflate=not _is_loopback(host))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/" + (f"?token={token}" if token else "")
    return uvicorn.Server(config), sock, url


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True, device: str = "cpu",
          no_token: bool = False) -> None:
    """Start the playground and block until Ctrl-C. Binds 127.0.0.1 unless told otherwise; off
    loopback it requires the token in the URL it prints, unless ``no_token``."""
    token = None
    if not _is_loopback(host):
        if no_token:
            print(f"warning: binding {host} without a token: anyone who can reach this machine on port {port} can use "
                  "the playground (and its CPU)", file=sys.stderr)
        else:
            token = secrets.token_urlsafe(16)
            print(f"binding {host}: the playground answers only requests with the token in the URL below", file=sys.stderr)
    server, sock, url = make_server(host, port, device, token=token)

    def announce():
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        print(f"actlab play: {url}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _bind(host: str, port: int):
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port} ({e.strerror}); try another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
