"""The S3 driver: Amazon S3 and every S3-compatible store, signed with SigV4 on requests.

One driver class serves AWS and compatible services; endpoint, region and
addressing style are constructor arguments. Requests go through
:class:`libstore.http.HttpClient` (pooling, timeouts, retries), multipart
uploads through :mod:`libstore.transfer.multipart` (abort on every failure).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
import mimetypes
import os
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, BinaryIO, ClassVar, Literal

import requests
import urllib3.exceptions
from lxml import etree

from libstore._extra import UploadOptions, parse_upload_extra
from libstore._progress import ProgressFn, ProgressTracker
from libstore._xml import child_text, children, parse_xml
from libstore.auth import EMPTY_SHA256, UNSIGNED_PAYLOAD, Credentials, SigV4Signer
from libstore.base import Container, Object, StorageDriver
from libstore.drivers._s3_multipart import S3MultipartTarget
from libstore.drivers._s3_protocol import (
    DNS_BUCKET_NAME,
    check_bucket_reference,
    check_key,
    encode_query,
    map_s3_error,
    parse_http_date,
    parse_iso_date,
    parse_s3_error,
    quote_key,
    strip_etag,
    validate_bucket_name,
)
from libstore.http.retry import RetryPolicy
from libstore.http.session import Body, ErrorReply, HttpClient, HttpConfig, Reply
from libstore.providers import S3Preset, get_preset
from libstore.transfer.checksums import Crc32Accumulator, crc32_b64, crc32_from_b64
from libstore.transfer.chunking import iter_parts, iter_source
from libstore.transfer.config import MemoryBudget, PartSizer, TransferConfig
from libstore.transfer.multipart import (
    UploadedPart,
    multipart_etag,
    upload_multipart,
)
from libstore.types import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    InvalidArgumentError,
    LibstoreError,
    ObjectDoesNotExistError,
    ObjectHashMismatchError,
    PreconditionFailedError,
    ResponseError,
    TransportError,
)

__all__ = [
    "DEFAULT_PART_SIZE",
    "MIN_PART_SIZE",
    "MinIOStorageDriver",
    "S3StorageDriver",
    "SeaweedFSStorageDriver",
    "validate_bucket_name",
]

#: Smallest part S3 accepts (every part but the last).
MIN_PART_SIZE = 5 * 1024 * 1024
#: Largest part S3 accepts.
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
#: Default part size of multipart uploads.
DEFAULT_PART_SIZE = MIN_PART_SIZE
#: Size of the pieces read from a download reply.
READ_CHUNK_SIZE = 1024 * 1024

_STREAM_ERRORS = (
    urllib3.exceptions.HTTPError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ContentDecodingError,
    OSError,
)


class S3StorageDriver(StorageDriver):
    """Amazon S3 and S3-compatible stores.

    Args:
        key: Access key id.
        secret: Secret access key.
        secure: Use HTTPS (default ``True``).
        host: Endpoint host; ``None`` means the preset's endpoint for ``region``
            (AWS: ``s3.<region>.amazonaws.com``).
        port: Endpoint port; ``None`` means the scheme's default.
        region: The region; ``None`` means the preset's default (AWS: ``"us-east-1"``)
            or, with ``host``, the region in that host when it is the preset's.
        token: Session token of temporary credentials.
        addressing_style: ``"path"`` (``host/bucket/key``), ``"virtual"``
            (``bucket.host/key``) or ``"auto"`` (default): the preset's style (AWS:
            virtual-hosted where the bucket name allows it), path-style on any
            custom ``host``.
        part_size: Size of multipart upload parts (default 5 MiB, S3's minimum).
        connect_timeout: Seconds to wait for a connection (default 10).
        read_timeout: Seconds to wait for reply bytes (default 60).
        max_attempts: Attempts per request, retries included (default 5).
        verify: Verify TLS certificates (default ``True``) or a CA bundle path.
        proxies: Proxy URLs by scheme; ``None`` uses the environment.
        http_config: Full transport settings; overrides the four options above.
        retry_policy: Full retry policy; overrides ``max_attempts``.
        transfer: Part size, concurrency and thresholds of transfers
            (:class:`~libstore.transfer.config.TransferConfig`); ``part_size`` is a
            shortcut for its ``part_size``.
        checksum: ``"crc32"`` (default): every part and single upload carries an
            ``x-amz-checksum-crc32`` the store verifies, and multipart objects get a
            whole-object CRC32; ``"md5"``: ``Content-MD5`` only, for stores without
            flexible checksums.
        payload_signing: ``"auto"`` (default) signs payloads over plain HTTP and sends
            ``UNSIGNED-PAYLOAD`` over HTTPS (the checksum still protects the data);
            ``"always"``/``"never"`` force either.
        account: The account part of the preset's endpoint host: the Cloudflare
            account ID for R2, the Object Storage namespace for Oracle OCI.
        preset: The provider preset (a name of :data:`libstore.providers.PRESETS` or
            an :class:`~libstore.providers.S3Preset`); ``None`` means the class's
            (``"s3"`` here, ``"wasabi"`` for ``get_driver(Provider.WASABI)``…).

    Raises:
        InvalidArgumentError: An option is invalid or one the preset needs is missing.
        NotSupportedError: ``addressing_style="virtual"`` on a provider without it.
    """

    name: ClassVar[str] = "Amazon S3"
    website: ClassVar[str] = "https://aws.amazon.com/s3/"
    #: Addressing style used with a custom ``host`` under ``"auto"``.
    custom_host_addressing: ClassVar[Literal["path", "virtual"]] = "path"
    #: Whether the provider has no default endpoint, so ``host`` is required.
    requires_host: ClassVar[bool] = False
    #: Whether the store demands equal-sized parts (all but the last), as R2 does.
    equal_parts_required: ClassVar[bool] = False
    #: Name of the :mod:`libstore.providers` preset the class is bound to.
    preset_name: ClassVar[str] = "s3"

    def __init__(
        self,
        key: str,
        secret: str | None = None,
        secure: bool = True,
        host: str | None = None,
        port: int | None = None,
        region: str | None = None,
        token: str | None = None,
        *,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        verify: bool | str = True,
        proxies: Mapping[str, str] | None = None,
        http_config: HttpConfig | None = None,
        retry_policy: RetryPolicy | None = None,
        transfer: TransferConfig | None = None,
        checksum: Literal["crc32", "md5"] = "crc32",
        payload_signing: Literal["auto", "always", "never"] = "auto",
        account: str | None = None,
        preset: str | S3Preset | None = None,
    ) -> None:
        if secret is None:
            raise InvalidArgumentError(f"the {self.name} driver needs a secret key")
        if host is None and self.requires_host:
            raise InvalidArgumentError(f"the {self.name} driver needs a host")
        self._credentials = Credentials(key, secret, token)
        if addressing_style not in ("auto", "path", "virtual"):
            raise InvalidArgumentError(f"invalid addressing_style {addressing_style!r}")
        #: The provider preset: endpoint defaults and quirks (:mod:`libstore.providers`).
        self.preset = get_preset(self.preset_name if preset is None else preset)
        endpoint = self.preset.endpoint_for(
            host=host, region=region, account=account, secure=bool(secure),
            addressing_style=addressing_style,
        )  # fmt: skip
        if isinstance(part_size, bool) or not isinstance(part_size, int):
            raise InvalidArgumentError("part_size must be an int")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise InvalidArgumentError(
                f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes"
            )
        if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
            raise InvalidArgumentError(f"invalid port {port!r}")
        self.secure = bool(secure)
        self.region = endpoint.region
        self.signing_region = endpoint.signing_region
        self.custom_host = endpoint.custom_host
        self.host = endpoint.host
        if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", self.host):
            raise InvalidArgumentError(f"invalid host {self.host!r}")
        self.port = port
        self.addressing_style = addressing_style
        if checksum not in ("crc32", "md5"):
            raise InvalidArgumentError(f"invalid checksum {checksum!r}")
        if payload_signing not in ("auto", "always", "never"):
            raise InvalidArgumentError(f"invalid payload_signing {payload_signing!r}")
        if checksum == "crc32" and "CRC32" not in self.preset.checksum_algorithms:
            checksum = "md5"  # the store refuses x-amz-checksum-* headers (Google)
        self.checksum = checksum
        self.sign_payloads = payload_signing == "always" or (
            payload_signing == "auto" and not self.secure
        )
        if transfer is None:
            transfer = TransferConfig(part_size=part_size)
        elif part_size != DEFAULT_PART_SIZE and part_size != transfer.part_size:
            raise InvalidArgumentError("pass part_size either directly or in transfer, not both")
        self.transfer = transfer
        self.part_size = transfer.part_size
        self._budget = MemoryBudget(transfer.memory_limit) if transfer.memory_limit else None
        self._signer = SigV4Signer(self._credentials, self.signing_region, "s3")
        config = http_config or HttpConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify=verify,
            proxies=proxies,
        )
        self._http = HttpClient(
            config, retry_policy or RetryPolicy(max_attempts=max_attempts), parse_s3_error
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} endpoint={self._netloc()!r} region={self.region!r} "
            f"access_key={self._credentials.access_key!r}>"
        )

    def close(self) -> None:
        """Close the driver's pooled connections."""
        self._http.close()

    # -- URLs and signing -------------------------------------------------------------------

    def _netloc(self) -> str:
        default = 443 if self.secure else 80
        return self.host if self.port in (None, default) else f"{self.host}:{self.port}"

    def _virtual(self, bucket: str) -> bool:
        style = self.addressing_style
        if style == "auto":
            style = self.custom_host_addressing if self.custom_host else self.preset.addressing
        if style == "path":
            return False
        # Dotted names break TLS wildcard certificates; legacy names break DNS.
        return bool(DNS_BUCKET_NAME.match(bucket)) and not (self.secure and "." in bucket)

    def _url(
        self,
        bucket: str | None = None,
        key: str | None = None,
        query: Sequence[tuple[str, str | None]] = (),
    ) -> str:
        scheme = "https" if self.secure else "http"
        netloc = self._netloc()
        path = "/"
        if bucket is not None:
            if self._virtual(bucket):
                netloc = f"{bucket}.{netloc}"
            else:
                path = f"/{bucket}/" if key is not None else f"/{bucket}"
            if key is not None:
                path += quote_key(key)
        url = f"{scheme}://{netloc}{path}"
        return f"{url}?{encode_query(query)}" if query else url

    def _signer_for(
        self, payload_hash: str
    ) -> Callable[[str, str, dict[str, str]], dict[str, str]]:
        def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
            return self._signer.sign(method, url, headers, payload_hash=payload_hash)

        return sign

    # -- errors -----------------------------------------------------------------------------

    def _error_mapper(
        self,
        action: str,
        *,
        container_name: str | None = None,
        object_name: str | None = None,
        missing: Literal["container", "object"] | None = None,
    ) -> Callable[[ErrorReply], LibstoreError]:
        def map_error(error: ErrorReply) -> LibstoreError:
            return map_s3_error(
                self, self.region, error, action, container_name, object_name, missing
            )

        return map_error

    def _call(
        self,
        method: str,
        url: str,
        action: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        payload_hash: str = EMPTY_SHA256,
        container_name: str | None = None,
        object_name: str | None = None,
        missing: Literal["container", "object"] | None = None,
        idempotent: bool = True,
        error_in_body: bool = False,
    ) -> Reply:
        return self._http.request(
            method,
            url,
            headers=headers,
            body=body,
            sign=self._signer_for(payload_hash),
            on_error=self._error_mapper(
                action, container_name=container_name, object_name=object_name, missing=missing
            ),
            idempotent=idempotent,
            error_in_body=error_in_body,
        )

    # -- containers -------------------------------------------------------------------------

    def iterate_containers(self) -> Iterator[Container]:
        token: str | None = None
        for _ in range(100_000):
            query = [("continuation-token", token)] if token else []
            reply = self._call("GET", self._url(query=query), "listing buckets")
            root = parse_xml(reply.body, "bucket listing")
            buckets = root.find("{*}Buckets")
            for bucket in children(buckets, "Bucket") if buckets is not None else []:
                name = child_text(bucket, "Name")
                if not name:
                    raise ResponseError("bucket listing has a bucket without a name", self)
                extra = {"creation_date": parse_iso_date(child_text(bucket, "CreationDate"))}
                region = child_text(bucket, "BucketRegion")
                if region:
                    extra["region"] = region  # type: ignore[assignment]
                yield Container(name, extra, self)
            token = child_text(root, "ContinuationToken")
            if not token:
                return

    def get_container(self, container_name: str) -> Container:
        check_bucket_reference(container_name)
        reply = self._call(
            "HEAD",
            self._url(container_name),
            f"getting bucket {container_name!r}",
            container_name=container_name,
            missing="container",
        )
        extra: dict[str, Any] = {}
        region = reply.headers.get("x-amz-bucket-region")
        if region:
            extra["region"] = region
        return Container(container_name, extra, self)

    def create_container(self, container_name: str) -> Container:
        validate_bucket_name(container_name)
        if self.preset.existing_bucket == "ok":
            self._refuse_existing_bucket(container_name)
        body = b""
        constraint = self.preset.location_constraint_for(self.region)
        if constraint:
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{constraint}</LocationConstraint>"
                "</CreateBucketConfiguration>"
            ).encode()
        self._call(
            "PUT",
            self._url(container_name),
            f"creating bucket {container_name!r}",
            body=body,
            payload_hash=hashlib.sha256(body).hexdigest(),
            container_name=container_name,
        )
        return Container(container_name, {"region": self.region}, self)

    def _refuse_existing_bucket(self, container_name: str) -> None:
        """Raise if the bucket exists: the store would answer 200 to CreateBucket (AWS
        in us-east-1, Ceph) instead of a 409."""
        try:
            self.get_container(container_name)
        except ContainerDoesNotExistError:
            return
        except AccessDeniedError as exc:
            raise ContainerAlreadyExistsError(
                f"bucket {container_name!r} exists and belongs to someone else",
                self,
                container_name,
                http_status=exc.http_status,
                request_id=exc.request_id,
            ) from exc
        raise ContainerAlreadyExistsError(
            f"bucket {container_name!r} already exists", self, container_name
        )

    def delete_container(self, container: Container) -> bool:
        check_bucket_reference(container.name)
        self._call(
            "DELETE",
            self._url(container.name),
            f"deleting bucket {container.name!r}",
            container_name=container.name,
            missing="container",
        )
        return True

    def get_object_cdn_url(self, obj: Object, expires: int = 86400) -> str:
        """Return a presigned GET URL for ``obj``, valid for ``expires`` seconds (default 1 day)."""
        return self._signer.presign("GET", self._url(obj.container.name, obj.name), expires=expires)

    # -- listing and metadata ---------------------------------------------------------------

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        check_bucket_reference(container.name)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a str")
        return self._iterate_objects(container, prefix or None)

    def _iterate_objects(self, container: Container, prefix: str | None) -> Iterator[Object]:
        token: str | None = None
        seen_tokens: set[str] = set()
        v2 = self.preset.list_objects_version == 2
        while True:
            query: list[tuple[str, str | None]] = []
            if token:
                query.append(("continuation-token" if v2 else "marker", token))
            if v2:
                query.append(("list-type", "2"))
            if prefix:
                query.append(("prefix", prefix))
            reply = self._call(
                "GET",
                self._url(container.name, query=sorted(query)),
                f"listing bucket {container.name!r}",
                container_name=container.name,
                missing="container",
            )
            root = parse_xml(reply.body, "object listing")
            last_key: str | None = None
            for item in children(root, "Contents"):
                obj = self._object_from_listing(container, item)
                last_key = obj.name
                yield obj
            truncated = (child_text(root, "IsTruncated") or "").lower() == "true"
            if v2:
                token = child_text(root, "NextContinuationToken")
            else:  # ListObjects (v1): NextMarker only comes with a delimiter
                token = child_text(root, "NextMarker") or last_key
            if not truncated:
                return
            if not token or token in seen_tokens:
                raise ResponseError(
                    "listing is truncated but gives no new continuation token",
                    self,
                    container_name=container.name,
                )
            seen_tokens.add(token)

    def _object_from_listing(self, container: Container, item: etree._Element) -> Object:
        name = child_text(item, "Key")
        size_text = child_text(item, "Size")
        if name is None or size_text is None or not size_text.isdigit():
            raise ResponseError("listing entry lacks a key or a size", self)
        etag = strip_etag(child_text(item, "ETag"))
        extra: dict[str, Any] = {
            "etag": etag,
            "last_modified": parse_iso_date(child_text(item, "LastModified")),
            "storage_class": child_text(item, "StorageClass") or "STANDARD",
        }
        return Object(name, int(size_text), etag, extra, {}, container, self)

    def _object_from_headers(
        self, container: Container, name: str, headers: Mapping[str, str]
    ) -> Object:
        etag = strip_etag(headers.get("ETag"))
        extra: dict[str, Any] = {
            "etag": etag,
            "content_type": headers.get("Content-Type"),
            "last_modified": parse_http_date(headers.get("Last-Modified")),
            "storage_class": headers.get("x-amz-storage-class", "STANDARD"),
        }
        for extra_name, header in (
            ("cache_control", "Cache-Control"),
            ("content_disposition", "Content-Disposition"),
            ("content_encoding", "Content-Encoding"),
            ("content_language", "Content-Language"),
            ("expires", "Expires"),
            ("server_side_encryption", "x-amz-server-side-encryption"),
            ("sse_customer_algorithm", "x-amz-server-side-encryption-customer-algorithm"),
            ("version_id", "x-amz-version-id"),
            ("checksum_crc32", "x-amz-checksum-crc32"),
            ("checksum_type", "x-amz-checksum-type"),
        ):
            value = headers.get(header)
            if value is not None:
                extra[extra_name] = value
        meta = {
            k[len("x-amz-meta-") :].lower(): v
            for k, v in headers.items()
            if k.lower().startswith("x-amz-meta-")
        }
        size = headers.get("Content-Length", "0")
        return Object(name, int(size) if size.isdigit() else 0, etag, extra, meta, container, self)

    def get_object(self, container_name: str, object_name: str) -> Object:
        check_bucket_reference(container_name)
        check_key(object_name)
        container = Container(container_name, {}, self)
        try:
            reply = self._call(
                "HEAD",
                self._url(container_name, object_name),
                f"getting object {object_name!r}",
                headers={"x-amz-checksum-mode": "ENABLED"},
                container_name=container_name,
                object_name=object_name,
                missing="object",
            )
        except ObjectDoesNotExistError:
            # A HEAD reply has no body to tell a missing key from a missing bucket.
            self.get_container(container_name)
            raise
        return self._object_from_headers(container, object_name, reply.headers)

    def delete_object(self, obj: Object) -> bool:
        check_bucket_reference(obj.container.name)
        check_key(obj.name)
        # S3 answers 204 for missing keys too; libcloud's contract reports them.
        self.get_object(obj.container.name, obj.name)
        self._call(
            "DELETE",
            self._url(obj.container.name, obj.name),
            f"deleting object {obj.name!r}",
            container_name=obj.container.name,
            object_name=obj.name,
            missing="object",
        )
        return True

    # -- uploads ----------------------------------------------------------------------------

    def _upload_headers(
        self, object_name: str, options: UploadOptions, headers: Mapping[str, str] | None
    ) -> dict[str, str]:
        content_type = options.content_type or (
            mimetypes.guess_type(object_name)[0] or "application/octet-stream"
        )
        result = {"Content-Type": content_type}
        for name, value in options.stored_attributes().items():
            result[name.replace("_", "-").title()] = value
        if options.acl:
            self.preset.check_acl(options.acl, self)
            result["x-amz-acl"] = options.acl
        if options.storage_class:
            result["x-amz-storage-class"] = options.storage_class
        for meta_name, value in options.meta_data.items():
            result[f"x-amz-meta-{meta_name}"] = value
        if headers:
            self.preset.check_request_headers(headers, self)
            for name, value in headers.items():
                lowered = name.lower()
                if lowered in ("authorization", "host", "content-length", "content-md5"):
                    raise InvalidArgumentError(f"header {name!r} is set by the driver")
                for existing in [k for k in result if k.lower() == lowered]:
                    del result[existing]  # the caller's value wins, once
                result[name] = value
        return result

    def _put_object(
        self,
        container: Container,
        object_name: str,
        body: Body,
        size: int,
        digests: _Digests,
        options: UploadOptions,
        headers: Mapping[str, str] | None,
        verify_hash: bool,
    ) -> Object:
        send = self._upload_headers(object_name, options, headers)
        send["Content-MD5"] = base64.b64encode(digests.md5).decode()
        send["Content-Length"] = str(size)
        if digests.crc32 is not None:
            send["x-amz-checksum-crc32"] = crc32_b64(digests.crc32)
        reply = self._call(
            "PUT",
            self._url(container.name, object_name),
            f"uploading object {object_name!r}",
            headers=send,
            body=body,
            payload_hash=digests.sha256 or UNSIGNED_PAYLOAD,
            container_name=container.name,
            object_name=object_name,
            missing="container",
        )
        etag = strip_etag(reply.headers.get("ETag"))
        obj = self._uploaded_object(container, object_name, size, etag, send, reply.headers)
        if digests.crc32 is not None:
            obj.extra["checksum_crc32"] = crc32_b64(digests.crc32)
        expected = digests.md5.hex()
        if verify_hash and self._content_md5(obj) is not None and (etag or "").lower() != expected:
            self._discard_corrupt(obj, expected)
        return obj

    def _uploaded_object(
        self,
        container: Container,
        object_name: str,
        size: int,
        etag: str | None,
        sent: Mapping[str, str],
        reply_headers: Mapping[str, str],
    ) -> Object:
        extra: dict[str, Any] = {"etag": etag, "content_type": sent.get("Content-Type")}
        sse = reply_headers.get("x-amz-server-side-encryption")
        if sse:
            extra["server_side_encryption"] = sse
        meta = {k[len("x-amz-meta-") :]: v for k, v in sent.items() if k.startswith("x-amz-meta-")}
        return Object(object_name, size, etag, extra, meta, container, self)

    def _discard_corrupt(self, obj: Object, expected: str) -> None:
        """Delete an object whose checksum disagrees with what was sent, then raise."""
        error = ObjectHashMismatchError(
            f"the store's checksum of the object ({obj.hash!r}) does not match the uploaded "
            f"data ({expected}); the object was deleted",
            self,
            obj.name,
            container_name=obj.container.name,
        )
        try:
            self._call(
                "DELETE",
                self._url(obj.container.name, obj.name),
                f"deleting mismatched object {obj.name!r}",
                container_name=obj.container.name,
                object_name=obj.name,
            )
        except LibstoreError as exc:
            error.add_note(f"deleting the mismatched object failed too: {exc}")
        raise error

    def _digests(self, data: bytes | None = None) -> _Digests:
        return _Digests(
            with_crc32=self.checksum == "crc32", with_sha256=self.sign_payloads, data=data
        )

    def upload_object(
        self,
        file_path: str | os.PathLike[str],
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
        *,
        progress: ProgressFn | None = None,
        transfer: TransferConfig | None = None,
    ) -> Object:
        """Upload a local file; files above the multipart threshold go up in parallel parts.

        ``transfer`` overrides the driver's :class:`TransferConfig` for this call. See
        :meth:`StorageDriver.upload_object` for the other arguments.
        """
        check_bucket_reference(container.name)
        check_key(object_name)
        options = parse_upload_extra(extra)
        self._upload_headers(object_name, options, headers)  # validate headers up front
        path = os.fspath(file_path)
        config = transfer or self.transfer
        try:
            return self._upload_file(
                path, container, object_name, options, headers, verify_hash, progress, config
            )
        except OSError as exc:
            if isinstance(exc, LibstoreError):  # RequestTimeoutError is a TimeoutError
                raise
            raise LibstoreError(
                f"cannot read {path!r}: {exc.strerror or exc}", self, object_name=object_name
            ) from exc

    def _upload_file(
        self,
        path: str,
        container: Container,
        object_name: str,
        options: UploadOptions,
        headers: Mapping[str, str] | None,
        verify_hash: bool,
        progress: ProgressFn | None,
        config: TransferConfig,
    ) -> Object:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if size > max(config.multipart_threshold, config.part_size):
                sizer = PartSizer(config.part_size, size_hint=size, max_parts=self.preset.max_parts)
                return self._upload_parts(
                    container, object_name, iter_source(handle, sizer.base), sizer,
                    options, headers, verify_hash, ProgressTracker(progress, size), config,
                )  # fmt: skip
            digests = self._digests()
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digests.update(block)

        def reopen() -> IO[bytes]:
            return open(path, "rb")

        # requests sends an empty file object chunked: an empty body must be bytes.
        body: Body = reopen if size else b""
        obj = self._put_object(
            container, object_name, body, size, digests, options, headers, verify_hash
        )
        ProgressTracker(progress, size).add(size)
        return obj

    def upload_object_via_stream(
        self,
        iterator: Any,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        size_hint: int | None = None,
        progress: ProgressFn | None = None,
        transfer: TransferConfig | None = None,
    ) -> Object:
        """Upload a stream of unknown length in parallel parts with bounded memory.

        Part sizes grow along the stream so 10,000 parts reach S3's 5 TiB object
        limit; ``size_hint`` picks one size up front instead. ``transfer`` overrides
        the driver's :class:`TransferConfig` for this call. See
        :meth:`StorageDriver.upload_object_via_stream` for the other arguments.
        """
        check_bucket_reference(container.name)
        check_key(object_name)
        options = parse_upload_extra(extra)
        self._upload_headers(object_name, options, headers)
        if size_hint is not None and (not isinstance(size_hint, int) or size_hint < 0):
            raise InvalidArgumentError(f"size_hint must be a non-negative int, not {size_hint!r}")
        config = transfer or self.transfer
        sizer = PartSizer(
            config.part_size,
            size_hint=size_hint,
            equal_parts=self.equal_parts_required or self.preset.equal_part_sizes,
            max_parts=self.preset.max_parts,
        )
        return self._upload_parts(
            container, object_name, iter_source(iterator), sizer, options, headers, True,
            ProgressTracker(progress, size_hint), config,
        )  # fmt: skip

    def _upload_parts(
        self,
        container: Container,
        object_name: str,
        chunks: Iterator[Any],
        sizer: PartSizer,
        options: UploadOptions,
        headers: Mapping[str, str] | None,
        verify_hash: bool,
        progress: ProgressTracker,
        config: TransferConfig,
    ) -> Object:
        parts = iter_parts(chunks, sizer.size_for)
        first = next(parts)
        second = next(parts, None) if len(first) == sizer.size_for(1) else None
        if second is None:
            # The whole stream fits in one part: a single PUT is cheaper and atomic.
            obj = self._put_object(
                container, object_name, first, len(first), self._digests(first),
                options, headers, verify_hash,
            )  # fmt: skip
            progress.add(len(first))
            return obj
        head = [first, second]
        del first, second  # the part pipeline owns them now: no reference may outlive it
        target = S3MultipartTarget(
            self,
            container,
            object_name,
            self._upload_headers(object_name, options, headers),
            crc32=self.checksum == "crc32",
            sign_payload=self.sign_payloads,
        )
        completed, done = upload_multipart(
            target,
            _drain_then(head, parts),
            object_name=object_name,
            concurrency=config.concurrency,
            max_parts=sizer.max_parts,
            budget=self._budget,
            next_part_size=sizer.size_for,
            progress=progress,
        )
        size = sum(part.size for part in done)
        obj = self._uploaded_object(
            container, object_name, size, completed.etag, target.headers, completed.headers
        )
        if completed.crc32 is not None:
            obj.extra["checksum_crc32"] = crc32_b64(completed.crc32)
        if verify_hash:
            store_crc = crc32_from_b64(completed.store_crc32) if completed.store_crc32 else None
            expected_etag = multipart_etag(done)
            if completed.crc32 is not None and store_crc is not None:
                if store_crc != completed.crc32:
                    self._discard_corrupt(obj, crc32_b64(completed.crc32))
            elif (
                expected_etag is not None
                and completed.etag
                and "-" in completed.etag
                and completed.etag.lower() != expected_etag
            ):
                self._discard_corrupt(obj, expected_etag)
        return obj

    # -- copies -----------------------------------------------------------------------------

    def copy_object(
        self,
        obj: Object,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Object:
        """Copy ``obj`` server-side: CopyObject up to 5 GiB, parallel UploadPartCopy above.

        With ``extra=None`` the copy keeps the source's metadata and content type;
        otherwise they are replaced by ``extra``. An object of another driver is
        streamed through this process instead (bounded memory).
        """
        if not isinstance(obj.driver, S3StorageDriver) or obj.driver._netloc() != self._netloc():
            return super().copy_object(obj, container, object_name, extra, progress=progress)
        check_bucket_reference(container.name)
        check_key(object_name)
        options = parse_upload_extra(extra) if extra is not None else None
        headers: dict[str, str] = {
            "x-amz-copy-source": f"/{obj.container.name}/{quote_key(obj.name)}"
        }
        if options is not None:
            headers.update(self._upload_headers(object_name, options, None))
            headers["x-amz-metadata-directive"] = "REPLACE"
        if obj.hash:
            headers["x-amz-copy-source-if-match"] = f'"{obj.hash}"'
        if obj.size > self.transfer.copy_threshold:
            result = self._copy_in_parts(obj, container, object_name, headers)
        else:
            reply = self._call(
                "PUT",
                self._url(container.name, object_name),
                f"copying {obj.name!r} to {object_name!r}",
                headers=headers,
                container_name=container.name,
                object_name=object_name,
                missing="object",
                error_in_body=True,
            )
            result = strip_etag(child_text(parse_xml(reply.body, "copy reply"), "ETag"))
        ProgressTracker(progress, obj.size).add(obj.size)
        copied = self.get_object(container.name, object_name)
        if result and copied.hash and copied.hash != result:
            raise PreconditionFailedError(
                f"{object_name!r} changed while it was being copied", self, object_name=object_name
            )
        return copied

    def _copy_in_parts(
        self, obj: Object, container: Container, object_name: str, headers: Mapping[str, str]
    ) -> str | None:
        create = {k: v for k, v in headers.items() if not k.startswith("x-amz-copy-source")}
        create.pop("x-amz-metadata-directive", None)
        if "x-amz-metadata-directive" not in headers:
            # CreateMultipartUpload cannot copy metadata: carry the source's over by hand.
            source = self.get_object(obj.container.name, obj.name)
            create["Content-Type"] = source.extra.get("content_type") or "binary/octet-stream"
            for name, value in source.meta_data.items():
                create[f"x-amz-meta-{name}"] = value
        target = S3MultipartTarget(
            self, container, object_name, create, crc32=False, sign_payload=True
        )
        source_headers = {k: v for k, v in headers.items() if k.startswith("x-amz-copy-source")}
        step = self.transfer.copy_part_size
        ranges = [(a, min(a + step, obj.size)) for a in range(0, obj.size, step)]
        upload_id = target.initiate()

        def copy_part(number: int, first: int, last: int) -> UploadedPart:
            reply = self._call(
                "PUT",
                target._url([("partNumber", str(number)), ("uploadId", upload_id)]),
                f"copying part {number} of {object_name!r}",
                headers={**source_headers, "x-amz-copy-source-range": f"bytes={first}-{last - 1}"},
                container_name=container.name,
                object_name=object_name,
                error_in_body=True,
            )
            etag = child_text(parse_xml(reply.body, "part copy reply"), "ETag")
            if not etag:
                raise ResponseError(f"part copy {number} reply has no ETag", self)
            return UploadedPart(number, etag, last - first)

        try:
            with cf.ThreadPoolExecutor(self.transfer.concurrency) as pool:
                futures = [
                    pool.submit(copy_part, n, a, b) for n, (a, b) in enumerate(ranges, start=1)
                ]
                try:
                    parts = [future.result() for future in futures]
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
            return target.complete(upload_id, parts).etag
        except BaseException as exc:
            try:
                target.abort(upload_id)
            except LibstoreError as abort_exc:
                exc.add_note(f"aborting the copy's multipart upload failed too: {abort_exc}")
            raise

    # -- downloads --------------------------------------------------------------------------

    def _download_into(
        self,
        handle: BinaryIO,
        obj: Object,
        start: int,
        end: int | None,
        progress: ProgressFn | None,
    ) -> None:
        """Download large ranges as parallel ranged GETs written in place; verify the result."""
        config = self.transfer
        stop = obj.size if end is None else end
        if stop - start <= config.download_threshold or config.concurrency < 2:
            super()._download_into(handle, obj, start, end, progress)
            return
        # Pin one version: every range asks for the ETag seen now, so a change in the
        # middle of the download is an error (412), never a file mixing two versions.
        current = self.get_object(obj.container.name, obj.name)
        changed = bool(obj.hash and current.hash and current.hash != obj.hash)
        if changed or current.size != obj.size:
            raise PreconditionFailedError(
                f"object {obj.name!r} changed since it was listed (ETag {obj.hash} -> "
                f"{current.hash}); fetch it again",
                self,
                container_name=obj.container.name,
                object_name=obj.name,
            )
        etag = current.hash
        step = config.download_part_size
        ranges = [(a, min(a + step, stop)) for a in range(start, stop, step)]
        tracker = ProgressTracker(progress, stop - start)
        handle.truncate(stop - start)
        fd = handle.fileno()

        def fetch(bounds: tuple[int, int]) -> tuple[int, int]:
            first, last = bounds
            crc = 0
            position = first - start
            for chunk in self._read_range(current, first, last, etag):
                os.pwrite(fd, chunk, position)
                position += len(chunk)
                crc = zlib.crc32(chunk, crc)
                tracker.add(len(chunk))
            if position != last - start:
                raise ObjectHashMismatchError(
                    f"range {first}-{last} returned {position - (first - start)} bytes",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
            return crc, last - first

        with cf.ThreadPoolExecutor(config.concurrency, thread_name_prefix="libstore-get") as pool:
            futures = [pool.submit(fetch, bounds) for bounds in ranges]
            try:
                pieces = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        whole = start == 0 and end is None
        expected_crc = self._content_crc32(current) if whole else None
        if expected_crc is not None:
            crc = Crc32Accumulator().add_all(pieces)
            if crc != expected_crc:
                raise ObjectHashMismatchError(
                    f"CRC32 of the downloaded data ({crc:08x}) does not match the object's "
                    f"({expected_crc:08x})",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
        elif whole and (md5_expected := self._content_md5(current)) is not None:
            # A single-part object without a CRC32: its ETag is the MD5, which cannot be
            # combined from ranges, so the file is read back once (from the page cache).
            handle.flush()
            digest = hashlib.md5(usedforsecurity=False)
            with open(fd, "rb", closefd=False) as reread:
                reread.seek(0)
                for block in iter(lambda: reread.read(1024 * 1024), b""):
                    digest.update(block)
            if digest.hexdigest() != md5_expected:
                raise ObjectHashMismatchError(
                    f"MD5 of the downloaded data ({digest.hexdigest()}) does not match the "
                    f"object's ({md5_expected})",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )

    def _content_crc32(self, obj: Object) -> int | None:
        value = obj.extra.get("checksum_crc32")
        if not isinstance(value, str) or obj.extra.get("checksum_type") == "COMPOSITE":
            return None
        return crc32_from_b64(value)

    def _content_md5(self, obj: Object) -> str | None:
        etag = obj.hash
        if not etag or len(etag) != 32 or not all(c in "0123456789abcdef" for c in etag.lower()):
            return None  # a multipart ETag ("...-N") or a provider-specific one
        if obj.extra.get("server_side_encryption") in ("aws:kms", "aws:kms:dsse"):
            return None  # SSE-KMS ETags are not content MD5s
        if obj.extra.get("sse_customer_algorithm"):
            return None
        return etag.lower()

    def _read_object(self, obj: Object, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        return self._read_range(obj, start_bytes, end_bytes, None)

    def _read_range(
        self, obj: Object, start_bytes: int, end_bytes: int | None, if_match: str | None
    ) -> Iterator[bytes]:
        """Yield a range of ``obj``, resuming broken replies where they stopped.

        With ``if_match`` every request is pinned to that ETag; otherwise the first
        reply's ETag pins the resumed ones, so one download never mixes versions.
        """
        check_bucket_reference(obj.container.name)
        check_key(obj.name)
        url = self._url(obj.container.name, obj.name)
        offset = start_bytes
        etag = if_match
        whole = start_bytes == 0 and end_bytes is None
        attempts = 0
        max_attempts = self._http.retry.max_attempts
        while True:
            headers: dict[str, str] = {}
            if offset or end_bytes is not None:
                last = "" if end_bytes is None else str(end_bytes - 1)
                headers["Range"] = f"bytes={offset}-{last}"
            if etag is not None:
                headers["If-Match"] = f'"{etag}"'  # resume only the same version
            elif whole:
                headers["x-amz-checksum-mode"] = "ENABLED"  # learn the whole-object checksum
            response = self._http.open_stream(
                "GET",
                url,
                headers=headers,
                sign=self._signer_for(EMPTY_SHA256),
                on_error=self._error_mapper(
                    f"downloading object {obj.name!r}",
                    container_name=obj.container.name,
                    object_name=obj.name,
                    missing="object",
                ),
            )
            if etag is None:
                etag = strip_etag(response.headers.get("ETag")) or obj.hash
                for name, header in (
                    ("server_side_encryption", "x-amz-server-side-encryption"),
                    ("checksum_crc32", "x-amz-checksum-crc32"),
                    ("checksum_type", "x-amz-checksum-type"),
                ):
                    value = response.headers.get(header)
                    if value:
                        obj.extra[name] = value
            content_range = response.headers.get("Content-Range")
            if headers.get("Range") and (
                response.status_code != 206
                or (content_range is not None and not content_range.startswith(f"bytes {offset}-"))
            ):
                response.close()
                raise ResponseError(
                    f"the server did not honour the Range header (bytes={offset}-)",
                    self,
                    object_name=obj.name,
                )
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            received = 0
            try:
                # Raw bytes as stored: a Content-Encoding (gzip…) is the object's, not ours
                # to undo, and decoding would break the size and MD5 checks.
                for chunk in response.raw.stream(READ_CHUNK_SIZE, decode_content=False):
                    if chunk:
                        received += len(chunk)
                        offset += len(chunk)
                        yield chunk
                if expected is None or received >= expected:
                    return
                failure: BaseException = ResponseError("reply body ended early", self)
            except _STREAM_ERRORS as exc:
                failure = exc
            finally:
                response.close()
            attempts += 1
            if attempts >= max_attempts:
                raise TransportError(
                    f"downloading object {obj.name!r} failed after {attempts} interrupted "
                    f"attempts at byte {offset}: {type(failure).__name__}",
                    self,
                    container_name=obj.container.name,
                    object_name=obj.name,
                ) from failure
            self._http._sleep(self._http.retry.backoff(attempts))


def _drain_then(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the parts in ``head`` (forgetting each as it goes), then those of ``rest``."""
    while head:
        yield head.pop(0)
    yield from rest


class _Digests:
    """The digests of one single-PUT body, computed in one pass."""

    def __init__(self, *, with_crc32: bool, with_sha256: bool, data: bytes | None = None) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha = hashlib.sha256() if with_sha256 else None
        self._crc: int | None = 0 if with_crc32 else None
        if data is not None:
            self.update(data)

    def update(self, data: bytes) -> None:
        self._md5.update(data)
        if self._sha is not None:
            self._sha.update(data)
        if self._crc is not None:
            self._crc = zlib.crc32(data, self._crc)

    @property
    def md5(self) -> bytes:
        return self._md5.digest()

    @property
    def sha256(self) -> str | None:
        return self._sha.hexdigest() if self._sha is not None else None

    @property
    def crc32(self) -> int | None:
        return self._crc


class MinIOStorageDriver(S3StorageDriver):
    """MinIO: the S3 driver with path-style addressing against ``host`` (required)."""

    name: ClassVar[str] = "MinIO"
    website: ClassVar[str] = "https://min.io/"
    requires_host: ClassVar[bool] = True


class SeaweedFSStorageDriver(S3StorageDriver):
    """SeaweedFS' S3 gateway: the S3 driver with path-style addressing against ``host``."""

    name: ClassVar[str] = "SeaweedFS"
    website: ClassVar[str] = "https://github.com/seaweedfs/seaweedfs"
    requires_host: ClassVar[bool] = True
