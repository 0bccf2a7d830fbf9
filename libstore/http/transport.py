"""The direct transport: HTTP/1.1 on pooled :mod:`http.client` connections.

Object-store traffic is a stream of small, independent request/response pairs to
one or a few origins. Each layer between the caller and the socket costs tens of
microseconds per request, which is what a listing page, a HEAD or a 4 KiB GET is
made of. This transport is the shortest path the standard library allows: one
:class:`http.client.HTTPConnection` per request in flight, kept alive in a small
pool per origin, sending the headers and URL it is given exactly as given.

It is deliberately narrow. :class:`~libstore.http.session.HttpClient` uses it for
direct connections only; requests (and urllib3 under it) still carry everything
else: proxied connections and HTTP that an application's tests intercept with
``responses`` or ``requests-mock`` (see :func:`requests_intercepted`).

What it does, and how it maps failures:

* Connecting is bounded by the connect timeout, the TLS handshake included, and
  every failure there raises :class:`ConnectFailed` (or :class:`ConnectTimeout`),
  which says the request never left this process: any method may be retried.
* Reads are bounded by the read timeout (:class:`TimeoutError`). A reply that ends
  before its ``Content-Length`` raises :class:`http.client.IncompleteRead`.
* An idle connection the server has closed is noticed before it is reused (the
  socket polls readable) and replaced.
* A connection goes back to the pool only when its reply was read to the end and
  the server did not ask to close it; anything else closes it.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from requests.structures import CaseInsensitiveDict

__all__ = [
    "ConnectFailed",
    "ConnectTimeout",
    "DirectResponse",
    "DirectTransport",
    "InvalidRequest",
    "ReplyHeaders",
    "body_length",
    "requests_intercepted",
]

#: Bytes read from a file body per ``send`` (http.client's default is 8 KiB).
SEND_BLOCK_SIZE = 256 * 1024

_Origin = tuple[str, str, int]  # scheme, host (no brackets), port
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidRequest(ValueError):
    """The URL or a header cannot be put on the wire (a control character, no host…)."""


class ConnectFailed(ConnectionError):
    """Connecting (TCP or TLS) failed: nothing of the request was sent."""


class ConnectTimeout(ConnectFailed, TimeoutError):
    """Connecting took longer than the connect timeout."""


def requests_intercepted() -> bool:
    """Whether requests' transport is replaced by a test double (``responses``,
    ``requests-mock``, a monkeypatched ``Session.send``).

    Applications mock libstore's HTTP in their tests through requests; while they
    do, :class:`~libstore.http.session.HttpClient` sends through requests so the
    mock sees every request. The check compares where requests' three entry points
    were defined, so it costs a few attribute reads per request.
    """
    import requests.adapters

    return (
        requests.adapters.HTTPAdapter.send.__module__ != "requests.adapters"
        or requests.Session.send.__module__ != "requests.sessions"
        or requests.Session.get_adapter.__module__ != "requests.sessions"
    )


def _open_socket(
    host: str,
    port: int,
    timeout: float,
    socket_options: Sequence[tuple[int, int, int]],
) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout)
    except TimeoutError as exc:
        raise ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
    except OSError as exc:
        raise ConnectFailed(f"cannot connect to {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for level, option, value in socket_options:
            sock.setsockopt(level, option, value)
    except OSError:
        sock.close()
        raise
    return sock


class ReplyHeaders(CaseInsensitiveDict[str]):
    """A reply's headers: requests' case-insensitive dict with direct lookups.

    The inherited ``get`` and ``in`` go through ``__getitem__`` and a KeyError
    per miss; reading a reply's ten or twenty known headers that way is a
    measurable share of a small request.
    """

    def get(self, key: str, default: Any = None) -> Any:
        item = self._store.get(key.lower())  # type: ignore[attr-defined]
        return default if item is None else item[1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store  # type: ignore[attr-defined]


#: Longest status or header line accepted, and most header lines (as http.client).
_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Reply(http.client.HTTPResponse):
    """http.client's reply with its own status and header parsing.

    :meth:`http.client.HTTPResponse.begin` parses headers with the :mod:`email`
    package, which costs more than everything else in a small request; this reads
    the lines itself into a :class:`~requests.structures.CaseInsensitiveDict` and
    decides the body's framing (RFC 9112 section 6) the same way. Reading the body
    (length-delimited, chunked or until close) stays http.client's.
    """

    fields: ReplyHeaders

    def _line(self) -> bytes:
        line: bytes = self.fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def begin(self) -> None:
        if self.headers is not None:
            return  # already begun
        while True:
            line = self._line()
            if not line:
                raise http.client.RemoteDisconnected(
                    "the server closed the connection without a reply"
                )
            version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise http.client.BadStatusLine(line.decode("iso-8859-1", "replace")[:100])
            status = int(code)
            fields = self._fields()
            if status != 100:  # a 100 Continue is followed by the real reply
                break
        self.version = 11 if version == "HTTP/1.1" else 10
        self.status = self.code = status
        self.reason = reason.strip()
        self.fields = fields
        self.headers = self.msg = fields
        encoding = fields.get("transfer-encoding")
        self.chunked = encoding is not None and encoding.lower().rstrip().endswith("chunked")
        self.chunk_left = None
        tokens = (fields.get("connection") or "").lower()
        if self.version == 11:
            self.will_close = "close" in tokens
        else:
            self.will_close = "keep-alive" not in tokens
        self.length = None
        length = fields.get("content-length")
        if length is not None and not self.chunked:
            values = {value.strip() for value in length.split(",")}
            if len(values) == 1 and (value := values.pop()).isdigit():
                self.length = int(value)
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the connection does

    def _header_block(self) -> bytes:
        """The header lines up to (not including) the blank line, which is consumed."""
        # Fast path: the whole block is already buffered (a small reply's always is).
        buffered: bytes = self.fp.peek(1)
        if buffered[:2] == b"\r\n":
            self.fp.read(2)
            return b""
        end = buffered.find(b"\r\n\r\n")
        if 0 <= end < _MAX_LINE:
            block = buffered[:end]
            newlines = block.count(b"\n")
            # Every line ends in CRLF (no bare LF could end the block earlier).
            if newlines == block.count(b"\r\n") and newlines < _MAX_HEADERS:
                self.fp.read(end + 4)
                return block
        readline = self.fp.readline
        lines: list[bytes] = []
        for _ in range(_MAX_HEADERS + 1):
            line = readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                raise http.client.LineTooLong("header line")
            if line in (b"\r\n", b"\n", b""):
                return b"".join(lines)
            lines.append(line)
        raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")

    def _fields(self) -> ReplyHeaders:
        fields = ReplyHeaders()
        store = fields._store  # type: ignore[attr-defined]  # lower name -> (name, value)
        last: str | None = None
        for text in self._header_block().decode("iso-8859-1").split("\n"):
            if text[:1] in (" ", "\t"):  # an obsolete folded continuation
                if last is not None:
                    name, value = store[last]
                    store[last] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon:
                continue  # not a header line (or the end): ignored, as http.client does
            name = name.strip()
            key = name.lower()
            value = value.strip()
            previous = store.get(key)
            if previous is not None:  # a repeated header: joined, as urllib3 does
                value = f"{previous[1]}, {value}"
            store[key] = (name, value)
            last = key
        return fields


class _PlainConnection(http.client.HTTPConnection):
    """Connects and holds the socket; :meth:`DirectTransport.send` writes and reads."""

    def __init__(
        self, host: str, port: int, socket_options: Sequence[tuple[int, int, int]]
    ) -> None:
        super().__init__(host, port)
        self._socket_options = socket_options

    def connect(self) -> None:
        assert self.timeout is not None
        self.sock = _open_socket(self.host, self.port, self.timeout, self._socket_options)


class _TlsConnection(http.client.HTTPSConnection):
    """Connects (TCP, then TLS) and holds the socket, like :class:`_PlainConnection`."""

    def __init__(
        self,
        host: str,
        port: int,
        socket_options: Sequence[tuple[int, int, int]],
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, context=context)
        self._socket_options = socket_options
        self._tls = context

    def connect(self) -> None:
        assert self.timeout is not None
        if self._tls.verify_mode == ssl.CERT_NONE:
            # urllib3's warning class, so filters an application set for it apply here.
            from urllib3.exceptions import InsecureRequestWarning

            warnings.warn(
                f"an unverified HTTPS connection to {self.host} (verify=False): "
                "its certificate is not checked",
                InsecureRequestWarning,
                stacklevel=2,
            )
        sock = _open_socket(self.host, self.port, self.timeout, self._socket_options)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeout(f"the TLS handshake with {self.host} timed out") from exc
        except OSError as exc:  # ssl.SSLError included
            sock.close()
            raise ConnectFailed(f"the TLS handshake with {self.host} failed") from exc


_Connection = _PlainConnection | _TlsConnection


def _dropped(conn: _Connection) -> bool:
    """Whether an idle connection's socket is closed or has unread bytes (unusable)."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet: connects on first use
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def body_length(body: Any) -> int | None:
    """The length of a request body (bytes-like, or a file with a size), if knowable."""
    if body is None:
        return 0
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    import requests.utils

    try:
        return int(requests.utils.super_len(body))  # type: ignore[no-untyped-call]
    except (OSError, TypeError, ValueError):  # pragma: no cover - exotic file objects
        return None


class DirectResponse:
    """A reply whose body has not been read: status, headers, the body as chunks.

    Closing it returns its connection to the pool if the body was read to the
    end, and closes the connection otherwise.
    """

    __slots__ = ("_conn", "_origin", "_reply", "_transport", "headers", "reason", "status_code")

    def __init__(
        self,
        transport: DirectTransport,
        origin: _Origin,
        conn: _Connection,
        reply: _Reply,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._conn: _Connection | None = conn
        self._reply = reply
        self.status_code: int = reply.status
        self.reason: str = reply.reason
        self.headers = reply.fields

    def iter_raw(self, chunk_size: int) -> Iterator[bytes]:
        """Yield the body as sent (no content decoding), up to ``chunk_size`` bytes a time.

        Raises:
            http.client.IncompleteRead: The connection ended before the body did.
            TimeoutError: No bytes arrived within the read timeout.
        """
        reply = self._reply
        read = reply.read
        while True:
            chunk = read(chunk_size)
            if not chunk:
                if reply.length:  # http.client returns short reads at EOF silently
                    missing = reply.length
                    self.close()
                    raise http.client.IncompleteRead(b"", missing)
                return
            yield chunk

    def close(self) -> None:
        """Release the connection (to the pool when reusable). Idempotent."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        reply = self._reply
        if not reply.isclosed() and reply.length == 0:
            with contextlib.suppress(OSError, http.client.HTTPException):
                reply.read()  # HEAD, 204, 304 or a read-out body: marks the reply complete
        if reply.isclosed() and not reply.will_close and conn.sock is not None:
            self._transport._checkin(self._origin, conn)
        else:
            reply.close()
            conn.close()

    def __enter__(self) -> DirectResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DirectTransport:
    """A pool of keep-alive HTTP/1.1 connections per origin.

    Args:
        ssl_context: The TLS context of every HTTPS connection (CAs, client
            certificate and verification already set).
        pool_maxsize: Idle connections kept per origin; more may be open at once,
            the surplus is closed when returned.
        socket_options: Extra ``setsockopt`` triples (``TCP_NODELAY`` is always set).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        pool_maxsize: int,
        socket_options: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        self._context = ssl_context
        self._maxsize = pool_maxsize
        self._socket_options = tuple(socket_options)
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._origins: dict[str, _Origin] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- the pool -----------------------------------------------------------------------

    def _origin(self, url: str) -> tuple[_Origin, str]:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise InvalidRequest("invalid URL: it has no scheme")
        slash = rest.find("/")
        query = rest.find("?")
        cut = min(i for i in (slash, query, len(rest)) if i != -1)
        netloc = rest[:cut]
        target = rest[cut:] or "/"
        if target.startswith("?"):
            target = "/" + target
        origin = self._origins.get(f"{scheme}://{netloc}")
        if origin is None:
            origin = _parse_origin(scheme.lower(), netloc)
            with self._lock:
                if len(self._origins) > 256:
                    self._origins.clear()
                self._origins[f"{scheme}://{netloc}"] = origin
        return origin, target

    def _checkout(self, origin: _Origin) -> _Connection:
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        scheme, host, port = origin
        if scheme == "https":
            return _TlsConnection(host, port, self._socket_options, self._context)
        return _PlainConnection(host, port, self._socket_options)

    def _checkin(self, origin: _Origin, conn: _Connection) -> None:
        with self._lock:
            if not self._closed:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < self._maxsize:
                    idle.append(conn)
                    return
        conn.close()

    def idle_connections(self) -> int:
        """How many connections wait in the pool (all origins)."""
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())

    def close(self) -> None:
        """Close every idle connection; those in use close when their reply is closed."""
        with self._lock:
            self._closed = True
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    # -- one request ----------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | bytearray | memoryview | IO[bytes] | None,
        timeout: tuple[float, float],
    ) -> DirectResponse:
        """Send one request and return its reply once the status and headers arrived.

        ``headers`` must carry the body's ``Content-Length`` (see :func:`body_length`);
        ``Host`` is added from the URL unless given, as is ``Accept-Encoding: identity``.

        Raises:
            InvalidRequest: The URL or a header cannot be sent (nothing was sent).
            ConnectFailed: The connection could not be made (nothing was sent).
            OSError, http.client.HTTPException: The exchange failed after that.
        """
        origin, target = self._origin(url)
        head = _request_head(method, target, _host_header(origin), headers)
        if isinstance(body, bytes) and len(body) <= _COALESCE_LIMIT:
            head, body = head + body, None  # one send for a small request
        conn = self._checkout(origin)
        try:
            if conn.sock is None:
                conn.timeout = timeout[0]
                conn.connect()
            sock = conn.sock
            assert sock is not None
            sock.settimeout(timeout[1])
            sock.sendall(head)
            if body is not None:
                _send_body(sock, body)
            # The connection object only connects and holds the socket: the request
            # was written above and the reply is read here, as http.client would.
            reply = _Reply(sock, method=method)
            reply.begin()
            if reply.will_close:
                conn.close()  # the reply keeps the socket until its body is read
        except BaseException:
            conn.close()
            raise
        return DirectResponse(self, origin, conn, reply)


#: Bodies up to this size go out in the same ``send`` as the request head.
_COALESCE_LIMIT = 64 * 1024

_BAD_TARGET = re.compile("[\x00-\x20\x7f]")
_LEGAL_NAME = re.compile(r"[^:\s][^:\r\n]*")
_BAD_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])")
_HOST_HEADERS: dict[_Origin, str] = {}


def _host_header(origin: _Origin) -> str:
    """``Host`` for an origin: the port only when not the scheme's default (as http.client)."""
    found = _HOST_HEADERS.get(origin)
    if found is None:
        scheme, host, port = origin
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            host = host.encode("idna").decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        found = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
        if len(_HOST_HEADERS) < 256:
            _HOST_HEADERS[origin] = found
    return found


def _request_head(method: str, target: str, host: str, headers: Mapping[str, str]) -> bytes:
    """The request line and header block, checked as http.client checks them.

    Raises:
        InvalidRequest: A control character or space in the target, an illegal header
            name, a header value that would start a new line, or a character
            outside ISO-8859-1.
    """
    if _BAD_TARGET.search(target):
        raise InvalidRequest("the URL contains control characters or spaces")
    lines = [f"{method} {target} HTTP/1.1"]
    names = {name.lower() for name in headers}
    if "host" not in names:
        lines.append(f"Host: {host}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        if not name.isascii() or not _LEGAL_NAME.fullmatch(name):
            raise InvalidRequest(f"invalid header name {name!r}")
        if _BAD_VALUE.search(value):
            raise InvalidRequest(f"invalid value for header {name!r}: it contains a line break")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("iso-8859-1")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(f"a header is not ISO-8859-1 text: {exc.reason}") from None


def _send_body(sock: socket.socket, body: bytes | bytearray | memoryview | IO[bytes]) -> None:
    if isinstance(body, bytes | bytearray | memoryview):
        sock.sendall(body)
        return
    read = body.read
    while block := read(SEND_BLOCK_SIZE):
        sock.sendall(block)


def _parse_origin(scheme: str, netloc: str) -> _Origin:
    try:
        return _split_origin(scheme, netloc)
    except ValueError as exc:
        raise InvalidRequest(f"invalid URL: {exc}") from None


def _split_origin(scheme: str, netloc: str) -> _Origin:
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme {scheme!r}")
    if "@" in netloc:
        raise ValueError("credentials in the URL are not supported")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise ValueError(f"invalid IPv6 host {netloc!r}")
        host, rest = netloc[1:end], netloc[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = netloc.partition(":")
    if not host:
        raise ValueError("the URL has no host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid port {port_text!r}")
        port = int(port_text)
    else:
        port = _DEFAULT_PORTS[scheme]
    return scheme, host, port
