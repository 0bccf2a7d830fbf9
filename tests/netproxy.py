"""A small HTTP forward proxy for tests: absolute-URI requests and CONNECT tunnels (stdlib only).

The proxy listens on 127.0.0.1 and forwards only to loopback destinations:

* ``GET http://127.0.0.1:9000/bucket/key HTTP/1.1`` (absolute form, as clients send
  plain-HTTP requests to a proxy) is rewritten to origin form (``GET /bucket/key``)
  and forwarded with every end-to-end header unchanged (``Host`` included, so a
  SigV4 signature stays valid); ``Proxy-Authorization`` and ``Proxy-Connection``
  are dropped. Bodies stream both ways; client connections are kept alive.
* ``CONNECT 127.0.0.1:8443 HTTP/1.1`` opens a TCP tunnel (for HTTPS through the proxy);
  the proxy never sees inside the TLS session.

With ``username``/``password`` the proxy demands ``Proxy-Authorization: Basic …``
and answers ``407`` otherwise. Every request is recorded in :attr:`ForwardProxy.log`
before its reply goes out. Every loop is bounded in count and time.

    with ForwardProxy() as proxy:
        driver = S3StorageDriver(..., options=ClientOptions(proxies={"http": proxy.url}))
        ...
        assert proxy.log[0].method == "PUT"
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import select
import socket
import threading
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from faultproxy import (
    IO_CHUNK,
    _body_framing,
    _Head,
    _ProtocolError,
    _read_head,
    _relay_chunked,
    _relay_exact,
    _relay_until_eof,
    _Upstream,
)
from loopback import LoopbackServer

__all__ = ["ForwardProxy", "ProxyLogEntry"]

MAX_REQUESTS_PER_CONNECTION = 100_000
MAX_TUNNEL_ROUNDS = 5_000_000
_HOP_BY_HOP = frozenset(
    {"proxy-authorization", "proxy-connection", "keep-alive", "te", "trailer", "upgrade"}
)


class ProxyLogEntry(NamedTuple):
    """One request the proxy saw."""

    method: str
    target: str  # the absolute URI, or host:port for CONNECT
    status: int  # what the proxy answered (the upstream's status for forwarded requests)
    authorized: bool  # whether valid proxy credentials came with it


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ForwardProxy(LoopbackServer):
    """A threaded HTTP/1.1 forward proxy on 127.0.0.1.

    Args:
        username: Require these proxy credentials (Basic), with ``password``.
        password: The password.
        idle_timeout: Seconds a client connection or tunnel may stay silent.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self._expected_auth = (
            "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            if username is not None
            else None
        )
        super().__init__()
        self.idle_timeout = idle_timeout
        self.log: list[ProxyLogEntry] = []
        self.tunnels_opened = 0

    thread_name = "netproxy"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ internals

    def _record(self, method: str, target: str, status: int, authorized: bool) -> None:
        with self._lock:
            self.log.append(ProxyLogEntry(method, target, status, authorized))

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        client.settimeout(self.idle_timeout)
        rfile: io.BufferedReader = client.makefile("rb", buffering=IO_CHUNK)
        upstreams: dict[tuple[str, int], _Upstream] = {}
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                if self._stop.is_set():
                    break
                head = _read_head(rfile, allow_eof=True)
                if head is None:
                    break
                if not self._handle(head, client, rfile, upstreams):
                    break
        except (OSError, _ProtocolError, ValueError):
            pass
        finally:
            for upstream in upstreams.values():
                self._untrack(upstream.sock)
                upstream.close()
            with contextlib.suppress(OSError):
                rfile.close()
            self._untrack(client)
            with contextlib.suppress(OSError):
                client.close()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _reply(self, client: socket.socket, status: int, reason: str, *extra: str) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", *extra, "Content-Length: 0", "", ""]
        client.sendall("\r\n".join(lines).encode("latin-1"))

    def _authorized(self, head: _Head) -> bool:
        return self._expected_auth is None or head.get("proxy-authorization") == (
            self._expected_auth
        )

    def _handle(
        self,
        head: _Head,
        client: socket.socket,
        rfile: io.BufferedReader,
        upstreams: dict[tuple[str, int], _Upstream],
    ) -> bool:
        """Serve one request; return whether the client connection stays open."""
        parts = head.first_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _ProtocolError(f"bad request line {head.first_line!r}")
        method, target, _version = parts
        authorized = self._authorized(head)
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            if not authorized:
                self._record(method, target, 407, False)
                self._reply(client, 407, "Proxy Authentication Required",
                            'Proxy-Authenticate: Basic realm="libstore-test"')  # fmt: skip
                return False
            if not port_text.isdigit() or not _is_loopback(host):
                self._record(method, target, 403, authorized)
                self._reply(client, 403, "Forbidden")
                return False
            self._tunnel(client, rfile, host.strip("[]"), int(port_text), target)
            return False
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            self._record(method, target, 400, authorized)
            self._reply(client, 400, "Bad Request")
            return False
        framing, length = _body_framing(head)
        if not authorized:
            # Drain the body so the connection could continue, then refuse.
            if framing == "length":
                _relay_exact(rfile, lambda _b: None, length)
            elif framing == "chunked":
                _relay_chunked(rfile, lambda _b: None)
            self._record(method, target, 407, False)
            self._reply(client, 407, "Proxy Authentication Required",
                        'Proxy-Authenticate: Basic realm="libstore-test"')  # fmt: skip
            return True
        if not _is_loopback(url.hostname):
            self._record(method, target, 403, authorized)
            self._reply(client, 403, "Forbidden")
            return False
        key = (url.hostname, url.port or 80)
        upstream = upstreams.get(key)
        if upstream is not None and not upstream.looks_alive():
            self._untrack(upstream.sock)
            upstream.close()
            upstream = None
        if upstream is None:
            upstream = upstreams[key] = _Upstream(key[0], key[1], 60.0)
            self._track(upstream.sock)
        origin_form = (url.path or "/") + (f"?{url.query}" if url.query else "")
        lines = [f"{method} {origin_form} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in _HOP_BY_HOP]
        upstream.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if framing == "length":
            _relay_exact(rfile, upstream.sock.sendall, length)
        elif framing == "chunked":
            _relay_chunked(rfile, upstream.sock.sendall)
        resp: _Head | None = None
        for _ in range(10):  # skip interim 1xx answers
            resp = _read_head(upstream.rfile, allow_eof=False)
            assert resp is not None
            code = int(resp.first_line.split(" ", 2)[1])
            if not 100 <= code < 200:
                break
            client.sendall(resp.raw)
        assert resp is not None
        code = int(resp.first_line.split(" ", 2)[1])
        self._record(method, target, code, authorized)
        client.sendall(resp.raw)
        keep = "close" not in resp.tokens("connection")
        if method.upper() != "HEAD" and code not in (204, 304):
            resp_framing, resp_length = _body_framing(resp)
            if resp_framing == "length":
                _relay_exact(upstream.rfile, client.sendall, resp_length)
            elif resp_framing == "chunked":
                _relay_chunked(upstream.rfile, client.sendall)
            else:
                _relay_until_eof(upstream.rfile, client.sendall)
                keep = False
        if not keep:
            self._untrack(upstream.sock)
            upstream.close()
            del upstreams[key]
        return keep and "close" not in head.tokens("connection")

    def _tunnel(
        self, client: socket.socket, rfile: io.BufferedReader, host: str, port: int, target: str
    ) -> None:
        try:
            upstream = socket.create_connection((host, port), timeout=10.0)
        except OSError:
            self._record("CONNECT", target, 502, True)
            self._reply(client, 502, "Bad Gateway")
            return
        self._track(upstream)
        try:
            self._record("CONNECT", target, 200, True)
            with self._lock:
                self.tunnels_opened += 1
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            # The client waits for the 200 before its TLS hello: nothing is buffered in
            # ``rfile`` yet, so the tunnel can relay the raw sockets from here on.
            upstream.settimeout(self.idle_timeout)
            last = time.monotonic()
            for _ in range(MAX_TUNNEL_ROUNDS):
                if self._stop.is_set() or time.monotonic() - last > self.idle_timeout:
                    return
                readable, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(IO_CHUNK)
                    if not data:
                        return
                    last = time.monotonic()
                    (upstream if sock is client else client).sendall(data)
        finally:
            self._untrack(upstream)
            with contextlib.suppress(OSError):
                upstream.close()
