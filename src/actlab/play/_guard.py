"""What the playground's server accepts: the Host it is reached by, the Origin of a WebSocket,
and a token when it listens beyond this machine (Jupyter's rules for a local server opened in a
browser).

- **Host**: every HTTP request and WebSocket must name a host the server answers to — the
  bound one, ``localhost``, ``127.0.0.1`` or ``::1`` (a page on another site cannot reach it
  through a DNS name it re-points at 127.0.0.1: DNS rebinding).
- **Origin**: a WebSocket from a browser must come from the page's own origin (the same host
  and port); a page on another site open in the same browser cannot connect. Clients that send
  no Origin (scripts, not browsers) are let through: no site can make them connect.
- **Token**: bound off loopback, every request must carry the token printed in the URL
  (``?token=…``); the page sets it as a same-site cookie, so its WebSocket and links carry it.
"""

from __future__ import annotations

import hmac
import socket
from urllib.parse import parse_qs, urlsplit

__all__ = ["Guard", "LOOPBACK_HOSTS", "hosts_for", "hostname"]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
COOKIE = "actlab_play_token"


def hostname(netloc: str) -> tuple[str, int | None]:
    """('example.org', 8000) from 'example.org:8000', ('::1', 8000) from '[::1]:8000'."""
    try:
        parts = urlsplit("//" + netloc)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:  # a malformed port
        return "", None


def hosts_for(bound: str) -> frozenset[str]:
    """The host names a server bound to ``bound`` answers to: loopback's, the bound address, and
    for a wildcard bind (0.0.0.0, ::) this machine's name and addresses (resolved locally)."""
    names = set(LOOPBACK_HOSTS) | {bound.lower().strip("[]")}
    if bound in ("0.0.0.0", "::", ""):
        name = socket.gethostname()
        names |= {name.lower(), socket.getfqdn().lower()}
        try:
            names |= {info[4][0].lower() for info in socket.getaddrinfo(name, None)}
        except OSError:  # no resolver entry for this machine's name: its name alone
            pass
    return frozenset(names)


class Guard:
    """ASGI middleware: refuse a request whose Host, Origin or token is not the server's."""

    def __init__(self, app, hosts: frozenset[str], token: str | None = None):
        self.app, self.hosts, self.token = app, hosts, token

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        why = self._refusal(scope, headers)
        if why:
            return await _refuse(scope, send, why)
        if self.token and scope["type"] == "http" and scope["path"] == "/" and self._query_token(scope):
            send = _with_cookie(send, f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict")
        return await self.app(scope, receive, send)

    def _refusal(self, scope, headers) -> str:
        host, port = hostname(headers.get("host", ""))
        if host not in self.hosts:
            return (f"Host {headers.get('host', '')!r} is not one this server answers to ({', '.join(sorted(self.hosts))}): "
                    "refused as a DNS-rebinding guard; open the address `actlab play` printed")
        origin = headers.get("origin")
        if scope["type"] == "websocket" and origin is not None:
            o_host, o_port = hostname(urlsplit(origin).netloc)
            if o_host not in self.hosts or (o_port or 80) != (port or 80):
                return f"a WebSocket from the origin {origin!r} is refused: only the playground's own page may connect"
        if self.token and not (self._query_token(scope) or hmac.compare_digest(_cookie(headers, COOKIE), self.token)):
            return "this playground needs its token: open the URL with ?token=… that `actlab play` printed"
        return ""

    def _query_token(self, scope) -> bool:
        got = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return bool(got) and hmac.compare_digest(got, self.token)


def _cookie(headers: dict[str, str], name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


def _with_cookie(send, cookie: str):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = dict(message, headers=list(message.get("headers", [])) + [(b"set-cookie", cookie.encode("latin-1"))])
        await send(message)
    return wrapped


async def _refuse(scope, send, why: str) -> None:
    body = why.encode("utf-8")
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})  # before accepting: an HTTP 403
        return
    if scope["type"] == "websocket":  # the reason in the 403's body
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
