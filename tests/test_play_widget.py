"""actlab.play.widget: the playground as an anywidget. The kernel side is driven directly
(state(), set(), step(), export(), bad keys); the bundled page is rendered in headless Chromium
by anywidget's ``render({model, el})`` with a ``model`` whose comm is a WebSocket to this test's
server, which hands each message to the widget as the kernel's comm would — so the page, the
bundle, the comm adapter and the engine all run as in a notebook."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

pytest.importorskip("anywidget")

from actlab.play import _widget as W  # noqa: E402


def test_kernel_side_state_set_step_export_and_bad_keys():
    w = W.widget(activation="linear", dataset="xor", seeds=16)
    st = w.state()
    assert st["settings"]["activation"] == "linear" and st["n_seeds"] == 16 and st["epoch"] == 0
    w.step(30)
    st = w.state()
    assert st["epoch"] == 30 and st["success_rate"] == 0.0  # a linear net never solves XOR
    w.set(activation="tanh", compare="relu")
    st = w.state()
    assert st["settings"]["activation"] == "tanh" and st["epoch"] == 0 and st["compare"]["activation"] == "relu"
    exported = w.export(3)
    assert exported["seed"] == 3 and exported["activation"] == "tanh"
    with pytest.raises(ValueError, match="activation='nope'"):
        W.widget(activation="nope")
    with pytest.raises(ValueError, match="unknown playground keys"):
        W.widget(networkshape="4,4")
    with pytest.raises(ValueError, match="seed must be in"):
        w.export(99)


def test_the_bundle_is_one_module_with_no_relative_imports_and_unique_names():
    src = W.bundle()
    assert 'from "./' not in src and "export default { render }" in src
    import re

    names = re.findall(r"^(?:function|const|let|class) (\w+)", W._page_module(), re.M)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert ".actlab-play header" in src and "\nbody" not in W._scoped_css()


PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><div id="cell"></div>
<script type="module">
import widget from "/bundle.mjs";
const ws = new WebSocket("ws://" + location.host + "/comm");
ws.binaryType = "arraybuffer";
const handlers = [];
const model = {
  send(content) { ws.send(JSON.stringify(content)); },
  on(name, cb) { if (name === "msg:custom") handlers.push(cb); },
  off(name, cb) { const i = handlers.indexOf(cb); if (i >= 0) handlers.splice(i, 1); },
};
ws.onmessage = (ev) => {
  if (typeof ev.data === "string") { for (const h of handlers) h(JSON.parse(ev.data), []); }
  else { for (const h of handlers) h({ frame: 1 }, [new DataView(ev.data)]); }
};
ws.onopen = () => widget.render({ model, el: document.getElementById("cell") });
</script></body></html>"""


@pytest.fixture()
def bridge():
    """A server: / the test page, /bundle.mjs the widget's module, /comm the widget's comm."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route, WebSocketRoute

    w = W.widget(activation="linear", dataset="xor", seeds=50)

    async def page(request):
        return HTMLResponse(PAGE)

    async def bundle(request):
        return Response(w._esm, media_type="text/javascript")

    async def comm(ws):
        await ws.accept()
        loop = asyncio.get_running_loop()

        def send(content, buffers=None):  # the kernel's comm: the widget's messages to the page
            data = bytes(buffers[0]) if buffers else None
            loop.create_task(ws.send_bytes(data) if data is not None else ws.send_text(json.dumps(content)))

        w.send = send
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            w._on_msg(w, json.loads(msg["text"]), [])

    app = Starlette(routes=[Route("/", page), Route("/bundle.mjs", bundle), WebSocketRoute("/comm", comm)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", w
    w.send = lambda content, buffers=None: None  # the page has gone
    w._stop()
    server.should_exit = True
    t.join(10)
    sock.close()



def test_the_widget_renders_plays_and_answers_python_in_chromium(bridge, tmp_path):
    from _browser import chrome, wait_state

    url, w = bridge
    drv = chrome()
    try:
        drv.get(url)
        wait_state(drv, lambda s: s["version"] >= 1 and s["settings"].get("activation") == "linear", what="the first state")
        assert drv.execute_script("return location.hash") == ""  # the notebook's URL is left alone
        assert drv.execute_script("return document.getElementById('exportLinks').hidden") is True
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 50 and s["frames_drawn"] >= 5, what="training and frames")
        assert st["success_rate"] == 0.0
        wait_state(drv, lambda s: s["collapse"] is not None, what="the collapsed map panel")
        kernel = w.state()  # Python sees the run the page shows
        assert kernel["settings"]["activation"] == "linear" and kernel["epoch"] >= 50 and kernel["playing"]
        w.set(activation="tanh")  # from Python: the page follows
        wait_state(drv, lambda s: s["activation"] == "tanh", what="the page to follow set() from Python")
        drv.execute_script("window.playground.play()")
        wait_state(drv, lambda s: s["epoch"] >= 300 and (s["success_rate"] or 0) > 0.5, timeout=60, what="tanh solving XOR")
        drv.save_screenshot(str(tmp_path / "widget-screenshot.png"))
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        drv.quit()
