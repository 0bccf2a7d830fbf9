"""The benchmark's own ground truth: SeaweedFS on loopback and a tiny reference S3 client.

The server comes from ``tests/servers.py`` (imported by path, so the benchmark and
the integration tests start SeaweedFS the same way). The reference client speaks
SigV4 over :mod:`http.client` with the signer in ``tests/servers.py``; it is
independent of every client under test and is used to seed objects, to check what
the server holds after an upload (SHA-256 of the stored bytes) and to clean up.
Every request goes to the loopback endpoint only.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import importlib.util
import sys
import threading
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SERVERS_PY = REPO_DIR / "tests" / "servers.py"

_READ = 1024 * 1024


def load_servers() -> ModuleType:
    """Import ``tests/servers.py`` by path (it is not part of an installed package)."""
    name = "_libstore_bench_servers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SERVERS_PY)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SERVERS_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class RefClient:
    """One persistent HTTP/1.1 connection to the endpoint, SigV4-signed by tests/servers.py.

    Not thread-safe; make one per thread.
    """

    def __init__(self, endpoint: Any, timeout: float = 120.0) -> None:
        if endpoint.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"refusing a non-loopback endpoint {endpoint.host!r}")
        self.endpoint = endpoint
        self.timeout = timeout
        self._servers = load_servers()
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(
                self.endpoint.host, self.endpoint.port, timeout=self.timeout
            )
        return self._conn

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        body_file: Path | None = None,
        payload_hash: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        ep = self.endpoint
        if body_file is not None:
            length = body_file.stat().st_size
        else:
            body = body or b""
            length = len(body)
            if payload_hash is None:
                payload_hash = hashlib.sha256(body).hexdigest()
        signed = self._servers.sigv4_headers(
            method,
            ep.url + path,
            access_key=ep.access_key,
            secret_key=ep.secret_key,
            region=ep.region,
            headers=headers,
            payload_hash=payload_hash,
        )
        # One retry on a connection the server closed while idle; nothing else.
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in signed.items():
                    conn.putheader(name, value)
                if length or method in ("PUT", "POST"):
                    conn.putheader("Content-Length", str(length))
                conn.endheaders()
                if body_file is not None:
                    with open(body_file, "rb") as handle:
                        for _ in range(length // _READ + 2):
                            block = handle.read(_READ)
                            if not block:
                                break
                            conn.send(block)
                elif body:
                    conn.send(body)
                return conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        resp = self._send(method, path, **kwargs)
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, data

    def _checked(self, what: str, ok: Sequence[int], method: str, path: str, **kw: Any) -> bytes:
        status, data = self.request(method, path, **kw)
        if status not in ok:
            raise RuntimeError(f"reference {what} {path}: HTTP {status}: {data[:300]!r}")
        return data

    # -- operations --------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        self._checked("create bucket", (200,), "PUT", f"/{bucket}")

    def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self._checked("PUT", (200,), "PUT", f"/{bucket}/{key}", body=data)

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        sha256_hex: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._checked(
            "PUT",
            (200,),
            "PUT",
            f"/{bucket}/{key}",
            body_file=path,
            payload_hash=sha256_hex,
            headers=headers,
        )

    def delete(self, bucket: str, key: str) -> None:
        self._checked("DELETE", (200, 204, 404), "DELETE", f"/{bucket}/{key}")

    def head_status(self, bucket: str, key: str) -> int:
        status, _ = self.request("HEAD", f"/{bucket}/{key}")
        return status

    def head_size(self, bucket: str, key: str) -> int:
        resp = self._send("HEAD", f"/{bucket}/{key}")
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"reference HEAD /{bucket}/{key}: HTTP {resp.status}")
        return int(resp.getheader("Content-Length") or -1)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self._checked("GET", (200,), "GET", f"/{bucket}/{key}")

    def stored_digest(self, bucket: str, key: str) -> tuple[int, str] | None:
        """(size, sha256 hex) of what the server holds under ``key``; None when missing."""
        resp = self._send("GET", f"/{bucket}/{key}")
        if resp.status == 404:
            resp.read()
            return None
        if resp.status != 200:
            data = resp.read()
            raise RuntimeError(f"reference GET /{bucket}/{key}: HTTP {resp.status}: {data[:300]!r}")
        digest = hashlib.sha256()
        size = 0
        for _ in range(1 << 24):
            block = resp.read(_READ)
            if not block:
                break
            digest.update(block)
            size += len(block)
        return size, digest.hexdigest()


def parallel_put(
    endpoint: Any,
    bucket: str,
    keys: Sequence[str],
    body: Callable[[str], bytes],
    threads: int = 4,
) -> None:
    """PUT ``keys`` with the reference client on a few threads (seeding, not measured)."""
    errors: list[BaseException] = []

    def work(slice_: Sequence[str]) -> None:
        client = RefClient(endpoint)
        try:
            for key in slice_:
                client.put_bytes(bucket, key, body(key))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            client.close()

    workers = [
        threading.Thread(target=work, args=(keys[i::threads],), daemon=True) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    if errors:
        raise errors[0]
    if any(worker.is_alive() for worker in workers):
        raise RuntimeError("seeding did not finish within 600 s")


def file_crc32_b64(path: Path) -> str:
    """The file's CRC32 as S3's ``x-amz-checksum-crc32`` carries it (base64, big-endian)."""
    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_READ), b""):
            crc = zlib.crc32(block, crc)
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_READ), b""):
            digest.update(block)
    return digest.hexdigest()
