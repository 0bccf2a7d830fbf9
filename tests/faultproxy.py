"""A fault-injecting HTTP/1.1 reverse proxy for tests (stdlib only).

The proxy listens on 127.0.0.1 and forwards every request to one upstream
``host:port``. The request line and headers are forwarded byte for byte (so a
signature over ``Host`` and the path stays valid), bodies are streamed in both
directions without being buffered whole, and client connections are kept alive.

A programmable fault plan decides what happens to each request::

    with FaultProxy("127.0.0.1", moto_port) as proxy:
        proxy.add(slowdown(method="PUT", query="partNumber=2"))
        proxy.add(reset_mid_body(method="GET", after_bytes=1024), truncate_body(count=2))
        ...  # point the client at proxy.url
        assert proxy.log[0] == ("PUT", "/b/k?partNumber=2&uploadId=x", "slowdown", 503)

Rules are tried in the order they were added; the first one whose :class:`Match`
selects the request fires, and is used up after ``count`` firings. Requests no rule
selects are forwarded untouched. Every request is recorded in :attr:`FaultProxy.log`
as a :class:`LogEntry` before its response (or fault) reaches the client, so a test
can assert on the log as soon as its client call returns.

Fault kinds:

``status``
    answer with the given status, S3 XML error body and headers without contacting
    the upstream (see :func:`status`).
``slowdown``
    503 with ``<Code>SlowDown</Code>``.
``request_timeout``
    400 with ``<Code>RequestTimeout</Code>``.
``reset_before_response``
    read the whole request, then reset the client connection (RST, SO_LINGER 0);
    the upstream is not contacted.
``reset_mid_body``
    forward upstream, relay the response head and ``after_bytes`` bytes of the body
    (default: half of Content-Length), then reset the client connection.
``truncate_body``
    forward upstream, relay the response head (with its full Content-Length) and only
    ``after_bytes`` bytes of the body (default: half), then close cleanly (FIN).
``delay``
    wait ``delay`` seconds, then forward normally (for client timeout tests).
"""

from __future__ import annotations

import contextlib
import io
import re
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from loopback import LoopbackServer

__all__ = [
    "KINDS",
    "Fault",
    "FaultProxy",
    "LogEntry",
    "Match",
    "delay",
    "request_timeout",
    "reset_before_response",
    "reset_mid_body",
    "s3_error_body",
    "slowdown",
    "status",
    "truncate_body",
]

KINDS = (
    "status",
    "slowdown",
    "request_timeout",
    "reset_before_response",
    "reset_mid_body",
    "truncate_body",
    "delay",
)

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_LINES = 200
MAX_CHUNK_LINE = 4096
MAX_CHUNKS = 10_000_000
IO_CHUNK = 64 * 1024

_DEFAULT_CODES = {
    400: ("BadRequest", "Bad Request"),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    429: ("TooManyRequests", "Too many requests, please slow down."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    501: ("NotImplemented", "A header you provided implies functionality that is not implemented."),
    502: ("BadGateway", "Bad Gateway"),
    503: ("ServiceUnavailable", "Service is unable to handle request."),
    504: ("GatewayTimeout", "Gateway Timeout"),
}

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def s3_error_body(code: str, message: str, resource: str = "", request_id: str = "") -> bytes:
    """An S3-style XML error document."""

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{esc(code)}</Code><Message>{esc(message)}</Message>"
        f"<Resource>{esc(resource)}</Resource><RequestId>{esc(request_id)}</RequestId>"
        "</Error>"
    ).encode()


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Match:
    """Which requests a rule applies to; every given criterion must hold.

    ``method``: the request method (case-insensitive). ``path``: a substring of the
    path (the target before ``?``). ``query``: a substring of the query string (after
    ``?``), e.g. ``"partNumber=2"``. ``regex``: searched in the whole target
    (path plus query), as received, still percent-encoded.
    """

    method: str | None = None
    path: str | None = None
    query: str | None = None
    regex: str | re.Pattern[str] | None = None

    def matches(self, method: str, target: str) -> bool:
        path, _, query = target.partition("?")
        if self.method is not None and method.upper() != self.method.upper():
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.query is not None and self.query not in query:
            return False
        return self.regex is None or re.search(self.regex, target) is not None


@dataclass(frozen=True)
class Fault:
    """One rule of the fault plan; see the module docstring for the kinds."""

    kind: str
    match: Match = field(default_factory=Match)
    count: int = 1
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    after_bytes: int | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if self.kind == "status" and self.status is None:
            raise ValueError("a 'status' fault needs a status code")
        if self.after_bytes is not None and self.after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")


def _match(
    match: Match | None,
    method: str | None,
    path: str | None,
    query: str | None,
    regex: str | re.Pattern[str] | None,
) -> Match:
    if match is not None:
        if any(v is not None for v in (method, path, query, regex)):
            raise ValueError("pass either match= or method/path/query/regex, not both")
        return match
    return Match(method=method, path=path, query=query, regex=regex)


def status(
    code: int,
    *,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
    message: str | None = None,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """Answer ``code`` without contacting the upstream.

    Without ``body``, an S3 XML error is generated from ``error_code``/``message``
    (defaults by status: 500 InternalError, 503 ServiceUnavailable, ...).
    """
    if body is None:
        default_code, default_msg = _DEFAULT_CODES.get(code, ("Error", "Injected error"))
        body = s3_error_body(error_code or default_code, message or default_msg)
    elif isinstance(body, str):
        body = body.encode()
    return Fault(
        "status",
        match=_match(match, method, path, query, regex),
        count=count,
        status=code,
        body=body,
        headers=dict(headers or {}),
    )


def slowdown(
    *,
    headers: Mapping[str, str] | None = None,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """503 SlowDown, as S3 throttles."""
    return Fault(
        "slowdown",
        match=_match(match, method, path, query, regex),
        count=count,
        status=503,
        body=s3_error_body("SlowDown", "Please reduce your request rate."),
        headers=dict(headers or {}),
    )


def request_timeout(
    *,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """400 RequestTimeout, as S3 answers an upload whose body stalled."""
    return Fault(
        "request_timeout",
        match=_match(match, method, path, query, regex),
        count=count,
        status=400,
        body=s3_error_body(
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to "
            "within the timeout period. Idle connections will be closed.",
        ),
    )


def reset_before_response(
    *,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """Read the request, then RST the client connection (upstream untouched)."""
    return Fault(
        "reset_before_response", match=_match(match, method, path, query, regex), count=count
    )


def reset_mid_body(
    *,
    after_bytes: int | None = None,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """Forward, relay the head and ``after_bytes`` body bytes (default half), then RST."""
    return Fault(
        "reset_mid_body",
        match=_match(match, method, path, query, regex),
        count=count,
        after_bytes=after_bytes,
    )


def truncate_body(
    *,
    after_bytes: int | None = None,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """Forward, relay the head and ``after_bytes`` body bytes (default half), then FIN."""
    return Fault(
        "truncate_body",
        match=_match(match, method, path, query, regex),
        count=count,
        after_bytes=after_bytes,
    )


def delay(
    seconds: float,
    *,
    match: Match | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    count: int = 1,
) -> Fault:
    """Wait ``seconds`` before forwarding the request normally."""
    return Fault(
        "delay", match=_match(match, method, path, query, regex), count=count, delay=seconds
    )


class LogEntry(NamedTuple):
    """One request seen by the proxy. Compares equal to a plain 4-tuple."""

    method: str
    target: str  # path plus query, exactly as received
    fault: str | None  # the fault kind applied, or None when forwarded untouched
    status: int | None  # the status sent to the client, None when reset before a response


@dataclass
class _Rule:
    fault: Fault
    remaining: int


# --------------------------------------------------------------------------- HTTP bits


class _ProtocolError(Exception):
    pass


class _Cut(Exception):
    """Raised by a budgeted sender once the configured number of bytes went out."""


@dataclass
class _Head:
    raw: bytes
    first_line: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        lname = name.lower()
        values = [v for k, v in self.headers if k.lower() == lname]
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> set[str]:
        value = self.get(name) or ""
        return {t.strip().lower() for t in value.split(",") if t.strip()}


def _read_head(rfile: io.BufferedReader, *, allow_eof: bool) -> _Head | None:
    """Read a request or response head. None on EOF before the first byte."""
    lines: list[bytes] = []
    total = 0
    first = b""
    # Skip (bounded) blank lines before a request line, as RFC 9112 allows.
    for _ in range(8):
        first = rfile.readline(MAX_HEAD_BYTES + 1)
        if not first:
            if allow_eof:
                return None
            raise _ProtocolError("connection closed before a message head")
        if first not in (b"\r\n", b"\n"):
            break
    else:
        raise _ProtocolError("too many blank lines")
    total += len(first)
    lines.append(first)
    for _ in range(MAX_HEADER_LINES + 1):
        line = rfile.readline(MAX_HEAD_BYTES + 1)
        if not line:
            raise _ProtocolError("connection closed inside a message head")
        total += len(line)
        if total > MAX_HEAD_BYTES:
            raise _ProtocolError("message head too large")
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    else:
        raise _ProtocolError("too many header lines")
    headers: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _ProtocolError(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return _Head(b"".join(lines), first.decode("latin-1").rstrip("\r\n"), headers)


def _body_framing(head: _Head) -> tuple[str, int]:
    """('chunked', 0), ('length', n) or ('none', 0) for a request."""
    if "chunked" in head.tokens("transfer-encoding"):
        return "chunked", 0
    length = head.get("content-length")
    if length is not None:
        try:
            n = int(length.split(",")[0].strip())
        except ValueError as exc:
            raise _ProtocolError(f"bad Content-Length {length!r}") from exc
        if n < 0:
            raise _ProtocolError("negative Content-Length")
        return "length", n
    return "none", 0


def _relay_exact(rfile: io.BufferedReader, send: Callable[[bytes], None], n: int) -> None:
    remaining = n
    while remaining > 0:  # each pass consumes >= 1 byte or raises
        data = rfile.read1(min(IO_CHUNK, remaining))
        if not data:
            raise _ProtocolError(f"connection closed with {remaining} body bytes missing")
        remaining -= len(data)
        send(data)


def _relay_chunked(rfile: io.BufferedReader, send: Callable[[bytes], None]) -> None:
    for _ in range(MAX_CHUNKS):
        line = rfile.readline(MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise _ProtocolError("bad chunk-size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _ProtocolError(f"bad chunk size {line!r}") from exc
        send(line)
        if size == 0:
            for _ in range(MAX_HEADER_LINES):
                trailer = rfile.readline(MAX_CHUNK_LINE)
                if not trailer:
                    raise _ProtocolError("connection closed in chunked trailer")
                send(trailer)
                if trailer in (b"\r\n", b"\n"):
                    return
            raise _ProtocolError("too many trailer lines")
        _relay_exact(rfile, send, size + 2)  # chunk data plus its CRLF
    raise _ProtocolError("too many chunks")


def _relay_until_eof(rfile: io.BufferedReader, send: Callable[[bytes], None]) -> None:
    while True:  # ends at EOF; reads are bounded by the socket timeout
        data = rfile.read1(IO_CHUNK)
        if not data:
            return
        send(data)


def _discard(_: bytes) -> None:
    return None


class _BudgetSender:
    """Forwards bytes until ``budget`` body bytes went out, then raises :class:`_Cut`."""

    def __init__(self, sock: socket.socket, budget: int | None) -> None:
        self.sock = sock
        self.budget = budget
        self.sent = 0

    def __call__(self, data: bytes) -> None:
        if self.budget is None:
            self.sock.sendall(data)
            return
        room = self.budget - self.sent
        if room <= 0:
            raise _Cut
        piece = data[:room]
        if piece:
            self.sock.sendall(piece)
            self.sent += len(piece)
        if len(data) >= room:
            raise _Cut


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Upstream:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile: io.BufferedReader = self.sock.makefile("rb", buffering=IO_CHUNK)

    def looks_alive(self) -> bool:
        # An idle keep-alive connection must not be readable: readable means the
        # peer closed it (EOF) or sent something unsolicited.
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.sock.close()


# --------------------------------------------------------------------------- the proxy


class FaultProxy(LoopbackServer):
    """Threaded reverse proxy on 127.0.0.1 in front of ``upstream_host:upstream_port``."""

    thread_name = "faultproxy"
    backlog = 128

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        listen_host: str = "127.0.0.1",
        idle_timeout: float = 30.0,
        upstream_timeout: float = 60.0,
        max_requests_per_connection: int = 100_000,
    ) -> None:
        super().__init__()
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.listen_host = listen_host
        self.idle_timeout = idle_timeout
        self.upstream_timeout = upstream_timeout
        self.max_requests_per_connection = max_requests_per_connection
        self._rules: list[_Rule] = []
        self._log: list[LogEntry] = []

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    def add(self, *faults: Fault) -> None:
        """Append rules to the fault plan."""
        with self._lock:
            self._rules.extend(_Rule(f, f.count) for f in faults)

    @property
    def pending(self) -> list[tuple[Fault, int]]:
        """Rules not used up yet, with how many firings each has left."""
        with self._lock:
            return [(r.fault, r.remaining) for r in self._rules]

    @property
    def log(self) -> list[LogEntry]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        """Drop all pending rules and the log."""
        with self._lock:
            self._rules.clear()
            self._log.clear()

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def wait_for_log(self, count: int, timeout: float = 5.0) -> list[LogEntry]:
        """Wait (bounded) until the log has at least ``count`` entries; return it."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.01) + 2):
            entries = self.log
            if len(entries) >= count or time.monotonic() >= deadline:
                return entries
            time.sleep(0.01)
        return self.log

    # ------------------------------------------------------------------ internals

    def _take_fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.fault.match.matches(method, target):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[i]
                    return rule.fault
        return None

    def _record(self, method: str, target: str, fault: str | None, code: int | None) -> None:
        with self._lock:
            self._log.append(LogEntry(method, target, fault, code))

    def _open_upstream(self, current: _Upstream | None) -> _Upstream:
        if current is not None:
            if current.looks_alive():
                return current
            self._untrack(current.sock)
            current.close()
        upstream = _Upstream(self.upstream_host, self.upstream_port, self.upstream_timeout)
        self._track(upstream.sock)
        return upstream

    def _close_upstream(self, upstream: _Upstream | None) -> None:
        if upstream is not None:
            self._untrack(upstream.sock)
            upstream.close()

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        client.settimeout(self.idle_timeout)
        with contextlib.suppress(OSError):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile: io.BufferedReader = client.makefile("rb", buffering=IO_CHUNK)
        state: dict[str, _Upstream | None] = {"upstream": None}
        reset = False
        try:
            for _ in range(self.max_requests_per_connection):
                if self._stop.is_set():
                    break
                head = _read_head(rfile, allow_eof=True)
                if head is None:
                    break
                outcome = self._handle(head, client, rfile, state)
                if outcome == "reset":
                    reset = True
                    break
                if outcome == "close":
                    break
        except (OSError, _ProtocolError, ValueError):
            pass
        finally:
            self._close_upstream(state["upstream"])
            with contextlib.suppress(OSError):
                rfile.close()
            self._untrack(client)
            if reset:
                _reset(client)
            else:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_WR)
                with contextlib.suppress(OSError):
                    client.close()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _handle(
        self,
        head: _Head,
        client: socket.socket,
        rfile: io.BufferedReader,
        state: dict[str, _Upstream | None],
    ) -> str:
        """Serve one request; return 'keep', 'close' or 'reset'."""
        parts = head.first_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _ProtocolError(f"bad request line {head.first_line!r}")
        method, target, version = parts
        conn_tokens = head.tokens("connection")
        keep_alive = (
            "keep-alive" in conn_tokens if version == "HTTP/1.0" else "close" not in conn_tokens
        )
        expect_continue = "100-continue" in head.tokens("expect")
        framing, length = _body_framing(head)

        def relay_request_body(send: Callable[[bytes], None]) -> None:
            if framing == "length":
                _relay_exact(rfile, send, length)
            elif framing == "chunked":
                _relay_chunked(rfile, send)

        fault = self._take_fault(method, target)
        kind = fault.kind if fault is not None else None

        if fault is not None and fault.status is not None:  # status/slowdown/request_timeout
            if expect_continue:
                keep_alive = False  # answer without reading the body, then close
            else:
                relay_request_body(_discard)
            body = fault.body or b""
            lines = [f"HTTP/1.1 {fault.status} {_REASONS.get(fault.status, 'Error')}"]
            extra = {k.lower() for k in fault.headers}
            if "content-type" not in extra:
                lines.append("Content-Type: application/xml")
            if "x-amz-request-id" not in extra:
                lines.append(f"x-amz-request-id: {uuid.uuid4().hex[:16].upper()}")
            lines += [f"{k}: {v}" for k, v in fault.headers.items()]
            lines.append(f"Content-Length: {len(body)}")
            lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
            payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            if method.upper() != "HEAD":
                payload += body
            self._record(method, target, kind, fault.status)
            client.sendall(payload)
            return "keep" if keep_alive else "close"

        if kind == "reset_before_response":
            relay_request_body(_discard)
            self._record(method, target, kind, None)
            return "reset"

        if kind == "delay" and fault is not None and self._stop.wait(fault.delay):
            return "close"

        # ---- forward upstream
        upstream = self._open_upstream(state["upstream"])
        state["upstream"] = upstream
        try:
            upstream.sock.sendall(head.raw)
        except OSError:
            # A reused connection may have died just now; nothing of the body was read
            # yet, so one fresh connection is safe.
            self._close_upstream(upstream)
            upstream = state["upstream"] = self._open_upstream(None)
            upstream.sock.sendall(head.raw)
        if expect_continue:
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        relay_request_body(upstream.sock.sendall)

        resp: _Head | None = None
        for _ in range(10):  # skip interim 1xx answers (we sent our own 100 Continue)
            resp = _read_head(upstream.rfile, allow_eof=False)
            assert resp is not None
            code = _status_code(resp)
            if not 100 <= code < 200 or code == 101:
                break
        else:
            raise _ProtocolError("too many interim responses")
        assert resp is not None
        code = _status_code(resp)

        resp_conn = resp.tokens("connection")
        upstream_keep = "close" not in resp_conn and not resp.first_line.startswith("HTTP/1.0")
        if method.upper() == "HEAD" or code in (204, 304) or 100 <= code < 200:
            resp_framing, resp_length = "length", 0
        else:
            resp_framing, resp_length = _body_framing(resp)
            if resp_framing == "none":
                resp_framing = "eof"
                upstream_keep = False
        if not upstream_keep:
            keep_alive = False  # the head we relay says close (or the body ends at EOF)

        budget: int | None = None
        if kind in ("reset_mid_body", "truncate_body") and fault is not None:
            if fault.after_bytes is not None:
                budget = fault.after_bytes
            else:
                budget = resp_length // 2 if resp_framing == "length" else 0

        self._record(method, target, kind, code)
        client.sendall(resp.raw)
        sender = _BudgetSender(client, budget)
        try:
            if budget == 0:
                raise _Cut
            if resp_framing == "length":
                _relay_exact(upstream.rfile, sender, resp_length)
            elif resp_framing == "chunked":
                _relay_chunked(upstream.rfile, sender)
            else:
                _relay_until_eof(upstream.rfile, sender)
        except _Cut:
            # The rest of the upstream body is never read: drop that connection.
            self._close_upstream(upstream)
            state["upstream"] = None
            return "reset" if kind == "reset_mid_body" else "close"

        if budget is not None:
            # The whole body fit in the budget; still end the connection as the fault says.
            self._close_upstream(upstream)
            state["upstream"] = None
            return "reset" if kind == "reset_mid_body" else "close"
        if not upstream_keep:
            self._close_upstream(upstream)
            state["upstream"] = None
        return "keep" if keep_alive else "close"


def _status_code(head: _Head) -> int:
    parts = head.first_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise _ProtocolError(f"bad status line {head.first_line!r}")
    try:
        return int(parts[1])
    except ValueError as exc:
        raise _ProtocolError(f"bad status line {head.first_line!r}") from exc
