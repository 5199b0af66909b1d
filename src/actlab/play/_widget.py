"""The playground in a notebook: ``actlab.play.widget(...)``, an anywidget.

    import actlab.play
    w = actlab.play.widget(activation="relu", dataset="spiral", networkShape="8,8", seeds=100)
    w                       # the playground, in the cell's output
    w.state()               # the run from Python: settings, epoch, success rate, losses
    w.set(activation="tanh"); w.play(); w.pause()

The same page as ``actlab play`` (its HTML, CSS and ES modules, bundled into one module for the
notebook) and the same engine, running in the kernel: messages go over the widget's comm
instead of a WebSocket, so it works wherever the notebook's kernel is — Jupyter, JupyterLab,
VS Code, Colab, a remote JupyterHub — with no port to open. Keys are the URL hash's
(TensorFlow Playground's and actlab's, see ``actlab.play.settings``). One playground per
notebook view (the page's element ids are global); the export links of the server are replaced
by ``state()`` and ``export(seed)``.

Needs the optional extra ``pip install 'actlab[notebook]'`` (anywidget).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path
from typing import Any

from .server import _PageLink
from .session import Budget, Session

__all__ = ["widget", "PlaygroundWidget", "bundle", "MISSING_EXTRA"]

MISSING_EXTRA = "the notebook widget needs the optional extra: pip install 'actlab[notebook]' (anywidget)"
STATIC = Path(__file__).with_name("static")
_BUDGET = Budget()  # one budget for every playground of this kernel, as for the server's pages


# ---------------------------------------------------------------------------- the page, bundled

_ENTRY = re.compile(r"^if \(!window\.actlabEmbedded\) start\(\);.*\n?", re.M)


def _page_module() -> str:
    """The page's ES modules as one function body: imports dropped (everything shares one
    scope), ``export`` dropped, the page's own entry point left out."""
    from .static_site import page_modules, unmodule

    return "\n".join(f"// ---- {name}\n{_ENTRY.sub('', unmodule(src))}" for name, src in page_modules().items())


def _scoped_css() -> str:
    """play.css with every rule scoped to the widget's root (``body`` becomes the root itself)."""
    out = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", (STATIC / "play.css").read_text(encoding="utf-8")):
        scoped = []
        for sel in selectors.split(","):
            sel = sel.strip()
            scoped.append(".actlab-play" if sel == "body" else f".actlab-play {sel}")
        out.append(f"{', '.join(scoped)} {{{body}}}")
    return "\n".join(out)


def _page_html() -> str:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    body = html[html.index("<body>") + len("<body>") : html.index("</body>")]
    return re.sub(r"<script[^>]*></script>", "", body)


def bundle() -> str:
    """The widget's ES module: render() builds the page inside the cell and links it to the kernel."""
    return f"""// actlab.play.widget: the playground's page, bundled from actlab/play/static (generated)
const PAGE = {json.dumps(_page_html())};
const CSS = {json.dumps(_scoped_css())};

function startPage(sock) {{
"use strict";
{_page_module()}
return start(sock);
}}

function render({{ model, el }}) {{
  const root = document.createElement("div");
  root.className = "actlab-play";
  const style = document.createElement("style");
  style.textContent = CSS;
  const doc = new DOMParser().parseFromString(PAGE, "text/html");
  root.append(...doc.body.childNodes);
  el.append(style, root);
  const sock = {{
    readyState: 1, binaryType: "arraybuffer", onopen: null, onmessage: null, onclose: null,
    send(text) {{ model.send({{ text }}); }},
  }};
  const onMsg = (msg, buffers) => {{
    if (!sock.onmessage) return;
    if (msg.text !== undefined) sock.onmessage({{ data: msg.text }});
    else if (msg.closed) sock.onclose && sock.onclose();
    else if (buffers && buffers.length) {{
      const b = buffers[0];
      const view = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      sock.onmessage({{ data: view.slice().buffer }});
    }}
  }};
  model.on("msg:custom", onMsg);
  window.actlabEmbedded = true;
  startPage(sock);
  model.send({{ ready: true }});
  return () => {{ model.off("msg:custom", onMsg); sock.readyState = 3; model.send({{ closed: true }}); }};
}}

export default {{ render }};
"""


# ---------------------------------------------------------------------------- the kernel side


class _CommSocket:
    """What ``_PageLink`` uses of a Starlette WebSocket, over the widget's comm."""

    def __init__(self, w: Any):
        self.widget = w
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def send_text(self, text: str) -> None:
        self.widget.send({"text": text})

    async def send_bytes(self, buf: bytes) -> None:
        self.widget.send({"frame": 1}, buffers=[buf])

    async def receive(self) -> dict:
        return await self.inbox.get()


def _widget_class():
    try:
        import anywidget
    except ImportError:
        raise ImportError(MISSING_EXTRA) from None

    class PlaygroundWidget(anywidget.AnyWidget):
        """The playground as a notebook widget (see ``actlab.play.widget``)."""

        _esm = bundle()

        def __init__(self, session: Session, **kwargs):
            super().__init__(**kwargs)
            self.session = session
            self._link: asyncio.Task | None = None
            self._sock: _CommSocket | None = None
            self.on_msg(self._on_msg)

        def _on_msg(self, _w, content: dict, buffers) -> None:
            if content.get("ready"):  # a view rendered: (re)link it to the session
                self._restart()
            elif content.get("closed"):
                self._stop()
            elif isinstance(content.get("text"), str) and self._sock is not None:
                self._sock.inbox.put_nowait({"type": "websocket.receive", "text": content["text"]})

        def _restart(self) -> None:
            self._stop()
            self._sock = _CommSocket(self)
            link = _PageLink(self._sock, self.session, secrets.token_urlsafe(12))
            self._link = asyncio.get_event_loop().create_task(link.run())

        def _stop(self) -> None:
            if self._sock is not None:
                self._sock.inbox.put_nowait({"type": "websocket.disconnect"})
            self._link, self._sock = None, None

        # -------------------------------------------------------------- from Python

        def state(self) -> dict[str, Any]:
            """The run as the page shows it: settings (URL-hash keys), epoch, playing, and the
            statistics over seeds (success rate with its 95 % interval, loss quartiles, diverged)."""
            return self.session.summary()

        def set(self, **values: Any) -> None:
            """Change settings by their URL-hash keys (a new run, as on the page)."""
            self._apply({"type": "set", "values": {k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                                                     for k, v in values.items()}})

        def play(self) -> None:
            self._apply({"type": "play"})

        def pause(self) -> None:
            self._apply({"type": "pause"})

        def step(self, epochs: int = 1) -> None:
            """Train ``epochs`` epochs now, in the kernel (the page shows the result)."""
            for _ in range(epochs):
                self.session.advance(None)

        def export(self, seed: int | None = None) -> dict[str, Any]:
            """One seed's parameters and set-up (the server's .json export); default the selected seed."""
            return self.session.export(self.session.selected if seed is None else seed)

        def _apply(self, msg: dict) -> None:
            replies = self.session.handle(msg)
            if self._sock is not None:  # the page hears about it as if it had sent the message
                for r in replies:
                    self.send({"text": json.dumps(r, allow_nan=False)})

    return PlaygroundWidget


_CLASS: list = []  # the widget class, made on first use (it needs anywidget)


def _class():
    if not _CLASS:
        _CLASS.append(_widget_class())
    return _CLASS[0]


def widget(device: str = "cpu", **keys: Any):
    """The playground as a notebook widget, with the settings ``keys`` (the URL hash's keys:
    ``activation``, ``dataset``, ``networkShape``, ``seeds``, ``learningRate``, ``compare``, …).
    Bad keys or values raise ``ValueError`` naming what was expected."""
    values = {k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for k, v in keys.items()}
    known = Session.known_keys()
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown playground keys {unknown}; expected some of {sorted(known)}")
    session = Session(device, values=values, budget=_BUDGET)
    bad = [n for n in session.notices if "using the default" in n]
    if bad:
        raise ValueError("; ".join(bad))
    return _class()(session)


def __getattr__(name: str):
    if name == "PlaygroundWidget":
        return _class()
    raise AttributeError(name)
