"""The direct transport on a real socket: bytes on the wire, keep-alive, failures.

A scripted HTTP/1.1 server on 127.0.0.1 records every request it receives (the
raw head and the body) and answers with whatever the test queued: well-formed
replies, replies that close, stall, lie about their length or come chunked.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import responses

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # tests/loopback.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback import LoopbackServer

import libstore.http.session as session_module
from libstore.http.options import ClientOptions
from libstore.http.retry import RetryPolicy
from libstore.http.session import ErrorReply, HttpClient
from libstore.http.transport import (
    ConnectFailed,
    DirectTransport,
    InvalidRequest,
    _parse_origin,
    requests_intercepted,
)
from libstore.types import LibstoreError, RequestTimeoutError, ServerError, TransportError

FAST = RetryPolicy(max_attempts=3, backoff_base=0)


@dataclass
class Seen:
    head: bytes
    body: bytes
    connection: int  # which accepted connection carried it (1-based)

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode()

    def headers(self) -> list[tuple[str, str]]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines if line)]


#: What the server does with one request: the bytes to send back, and whether to
#: close the connection afterwards (or ``"stall"`` to send nothing for a while).
Action = tuple[bytes, bool] | str


def ok(body: bytes = b"", extra: str = "", close: bool = False) -> Action:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
    return head + body, close


@dataclass
class ScriptedServer(LoopbackServer):
    thread_name = "scripted-http"
    actions: list[Action] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        super().__init__()
        self._script_lock = threading.Lock()

    def queue(self, *actions: Action) -> None:
        with self._script_lock:
            self.actions.extend(actions)

    def _next(self) -> Action:
        with self._script_lock:
            return self.actions.pop(0) if self.actions else ok()

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        with self._script_lock:
            self.connections += 1
            number = self.connections
        client.settimeout(5)
        buffer = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                body, buffer = buffer[:length], buffer[length:]
                with self._script_lock:
                    self.seen.append(Seen(head, body, number))
                action = self._next()
                if action == "stall":
                    time.sleep(1.0)
                    return
                assert not isinstance(action, str)
                reply, close = action
                client.sendall(reply)
                if close:
                    return
        except OSError:
            return
        finally:
            self._untrack(client)
            with contextlib.suppress(OSError):
                client.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def _no_signing(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    return headers


def _error_parser(status: int, headers: object, body: bytes) -> ErrorReply:
    return ErrorReply(status, {}, body, code="Failed" if status >= 400 else None)


def _raise(error: ErrorReply) -> LibstoreError:
    return ServerError(f"status {error.status}", http_status=error.status)


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(ClientOptions(retry=FAST, read_timeout=0.5), _error_parser, environ={})
    http._sleep = lambda _s: None
    yield http
    http.close()


def _request(
    client: HttpClient, url: str, method: str = "GET", body: bytes | None = None, **kw: object
) -> session_module.Reply:
    return client.request(
        method,
        url,
        headers={"X-Test": "1"},
        body=body,
        sign=_no_signing,
        on_error=_raise,
        **kw,  # type: ignore[arg-type]
    )


# -- the same request on the wire as through requests -------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("HEAD", None), ("DELETE", None), ("PUT", None), ("PUT", b"x" * 70000),
     ("POST", b"<Delete/>"), ("GET", b"")],
)  # fmt: skip
def test_wire_bytes_match_requests(
    server: ScriptedServer,
    client: HttpClient,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    body: bytes | None,
) -> None:
    url = f"http://127.0.0.1:{server.port}/bkt/a%20key?uploads=&x=1"
    _request(client, url, method, body)
    monkeypatch.setattr(session_module, "requests_intercepted", lambda: True)
    _request(client, url, method, body)
    direct, via_requests = server.seen
    expected_line = f"{method} /bkt/a%20key?uploads=&x=1 HTTP/1.1"
    assert direct.request_line == via_requests.request_line == expected_line
    # Same headers, same values; only their order may differ.
    assert sorted(direct.headers()) == sorted(via_requests.headers())
    assert direct.body == via_requests.body == (body or b"")
    names = [n.lower() for n, _ in direct.headers()]
    assert names.count("host") == 1 and ("host", f"127.0.0.1:{server.port}") in [
        (n.lower(), v) for n, v in direct.headers()
    ]


def test_file_bodies_are_sent_with_their_length(server: ScriptedServer, client: HttpClient) -> None:
    import io

    data = bytes(range(256)) * 3000  # 768000 bytes: several send blocks
    client.request(
        "PUT", f"http://127.0.0.1:{server.port}/b/k", body=lambda: io.BytesIO(data),
        sign=_no_signing, on_error=_raise,
    )  # fmt: skip
    (seen,) = server.seen
    assert ("Content-Length", str(len(data))) in seen.headers()
    assert "transfer-encoding" not in [n.lower() for n, _ in seen.headers()]
    assert seen.body == data


# -- keep-alive ----------------------------------------------------------------------------------


def test_connections_are_reused(server: ScriptedServer, client: HttpClient) -> None:
    url = f"http://127.0.0.1:{server.port}/b/k"
    head_reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"  # HEAD: the length, no body
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    server.queue(ok(b"one"), (head_reply, False), (no_content, False), ok(b"four"))
    assert _request(client, url).body == b"one"
    assert _request(client, url, "HEAD").body == b""
    assert _request(client, url, "DELETE").body == b""
    assert _request(client, url).body == b"four"
    assert {s.connection for s in server.seen} == {1}
    assert client._direct.idle_connections() == 1


def test_chunked_replies_are_read_and_the_connection_kept(
    server: ScriptedServer, client: HttpClient
) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server.queue((chunked, False), ok(b"next"))
    url = f"http://127.0.0.1:{server.port}/b/k"
    assert _request(client, url).body == b"abcde"
    assert _request(client, url).body == b"next"
    assert [s.connection for s in server.seen] == [1, 1]


def test_a_connection_closed_by_the_server_is_not_reused(
    server: ScriptedServer, client: HttpClient
) -> None:
    url = f"http://127.0.0.1:{server.port}/b/k"
    server.queue(
        ok(b"a", close=True), ok(b"b", extra="Connection: close\r\n", close=True), ok(b"c")
    )
    assert _request(client, url).body == b"a"  # closed after the reply, silently
    deadline = time.monotonic() + 5
    while server.connections < 1 and time.monotonic() < deadline:  # pragma: no cover
        time.sleep(0.01)
    time.sleep(0.05)  # let the close reach the idle socket
    assert _request(client, url).body == b"b"  # the stale connection was noticed, not reused
    assert _request(client, url).body == b"c"  # "Connection: close" honoured
    assert [s.connection for s in server.seen] == [1, 2, 3]
    assert client.options.retry.max_attempts == 3 and len(server.seen) == 3  # no retries needed


def test_an_abandoned_stream_closes_its_connection(
    server: ScriptedServer, client: HttpClient
) -> None:
    url = f"http://127.0.0.1:{server.port}/b/k"
    server.queue(ok(b"x" * 100000), ok(b"after"))
    stream = client.open_stream("GET", url, sign=_no_signing, on_error=_raise)
    first = next(stream.iter_raw(10))
    assert first == b"x" * 10
    stream.close()
    assert client._direct.idle_connections() == 0  # half-read: never back in the pool
    assert _request(client, url).body == b"after"
    assert [s.connection for s in server.seen] == [1, 2]


def test_the_pool_keeps_at_most_pool_maxsize_idle_connections(server: ScriptedServer) -> None:
    transport = DirectTransport(ssl_context=None, pool_maxsize=2)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.port}/b/k"
    replies = [transport.send("GET", url, {}, None, (5, 5)) for _ in range(4)]  # 4 at once
    for reply in replies:
        assert b"".join(reply.iter_raw(100)) == b""
        reply.close()
    assert transport.idle_connections() == 2
    transport.close()
    assert transport.idle_connections() == 0
    assert server.connections == 4


# -- failures --------------------------------------------------------------------------------


def test_a_truncated_reply_is_retried_then_reported(
    server: ScriptedServer, client: HttpClient
) -> None:
    short = (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 40, True)
    server.queue(short, short, short)
    with pytest.raises(TransportError, match="IncompleteRead"):
        _request(client, f"http://127.0.0.1:{server.port}/b/k")
    assert len(server.seen) == 3


def test_a_truncated_stream_raises_incomplete_read(
    server: ScriptedServer, client: HttpClient
) -> None:
    server.queue((b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 40, True))
    stream = client.open_stream(
        "GET", f"http://127.0.0.1:{server.port}/b/k", sign=_no_signing, on_error=_raise
    )
    got = b""
    with pytest.raises(http.client.IncompleteRead):
        for chunk in stream.iter_raw(30):
            got += chunk
    assert got == b"y" * 40
    stream.close()


def test_a_read_timeout_is_a_request_timeout(server: ScriptedServer, client: HttpClient) -> None:
    server.queue("stall", "stall", "stall")
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out"):
        _request(client, f"http://127.0.0.1:{server.port}/b/k")
    assert len(server.seen) == 3
    assert time.monotonic() - started < 5


def test_a_refused_connection_is_retried_even_for_a_post(client: HttpClient) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[int] = []
    client._sleep = lambda _s: attempts.append(1)
    with pytest.raises(TransportError, match=r"Connection refused|ConnectFailed"):
        _request(client, f"http://127.0.0.1:{port}/b/k", "POST", b"x", idempotent=False)
    assert len(attempts) == 2  # certainly unsent: replayed although not idempotent


def test_a_reset_post_is_not_replayed(server: ScriptedServer, client: HttpClient) -> None:
    server.queue((b"", True))  # the request arrives, the connection drops without a reply
    with pytest.raises(TransportError):
        _request(client, f"http://127.0.0.1:{server.port}/b/k", "POST", b"x", idempotent=False)
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    "headers", [{"X-Bad": "a\r\nInjected: 1"}, {"X-Bad\r\nInjected": "v"}, {"X-Bad": "a\rb"}]
)
def test_invalid_headers_are_refused_before_anything_is_sent(
    server: ScriptedServer, client: HttpClient, headers: dict[str, str]
) -> None:
    with pytest.raises(TransportError, match="InvalidRequest"):
        client.request(
            "GET", f"http://127.0.0.1:{server.port}/b/k", headers=headers,
            sign=_no_signing, on_error=_raise,
        )  # fmt: skip
    assert server.seen == []


def test_connect_failures_are_connect_failed() -> None:
    transport = DirectTransport(ssl_context=None, pool_maxsize=1)  # type: ignore[arg-type]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectFailed):
        transport.send("GET", f"http://127.0.0.1:{port}/", {}, None, (2, 2))
    with pytest.raises(InvalidRequest):
        transport.send("GET", "ftp://127.0.0.1/", {}, None, (2, 2))


@pytest.mark.parametrize(
    ("scheme", "netloc", "origin"),
    [
        ("http", "127.0.0.1:9000", ("http", "127.0.0.1", 9000)),
        ("https", "s3.amazonaws.com", ("https", "s3.amazonaws.com", 443)),
        ("http", "bucket.example", ("http", "bucket.example", 80)),
        ("http", "[::1]:8333", ("http", "::1", 8333)),
        ("https", "[2001:db8::1]", ("https", "2001:db8::1", 443)),
    ],
)
def test_origins(scheme: str, netloc: str, origin: tuple[str, str, int]) -> None:
    assert _parse_origin(scheme, netloc) == origin


@pytest.mark.parametrize("netloc", ["", "h:0", "h:99999", "h:x", "[::1", "user:pw@h", ":80"])
def test_bad_origins(netloc: str) -> None:
    with pytest.raises(InvalidRequest):
        _parse_origin("http", netloc)


# -- which transport --------------------------------------------------------------------------


def test_requests_mocks_are_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    assert not requests_intercepted()
    with responses.RequestsMock():
        assert requests_intercepted()
    assert not requests_intercepted()
    import requests_mock

    with requests_mock.Mocker():
        assert requests_intercepted()
    spy: Callable[..., object] = lambda self, request, **kw: None  # noqa: E731
    monkeypatch.setattr(requests.Session, "send", spy)
    assert requests_intercepted()


# -- reading replies -----------------------------------------------------------------------------


def _transport_reply(
    server: ScriptedServer, raw: bytes, method: str = "GET", close: bool = False
) -> tuple[int, dict[str, str], bytes, bool]:
    """Send one request to a server answering ``raw``; (status, headers, body, pooled)."""
    server.queue((raw, close))
    transport = DirectTransport(ssl_context=None, pool_maxsize=4)  # type: ignore[arg-type]
    try:
        reply = transport.send(method, f"http://127.0.0.1:{server.port}/", {}, None, (5, 2))
        body = b"".join(reply.iter_raw(1 << 16))
        reply.close()
        pooled = transport.idle_connections() == 1
        return reply.status_code, dict(reply.headers.lower_items()), body, pooled
    finally:
        transport.close()


def test_reply_headers_folded_repeated_and_continue(server: ScriptedServer) -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 Fine Thanks\r\nX-Amz-Meta-A: one\r\nx-amz-meta-a: two\r\n"
        b"X-Folded: first\r\n  second\r\nno colon here\r\nContent-Length: 2\r\n\r\nok"
    )
    status, headers, body, pooled = _transport_reply(server, raw)
    assert (status, body, pooled) == (200, b"ok", True)
    assert headers["x-amz-meta-a"] == "one, two"
    assert headers["x-folded"] == "first second"
    assert "no colon here" not in headers


@pytest.mark.parametrize(
    ("raw", "pooled"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),  # 1.0: closes by default
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", True),  # equal repeats: one length
    ],
)
def test_reply_framing_and_keep_alive(server: ScriptedServer, raw: bytes, pooled: bool) -> None:
    assert _transport_reply(server, raw)[2:] == (b"ok", pooled)


def test_a_reply_without_length_is_read_until_close(server: ScriptedServer) -> None:
    server.queue((b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True))
    transport = DirectTransport(ssl_context=None, pool_maxsize=4)  # type: ignore[arg-type]
    reply = transport.send("GET", f"http://127.0.0.1:{server.port}/", {}, None, (5, 2))
    assert b"".join(reply.iter_raw(4)) == b"until the end"
    reply.close()
    assert transport.idle_connections() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
    ],
)
def test_malformed_replies_are_transport_errors(
    server: ScriptedServer, client: HttpClient, raw: bytes
) -> None:
    server.queue(*[(raw, True)] * 3)
    with pytest.raises(TransportError) as info:
        _request(client, f"http://127.0.0.1:{server.port}/b/k")
    assert "aaaa" not in str(info.value)  # no echo of the garbage
    assert len(server.seen) == 3  # retried like any broken reply


@pytest.mark.parametrize(
    ("raw", "headers", "body"),
    [
        # Bare LF line ends: the block cannot be cut at the first CRLF CRLF (in the body here).
        (
            b"HTTP/1.1 200 OK\nContent-Length: 8\nX-A: 1\n\nab\r\n\r\ncd",
            {"x-a": "1"},
            b"ab\r\n\r\ncd",
        ),
        # No headers at all, and a body that looks like a header block.
        (b"HTTP/1.0 200 OK\r\n\r\nX-Not: header\r\n\r\n", {}, b"X-Not: header\r\n\r\n"),
        # CRLF header lines, one of them continued with a bare LF (read line by line).
        (b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok", {"x-a": "1"}, b"ok"),
    ],
)
def test_header_blocks_are_cut_at_the_first_blank_line(
    server: ScriptedServer, raw: bytes, headers: dict[str, str], body: bytes
) -> None:
    status, got, received, _ = _transport_reply(server, raw, close=True)
    assert status == 200
    assert received == body
    for name, value in headers.items():
        assert got[name] == value
    assert "x-not" not in got


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (("http", "127.0.0.1", 80), "127.0.0.1"),
        (("http", "127.0.0.1", 9000), "127.0.0.1:9000"),
        (("https", "s3.amazonaws.com", 443), "s3.amazonaws.com"),
        (("https", "::1", 8443), "[::1]:8443"),
        (("https", "bücher.example", 443), "xn--bcher-kva.example"),
    ],
)
def test_host_headers_follow_http_client(origin: tuple[str, str, int], host: str) -> None:
    from libstore.http.transport import _host_header

    assert _host_header(origin) == host
    conn = http.client.HTTPConnection(origin[1], origin[2])
    if origin[0] == "https":
        conn.default_port = 443
    conn.putrequest("GET", "/")  # what http.client itself would send
    sent = b"\r\n".join(conn._buffer).decode()  # type: ignore[attr-defined]
    assert f"Host: {host}\r\n" in sent + "\r\n"


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/b/a key", {}),
        ("/b/k\x00", {}),
        ("/b/k", {"x-amz-meta-name": "snow\u2603man"}),
        ("/b/k", {"X-Bad\u00e9": "v"}),
    ],
)
def test_unsendable_requests_fail_before_connecting(
    server: ScriptedServer, client: HttpClient, target: str, headers: dict[str, str]
) -> None:
    with pytest.raises(TransportError, match="InvalidRequest"):
        client.request(
            "GET", f"http://127.0.0.1:{server.port}{target}", headers=headers,
            sign=_no_signing, on_error=_raise,
        )  # fmt: skip
    assert server.connections == 0  # refused before any connection was made
