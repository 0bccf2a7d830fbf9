"""One adapter per client under test, each driving the client the way its documentation does.

Every adapter offers the same seven operations; :mod:`bench.worker` times them.
Only the adapter of the client being measured is imported in a worker process,
so peak RSS and CPU time belong to that client alone. Each adapter reports, in
``describe()``, the configuration that was actually measured (versions, part
sizes, concurrency), read from the library itself where it exposes it.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MiB = 1024 * 1024

#: Keyword names under which a libstore version may expose transfer concurrency.
CONCURRENCY_NAMES = (
    "concurrency",
    "max_concurrency",
    "max_workers",
    "workers",
    "threads",
    "parallelism",
)


class IterReader(io.RawIOBase):
    """A read-only binary file over an iterator of bytes chunks (for clients that need ``read``).

    boto3's ``upload_fileobj`` and minio's ``put_object`` take a file object, not an
    iterator; this is the adapter a user of those clients has to write. It copies each
    byte once (into the caller's buffer, or into the returned bytes).
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._head = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._head and not self._done:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._head = memoryview(chunk)
        return bool(self._head)

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(out) and self._fill():
            take = min(len(out) - filled, len(self._head))
            out[filled : filled + take] = self._head[:take]
            self._head = self._head[take:]
            filled += take
        return filled

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            pieces = []
            while self._fill():
                pieces.append(bytes(self._head))
                self._head = memoryview(b"")
            return b"".join(pieces)
        if not self._fill():
            return b""
        if len(self._head) >= size:  # fast path: one slice of the current chunk
            data = self._head[:size].tobytes()
            self._head = self._head[size:]
            return data
        buffer = bytearray(size)
        filled = self.readinto(buffer)
        del buffer[filled:]
        return bytes(buffer)


class Adapter:
    """The operations every client implements (bucket = container)."""

    name = "?"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        self.ep = endpoint
        self.variant = variant
        self.url = f"http://{endpoint['host']}:{endpoint['port']}"

    def describe(self) -> dict[str, Any]:
        return {}

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        raise NotImplementedError

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        raise NotImplementedError

    def download(self, bucket: str, key: str, path: Path) -> None:
        raise NotImplementedError

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        """Upload ``data``; returns a handle the GET/HEAD phases may use (an Object)."""
        raise NotImplementedError

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        raise NotImplementedError

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        raise NotImplementedError

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- libstore


def _transfer_config_class() -> Any:
    """libstore's transfer settings class, where this version has one."""
    import libstore

    found = getattr(libstore, "TransferConfig", None)
    if found is None:
        try:
            from libstore.transfer.config import TransferConfig as found  # type: ignore
        except ImportError:
            return None
    return found


def libstore_options() -> dict[str, Any]:
    """How the installed libstore lets a caller set transfer concurrency (inspected, not assumed).

    Two shapes are recognised: a concurrency keyword (one of :data:`CONCURRENCY_NAMES`)
    on the driver or on a transfer call, and a ``transfer=`` settings object whose
    class has a ``concurrency`` field.
    """
    from libstore import Provider, get_driver

    cls = get_driver(Provider.S3)
    keywords: dict[str, dict[str, Any]] = {}
    transfer_params: list[str] = []
    for where in (
        "__init__",
        "upload_object_via_stream",
        "upload_object",
        "download_object",
        "download_object_as_stream",
    ):
        try:
            params = inspect.signature(getattr(cls, where)).parameters
        except (AttributeError, TypeError, ValueError):
            continue
        for name in CONCURRENCY_NAMES:
            if name in params:
                default = params[name].default
                keywords.setdefault(where, {})[name] = (
                    None if default is inspect.Parameter.empty else repr(default)
                )
        if "transfer" in params:
            transfer_params.append(where)
    defaults: dict[str, Any] | None = None
    config_cls = _transfer_config_class()
    if config_cls is not None and dataclasses.is_dataclass(config_cls):
        try:
            defaults = dataclasses.asdict(config_cls())
        except Exception:  # a settings class that needs arguments: report what is known
            defaults = None
    found: dict[str, Any] = {}
    if keywords:
        found["keywords"] = keywords
    if transfer_params and defaults is not None and "concurrency" in defaults:
        found["transfer"] = {"accepted_by": transfer_params, "defaults": defaults}
    return found


class LibstoreAdapter(Adapter):
    name = "libstore"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import libstore
        from libstore import Provider, get_driver

        self._lib = libstore
        self.options = libstore_options()
        self.concurrency = variant.get("concurrency")
        self.call_kwargs: dict[str, dict[str, Any]] = {}
        self.applied: list[str] = []
        cls = get_driver(Provider.S3)

        def make(**extra: Any) -> Any:
            return cls(
                endpoint["access_key"],
                endpoint["secret_key"],
                secure=False,
                host=endpoint["host"],
                port=endpoint["port"],
                region=endpoint["region"],
                **extra,
            )

        signing = variant.get("payload_signing")
        if signing is not None:
            self.applied.append(f"driver(payload_signing={signing!r})")
        self.driver = make(**({"payload_signing": signing} if signing else {}))
        if self.concurrency is not None:
            transfer = self.options.get("transfer")
            keywords = self.options.get("keywords", {})
            current = getattr(self.driver, "transfer", None)
            if transfer and "__init__" in transfer["accepted_by"] and current is not None:
                # A driver-wide setting reaches every transfer, downloads included.
                if hasattr(current, "new"):
                    config = current.new(concurrency=self.concurrency)
                else:
                    config = dataclasses.replace(current, concurrency=self.concurrency)
                self.driver.close()
                self.driver = make(transfer=config)
                self.applied.append(
                    f"driver(transfer={type(config).__name__}(concurrency={self.concurrency}))"
                )
            elif keywords:
                ctor = keywords.get("__init__", {})
                if ctor:
                    kw = next(iter(ctor))
                    self.driver.close()
                    self.driver = make(**{kw: self.concurrency})
                    self.applied.append(f"driver({kw}={self.concurrency})")
                for call in ("upload_object_via_stream", "upload_object", "download_object"):
                    call_opts = keywords.get(call, {})
                    if call_opts and not ctor:
                        kw = next(iter(call_opts))
                        self.call_kwargs[call] = {kw: self.concurrency}
                        self.applied.append(f"{call}({kw}={self.concurrency})")
            if not self.applied:
                raise Unsupported(
                    "this libstore exposes no concurrency option (looked for a transfer= "
                    "settings object with a concurrency field and for the keywords "
                    + ", ".join(CONCURRENCY_NAMES)
                    + ")"
                )
        self._containers: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        drv = self.driver
        info: dict[str, Any] = {
            "version": getattr(self._lib, "__version__", "?"),
            "driver": type(drv).__name__,
            "applied": self.applied or "library defaults",
        }
        transfer = getattr(drv, "transfer", None)
        if transfer is not None and dataclasses.is_dataclass(transfer):
            info["transfer"] = dataclasses.asdict(transfer)
        else:
            info["part_size"] = getattr(drv, "part_size", None)
            info["concurrency"] = "no option found (serial transfers)"
        for attr in ("checksum", "sign_payloads", *CONCURRENCY_NAMES):
            if hasattr(drv, attr):
                info[attr] = getattr(drv, attr)
        http = getattr(drv, "_http", None)
        config = getattr(http, "config", None)
        if config is not None and hasattr(config, "pool_maxsize"):
            info["pool_maxsize"] = config.pool_maxsize
        return info

    def _container(self, bucket: str) -> Any:
        if bucket not in self._containers:
            self._containers[bucket] = self.driver.get_container(bucket)
        return self._containers[bucket]

    def prepare(self, bucket: str) -> None:
        self._container(bucket)

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        kw = self.call_kwargs.get("upload_object_via_stream", {})
        self.driver.upload_object_via_stream(chunks, self._container(bucket), key, **kw)

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        kw = self.call_kwargs.get("upload_object", {})
        self.driver.upload_object(str(path), self._container(bucket), key, **kw)

    def download(self, bucket: str, key: str, path: Path) -> None:
        kw = self.call_kwargs.get("download_object", {})
        obj = self.driver.get_object(bucket, key)
        self.driver.download_object(obj, str(path), overwrite_existing=True, **kw)

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        return self.driver.upload_object_via_stream(iter((data,)), self._container(bucket), key)

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        # The Object returned by the upload: libcloud's API downloads an Object.
        return b"".join(self.driver.download_object_as_stream(handle))

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return int(self.driver.get_object(bucket, key).size)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        objs = self.driver.iterate_container_objects(self._container(bucket), prefix=prefix)
        return [obj.name for obj in objs]

    def close(self) -> None:
        close = getattr(self.driver, "close", None)
        if callable(close):
            close()


class Unsupported(Exception):
    """The client cannot run this configuration (reported as SKIPPED with the reason)."""


# --------------------------------------------------------------------------- apache-libcloud


class LibcloudAdapter(Adapter):
    name = "libcloud"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import libcloud
        from libcloud.storage.providers import Provider, get_driver

        self._lib = libcloud
        cls = get_driver(Provider.S3)
        self.driver = cls(
            endpoint["access_key"],
            endpoint["secret_key"],
            secure=False,
            host=endpoint["host"],
            port=endpoint["port"],
            region=endpoint["region"],
        )
        self._containers: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        from libcloud.storage.drivers import s3

        return {
            "version": self._lib.__version__,
            "driver": type(self.driver).__name__,
            "part_size": getattr(s3, "CHUNK_SIZE", None),
            "concurrency": "serial (libcloud uploads parts one at a time)",
            "stream_upload": "multipart (libcloud S3 always uses multipart for streams)",
            "listing": "?Version=2006-03-01 dropped from list requests (SeaweedFS 501s on it)",
        }

    def _container(self, bucket: str) -> Any:
        if bucket not in self._containers:
            self._containers[bucket] = self.driver.get_container(bucket)
        return self._containers[bucket]

    def prepare(self, bucket: str) -> None:
        self._container(bucket)

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        self.driver.upload_object_via_stream(chunks, self._container(bucket), key)

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        self.driver.upload_object(str(path), self._container(bucket), key)

    def download(self, bucket: str, key: str, path: Path) -> None:
        obj = self.driver.get_object(bucket, key)
        self.driver.download_object(obj, str(path), overwrite_existing=True)

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        return self.driver.upload_object_via_stream(iter((data,)), self._container(bucket), key)

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        return b"".join(self.driver.download_object_as_stream(handle))

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return int(self.driver.get_object(bucket, key).size)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        # libcloud's SigV4 signer adds ?Version=2006-03-01 to every GET; SeaweedFS answers
        # a bucket GET carrying it with 501 NotImplemented. Drop it for listings only.
        signer = getattr(self.driver.connection, "signer", None)
        if signer is not None and not getattr(self, "_shimmed", False):
            signer.get_request_params = lambda params, method="GET", path="/": params
            self._shimmed = True
        objs = self.driver.iterate_container_objects(self._container(bucket), prefix=prefix)
        return [obj.name for obj in objs]


# --------------------------------------------------------------------------- boto3


class Boto3Adapter(Adapter):
    name = "boto3"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import boto3
        import botocore
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self._versions = {"boto3": boto3.__version__, "botocore": botocore.__version__}
        session = boto3.session.Session()
        self.client = session.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=endpoint["access_key"],
            aws_secret_access_key=endpoint["secret_key"],
            region_name=endpoint["region"],
            config=Config(s3={"addressing_style": "path"}),
        )
        self.transfer_config = TransferConfig()

    def describe(self) -> dict[str, Any]:
        tc = self.transfer_config
        info: dict[str, Any] = dict(self._versions)
        for attr in (
            "multipart_threshold",
            "multipart_chunksize",
            "max_request_concurrency",
            "max_concurrency",
            "preferred_transfer_client",
        ):
            if hasattr(tc, attr):
                info[attr] = getattr(tc, attr)
        try:
            import s3transfer

            info["s3transfer"] = s3transfer.__version__
        except ImportError:
            pass
        return info

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        self.client.upload_fileobj(IterReader(chunks), bucket, key, Config=self.transfer_config)

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        self.client.upload_file(str(path), bucket, key, Config=self.transfer_config)

    def download(self, bucket: str, key: str, path: Path) -> None:
        self.client.download_file(bucket, key, str(path), Config=self.transfer_config)

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)
        return None

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        names: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            names.extend(item["Key"] for item in page.get("Contents", ()))
        return names

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------- minio-py


class MinioAdapter(Adapter):
    name = "minio"
    #: put_object needs a part size for a stream of unknown length; S3's minimum, as
    #: minio itself picks for a 256 MiB file (fput_object's computed part size).
    STREAM_PART_SIZE = 5 * MiB

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import minio

        self._version = minio.__version__
        self.client = minio.Minio(
            f"{endpoint['host']}:{endpoint['port']}",
            access_key=endpoint["access_key"],
            secret_key=endpoint["secret_key"],
            secure=False,
            region=endpoint["region"],
        )
        params = inspect.signature(self.client.put_object).parameters
        default = params.get("num_parallel_uploads")
        self.parallel = None if default is None else default.default

    def describe(self) -> dict[str, Any]:
        return {
            "version": self._version,
            "stream_part_size": self.STREAM_PART_SIZE,
            "num_parallel_uploads": self.parallel,
            "download": "fget_object (one GET)",
        }

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        self.client.put_object(
            bucket_name=bucket,
            object_name=key,
            data=IterReader(chunks),
            length=-1,
            part_size=self.STREAM_PART_SIZE,
        )

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        self.client.fput_object(bucket_name=bucket, object_name=key, file_path=str(path))

    def download(self, bucket: str, key: str, path: Path) -> None:
        self.client.fget_object(bucket_name=bucket, object_name=key, file_path=str(path))

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        self.client.put_object(
            bucket_name=bucket, object_name=key, data=io.BytesIO(data), length=len(data)
        )
        return None

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        resp = self.client.get_object(bucket_name=bucket, object_name=key)
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return int(self.client.stat_object(bucket_name=bucket, object_name=key).size)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        objs = self.client.list_objects(bucket_name=bucket, prefix=prefix, recursive=True)
        return [obj.object_name for obj in objs]


# --------------------------------------------------------------------------- obstore


class ObstoreAdapter(Adapter):
    name = "obstore"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import obstore

        self._ob = obstore
        self._stores: dict[str, Any] = {}
        # The compiled put() exposes its defaults through a text signature; an expression
        # default (5 * 1024 * 1024) shows as "...": fall back to the documented value.
        documented = {"chunk_size": 5 * MiB, "max_concurrency": 12}
        self._put_defaults: dict[str, Any] = {}
        try:
            params = inspect.signature(obstore.put).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        for name, fallback in documented.items():
            param = params.get(name)
            value = None if param is None else param.default
            if value is None or value is Ellipsis or value is inspect.Parameter.empty:
                value = f"{fallback} (documented default)"
            self._put_defaults[name] = value

    def describe(self) -> dict[str, Any]:
        return {
            "version": getattr(self._ob, "__version__", "?"),
            "put": self._put_defaults,
            "download": "get().stream() written to a file (obstore has no download-to-file)",
        }

    def _store(self, bucket: str) -> Any:
        if bucket not in self._stores:
            from obstore.store import S3Store

            self._stores[bucket] = S3Store(
                bucket,
                endpoint=self.url,
                access_key_id=self.ep["access_key"],
                secret_access_key=self.ep["secret_key"],
                region=self.ep["region"],
                virtual_hosted_style_request=False,
                client_options={"allow_http": True},
            )
        return self._stores[bucket]

    def prepare(self, bucket: str) -> None:
        self._store(bucket)

    def stream_upload(self, bucket: str, key: str, chunks: Iterator[bytes]) -> None:
        self._ob.put(self._store(bucket), key, chunks)

    def file_upload(self, bucket: str, key: str, path: Path) -> None:
        self._ob.put(self._store(bucket), key, Path(path))

    def download(self, bucket: str, key: str, path: Path) -> None:
        result = self._ob.get(self._store(bucket), key)
        with open(path, "wb") as handle:
            for chunk in result.stream():
                handle.write(chunk)

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        self._ob.put(self._store(bucket), key, data)
        return None

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        return bytes(self._ob.get(self._store(bucket), key).bytes())

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return int(self._ob.head(self._store(bucket), key)["size"])

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        names: list[str] = []
        for batch in self._ob.list(self._store(bucket), prefix=prefix):
            names.extend(meta["path"] for meta in batch)
        return names


# --------------------------------------------------------------------------- curl


class CurlAdapter(Adapter):
    """One ``curl -T`` of the file: the server's ingest ceiling for a single stream.

    ``variant["payload"]`` is ``"signed"`` (``x-amz-content-sha256`` is the file's
    SHA-256, which the server verifies) or ``"unsigned"`` (``UNSIGNED-PAYLOAD``).
    The run is timed and its CPU/RSS taken from ``wait4`` of the curl process.
    """

    name = "curl"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        self.payload = variant.get("payload", "signed")
        self.child_rusage: Any = None
        out = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=10)
        self.version = out.stdout.split("\n", 1)[0]

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "payload": self.payload}

    def file_upload_curl(self, bucket: str, key: str, path: Path, sha256_hex: str) -> None:
        payload = sha256_hex if self.payload == "signed" else "UNSIGNED-PAYLOAD"
        argv = [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--noproxy",
            "*",
            "--max-time",
            "600",
            "--aws-sigv4",
            f"aws:amz:{self.ep['region']}:s3",
            "--user",
            f"{self.ep['access_key']}:{self.ep['secret_key']}",
            "-H",
            f"x-amz-content-sha256: {payload}",
            "-o",
            os.devnull,
            "-T",
            str(path),
            f"{self.url}/{bucket}/{key}",
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        # curl's stderr is tiny (one error line at most); wait4 gives its own rusage.
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.child_rusage = usage
        if proc.returncode != 0:
            raise RuntimeError(f"curl exited with {proc.returncode}: {err.strip()[:300]}")


# --------------------------------------------------------------------------- raw http.client


class RawHttpAdapter(Adapter):
    """Not an SDK: one persistent http.client connection, SigV4 from tests/servers.py.

    Measured on the small-request scenario only, as the floor of what pure Python
    spends per request on this machine (no retries, no error mapping, no pooling).
    """

    name = "raw-http"

    def __init__(self, endpoint: dict[str, Any], variant: dict[str, Any]) -> None:
        super().__init__(endpoint, variant)
        import s3ref

        servers = s3ref.load_servers()
        self.ref = s3ref.RefClient(servers.S3Endpoint(name="bench", **endpoint))

    def describe(self) -> dict[str, Any]:
        return {"what": "http.client + tests/servers.py sigv4_headers, one connection"}

    def put_small(self, bucket: str, key: str, data: bytes) -> Any:
        self.ref.put_bytes(bucket, key, data)
        return None

    def get_small(self, bucket: str, key: str, handle: Any) -> bytes:
        return self.ref.get_bytes(bucket, key)

    def head_small(self, bucket: str, key: str, handle: Any) -> int:
        return self.ref.head_size(bucket, key)

    def close(self) -> None:
        self.ref.close()


ADAPTERS: dict[str, type[Adapter]] = {
    "raw-http": RawHttpAdapter,
    "libstore": LibstoreAdapter,
    "boto3": Boto3Adapter,
    "libcloud": LibcloudAdapter,
    "minio": MinioAdapter,
    "obstore": ObstoreAdapter,
    "curl": CurlAdapter,
}
