"""What the playground's server accepts and refuses: foreign Hosts (DNS rebinding), foreign
Origins (another site's page in the same browser), requests without the token off loopback,
and more work than its one budget across tabs — through Starlette's TestClient and a real
uvicorn server."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from actlab.play._guard import LOOPBACK_HOSTS, hostname, hosts_for
from actlab.play.server import make_app, make_server
from actlab.play.session import Budget


def test_hostname_parsing_and_the_hosts_of_a_wildcard_bind():
    assert hostname("127.0.0.1:8000") == ("127.0.0.1", 8000) and hostname("[::1]:9") == ("::1", 9)
    assert hostname("Example.ORG") == ("example.org", None) and hostname("a:notaport") == ("", None)
    assert hosts_for("127.0.0.1") == LOOPBACK_HOSTS
    assert "192.168.1.5" in hosts_for("192.168.1.5") and LOOPBACK_HOSTS <= hosts_for("0.0.0.0")


def test_foreign_host_and_origin_are_refused_with_the_reason():
    app = make_app(hosts=LOOPBACK_HOSTS | {"testserver"})
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        r = c.get("/", headers={"host": "evil.example:8000"})
        assert r.status_code == 403 and "DNS-rebinding" in r.text
        with pytest.raises(WebSocketDenialResponse) as exc:
            with c.websocket_connect("/ws", headers={"origin": "http://evil.example"}):
                pass
        assert exc.value.status_code == 403 and b"only the playground's own page" in exc.value.content
        with pytest.raises(WebSocketDenialResponse):  # the right host on another port is another origin
            with c.websocket_connect("/ws", headers={"origin": "http://testserver:9999"}):
                pass
        with c.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:  # the page's own
            assert ws.receive_json()["type"] in ("hello", "state")


def test_the_token_is_required_off_loopback_and_becomes_a_cookie():
    app = make_app(hosts=LOOPBACK_HOSTS | {"testserver"}, token="s3cret")
    with TestClient(app) as c:
        assert c.get("/").status_code == 403 and "needs its token" in c.get("/").text
        assert c.get("/static/js/main.js").status_code == 403
        r = c.get("/?token=wrong")
        assert r.status_code == 403
        r = c.get("/?token=s3cret")
        assert r.status_code == 200 and "actlab_play_token=s3cret" in r.headers["set-cookie"]
        assert "SameSite=Strict" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        assert c.get("/static/js/main.js").status_code == 200  # the cookie now rides along
        with c.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] in ("hello", "state")


def _heavy(i: int) -> dict:
    return {"type": "set", "values": {"networkShape": "64,64,64,64", "seeds": "1000", "dataset": "spiral", "noise": str(i)}}


def test_twelve_heavy_tabs_share_one_budget_and_a_new_tab_is_answered():
    """12 pages ask for runs at the memory cap: those over the shared budget get a message and
    keep their default run; the server goes on, and a new page gets its state."""
    app = make_app(hosts=LOOPBACK_HOSTS | {"testserver"})
    budget: Budget = app.state.budget
    with TestClient(app) as c:
        pages, refused, accepted = [], 0, 0
        try:
            for i in range(12):
                ws = c.websocket_connect("/ws").__enter__()
                pages.append(ws)
                ws.send_json(_heavy(i))
                while True:  # the answer to the set: a new state, or an error
                    m = ws.receive()
                    if m.get("bytes") is not None:
                        ws.send_json({"type": "ack"})
                        continue
                    d = json.loads(m["text"])
                    if d["type"] == "error":
                        refused += 1
                        assert "other page(s) of this server" in d["message"] and "close another tab" in d["message"]
                        break
                    if d["type"] == "state" and d["settings"]["seeds"] != "100":
                        accepted += 1
                        ws.send_json({"type": "play"})
                        break
            assert accepted >= 1 and refused >= 1 and accepted + refused == 12
            heavy = [s for s in budget.sessions if s.settings.seeds > 100]
            assert len(heavy) == accepted and sum(s.cost for s in heavy) <= budget.limit
            with c.websocket_connect("/ws") as fresh:  # a new tab is answered (the 12 others play on)
                while json.loads(fresh.receive_text())["type"] != "state":
                    pass
        finally:
            for ws in pages:
                ws.__exit__(None, None, None)


def test_a_real_server_refuses_a_foreign_host_and_origin():
    server, sock, url = make_server("127.0.0.1", 0)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        port = sock.getsockname()[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/", headers={"Host": f"rebound.example:{port}"})
        r = conn.getresponse()
        assert r.status == 403 and b"DNS-rebinding" in r.read()
        conn.request("GET", "/", headers={"Host": f"localhost:{port}"})
        r = conn.getresponse()
        assert r.status == 200 and b"actlab" in r.read()

        async def handshake(origin):
            import websockets

            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}/ws", origin=origin, open_timeout=10) as ws:
                    return json.loads(await ws.recv())["type"]
            except websockets.exceptions.InvalidStatus as e:
                return e.response.status_code

        assert asyncio.run(handshake("http://evil.example")) == 403
        assert asyncio.run(handshake(f"http://127.0.0.1:{port}")) in ("hello", "state")
    finally:
        server.should_exit = True
        t.join(10)
        sock.close()
