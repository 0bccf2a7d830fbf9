"""The S3 driver: Amazon S3 and every S3-compatible store, signed with SigV4 on requests.

One driver class serves AWS and compatible services; endpoint, region and
addressing style are constructor arguments. Requests go through
:class:`libstore.http.HttpClient` (pooling, timeouts, retries), multipart
uploads through :mod:`libstore.transfer.multipart` (abort on every failure).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import dataclasses
import hashlib
import http.client
import itertools
import mimetypes
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, BinaryIO, ClassVar, Literal

import requests
import urllib3.exceptions
from lxml import etree

from libstore._extra import UploadOptions, parse_upload_extra
from libstore._progress import ProgressFn, ProgressTracker
from libstore._xml import child_text, child_texts, children, parse_xml
from libstore.auth import EMPTY_SHA256, UNSIGNED_PAYLOAD, Credentials
from libstore.base import Container, Object, StorageDriver
from libstore.credentials import AnonymousCredentials, CredentialProvider
from libstore.drivers._s3_access import S3AccessMixin, Signer
from libstore.drivers._s3_feature_api import S3FeaturesMixin
from libstore.drivers._s3_features import (
    DeletedObject,
    DeleteObjectsResult,
    FailedDelete,
    LifecycleRule,
    ObjectLockConfiguration,
    ObjectRetention,
    content_md5,
)
from libstore.drivers._s3_multipart import S3MultipartTarget
from libstore.drivers._s3_options import (
    CHECKSUM_ALGORITHMS,
    DSSEKMS,
    SSEKMS,
    SSES3,
    Encryption,
    NoEncryption,
    ObjectDefaults,
    ReadConditions,
    ReadOptions,
    S3WriteOptions,
    SSECustomerKey,
    bypass_governance_headers,
    check_sse_c_transport,
    copy_object_headers,
    parse_read_key,
    parse_version_id,
    read_options_of,
    record_checksums,
    remember_read_options,
    reply_checksums,
    reraise_preconditions,
    verify_checksum_stream,
    version_query,
)
from libstore.drivers._s3_protocol import (
    DNS_BUCKET_NAME,
    check_bucket_reference,
    check_key,
    encode_query,
    listing_columns,
    lowered_headers,
    map_s3_error,
    parse_http_date,
    parse_iso_date,
    parse_s3_error,
    quote_key,
    strip_etag,
    validate_bucket_name,
)
from libstore.http.events import bind_context, part_completed
from libstore.http.logs import get_logger
from libstore.http.observe import observed
from libstore.http.options import ClientOptions, driver_options
from libstore.http.retry import RetryPolicy
from libstore.http.session import Body, ErrorReply, HttpClient, HttpConfig, Reply, StreamReply
from libstore.providers import S3Preset, get_preset
from libstore.transfer.checksums import Crc32Accumulator, crc32_b64, crc32_from_b64
from libstore.transfer.chunking import iter_parts, iter_source
from libstore.transfer.config import MemoryBudget, PartSizer, TransferConfig
from libstore.transfer.journal import FileJournal, JournalState, UploadJournal
from libstore.transfer.multipart import (
    Resume,
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
    "CHECKSUM_ALGORITHMS",
    "DEFAULT_PART_SIZE",
    "DSSEKMS",
    "MIN_PART_SIZE",
    "SSEKMS",
    "SSES3",
    "DeleteObjectsResult",
    "DeletedObject",
    "FailedDelete",
    "LifecycleRule",
    "MinIOStorageDriver",
    "MultipartUploadInfo",
    "NoEncryption",
    "ObjectLockConfiguration",
    "ObjectRetention",
    "S3StorageDriver",
    "SSECustomerKey",
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
    http.client.HTTPException,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ContentDecodingError,
    OSError,
)


#: The metadata entry holding a multipart object's CRC32 on stores without checksums.
CRC32_METADATA = "libstore-crc32"

#: ``Object.extra`` entries read from a HEAD or GET reply's (lower-cased) headers.
_OBJECT_HEADER_FIELDS = (
    ("cache_control", "cache-control"),
    ("content_disposition", "content-disposition"),
    ("content_encoding", "content-encoding"),
    ("content_language", "content-language"),
    ("expires", "expires"),
    ("server_side_encryption", "x-amz-server-side-encryption"),
    ("sse_customer_algorithm", "x-amz-server-side-encryption-customer-algorithm"),
    ("version_id", "x-amz-version-id"),
    ("checksum_crc32", "x-amz-checksum-crc32"),
    ("checksum_type", "x-amz-checksum-type"),
)


class S3StorageDriver(S3AccessMixin, S3FeaturesMixin, StorageDriver):
    """Amazon S3 and S3-compatible stores.

    Args:
        key: Access key id. Without ``key``, ``secret`` and ``credentials``, the
            default credential chain of :mod:`libstore.credentials` is used (read
            lazily, on the first request).
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
        http_config: The older form of ``options`` (:class:`~libstore.http.session.HttpConfig`).
        retry_policy: Full retry policy (not with ``max_attempts``).
        options: Network and observability settings: proxies, TLS, timeouts, pool,
            user agent, retry policy and event hooks
            (:class:`~libstore.http.options.ClientOptions`). The seven arguments
            above are shortcuts for some of them and cannot be combined with it.
        transfer: Part size, concurrency and thresholds of transfers
            (:class:`~libstore.transfer.config.TransferConfig`); ``part_size`` is a
            shortcut for its ``part_size``.
        checksum: ``"crc32"`` (default): every part and single upload carries an
            ``x-amz-checksum-crc32`` the store verifies, and multipart objects get a
            whole-object CRC32; ``"md5"``: ``Content-MD5`` only, for stores without
            flexible checksums; ``"crc32c"``, ``"crc64nvme"``, ``"sha1"``, ``"sha256"``:
            Content-MD5 plus that checksum (COMPOSITE for multipart uploads but
            CRC64NVME); CRC32C and CRC64NVME need an accelerator package
            (``crc32c`` or ``awscrt``). ``extra={"checksum_algorithm": ...}`` picks one
            per upload.
        payload_signing: ``"auto"`` (default) signs payloads over plain HTTP and sends
            ``UNSIGNED-PAYLOAD`` over HTTPS (the checksum still protects the data);
            ``"always"``/``"never"`` force either.
        encryption: Default server-side encryption of every upload: :class:`SSES3`,
            :class:`SSEKMS`, :class:`DSSEKMS` or :class:`SSECustomerKey` (whose key is
            then also sent on every read), or ``"AES256"``/``"aws:kms"``/``"aws:kms:dsse"``.
            ``extra={"encryption": ...}`` overrides it per upload.
        request_payer: Send ``x-amz-request-payer: requester`` on every request, to
            access requester-pays buckets (the caller's account is charged).
        account: The account part of the preset's endpoint host: the Cloudflare
            account ID for R2, the Object Storage namespace for Oracle OCI.
        preset: The provider preset (a name of :data:`libstore.providers.PRESETS` or
            an :class:`~libstore.providers.S3Preset`); ``None`` means the class's
            (``"s3"`` here, ``"wasabi"`` for ``get_driver(Provider.WASABI)``…).
        credentials: Instead of ``key``/``secret``/``token``: a
            :class:`~libstore.auth.Credentials`, a provider (any callable returning
            ``Credentials``, e.g. :func:`libstore.credentials.default_chain` with a
            profile), or :data:`libstore.credentials.ANONYMOUS` for unsigned requests.
            Temporary credentials are refreshed before they expire, and once more when
            the store answers ``ExpiredToken``/``RequestExpired`` (the request is replayed).
        dualstack: Use Amazon S3's dual-stack (IPv4 and IPv6) endpoints.
        fips: Use Amazon S3's FIPS endpoints.
        accelerate: Use S3 Transfer Acceleration for object requests (bucket names
            must be DNS-compatible without dots; not with ``fips``).

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
        key: str | None = None,
        secret: str | None = None,
        secure: bool = True,
        host: str | None = None,
        port: int | None = None,
        region: str | None = None,
        token: str | None = None,
        *,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
        verify: bool | str | None = None,
        proxies: Mapping[str, str] | None = None,
        http_config: HttpConfig | None = None,
        retry_policy: RetryPolicy | None = None,
        options: ClientOptions | None = None,
        transfer: TransferConfig | None = None,
        checksum: Literal["crc32", "md5", "crc32c", "crc64nvme", "sha1", "sha256"] = "crc32",
        payload_signing: Literal["auto", "always", "never"] = "auto",
        encryption: Encryption | str | None = None,
        request_payer: bool = False,
        account: str | None = None,
        preset: str | S3Preset | None = None,
        credentials: Credentials | CredentialProvider | AnonymousCredentials | None = None,
        dualstack: bool = False,
        fips: bool = False,
        accelerate: bool = False,
    ) -> None:
        if host is None and self.requires_host:
            raise InvalidArgumentError(f"the {self.name} driver needs a host")
        self._init_credentials(key, secret, token, credentials)
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
        self._object_defaults = ObjectDefaults.parse(
            encryption=encryption, checksum=checksum, request_payer=request_payer
        )
        self._write_cache: dict[int, tuple[UploadOptions, S3WriteOptions]] = {}
        check_sse_c_transport(self._object_defaults.read_key(), bool(secure), self.host)
        if isinstance(checksum, str) and checksum not in ("crc32", "md5"):
            self.preset.check_checksum(checksum)  # an explicit choice the store must accept
        checksum = self._object_defaults.engine_checksum  # "sha256"…: MD5 + _s3_options
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
        self._init_access(dualstack=dualstack, fips=fips, accelerate=accelerate)
        #: The driver's network options (:class:`~libstore.http.options.ClientOptions`).
        self.options = driver_options(
            options, connect_timeout=connect_timeout, read_timeout=read_timeout,
            max_attempts=max_attempts, verify=verify, proxies=proxies,
            http_config=http_config, retry_policy=retry_policy,
        )  # fmt: skip
        #: The driver's event hooks (:class:`~libstore.http.events.EventHooks`).
        self.hooks = self.options.hooks
        if self.options.pool_maxsize < self.transfer.concurrency:
            raise InvalidArgumentError(
                f"pool_maxsize ({self.options.pool_maxsize}) is below the transfer concurrency "
                f"({self.transfer.concurrency}): parallel parts would open and drop connections"
            )
        self._http = HttpClient(self.options, parse_s3_error, driver_name=self.name)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} endpoint={self._netloc()!r} region={self.region!r} "
            f"access_key={self._describe_credentials()}>"
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
        netloc, virtual = self._endpoint_for(bucket, key is not None or bool(query))
        path = "/"
        if bucket is not None:
            if virtual:
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
        return self._request_signer(payload_hash)

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
        if self._object_defaults.request_payer:
            headers = {**(headers or {}), "x-amz-request-payer": "requester"}

        def send(url: str, sign: Signer, on_error: Callable[[ErrorReply], LibstoreError]) -> Reply:
            return self._http.request(
                method, url, headers=headers, body=body, sign=sign, on_error=on_error,
                idempotent=idempotent, error_in_body=error_in_body,
            )  # fmt: skip

        return self._send_recovering(
            send, url, payload_hash, action,
            container_name=container_name, object_name=object_name, missing=missing,
        )  # fmt: skip

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

    def create_container(self, container_name: str, *, object_lock: bool = False) -> Container:
        """Create a bucket; ``object_lock=True`` enables S3 Object Lock (and versioning) on it."""
        validate_bucket_name(container_name)
        if not isinstance(object_lock, bool):
            raise InvalidArgumentError("object_lock must be a bool")
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
            headers={"x-amz-bucket-object-lock-enabled": "true"} if object_lock else None,
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

    def get_object_cdn_url(
        self, obj: Object, ex_expiry: float | None = None, *, expires: int | None = None
    ) -> str:
        """Return a presigned GET URL for ``obj`` (the plain URL for an anonymous driver).

        Args:
            obj: The object.
            ex_expiry: Lifetime in hours, as in libcloud (default 24).
            expires: Lifetime in seconds instead (1 to 604800).

        Temporary credentials that expire first shorten the URL's lifetime, with a
        :class:`~libstore.presign.PresignExpiryWarning`; see :meth:`presign`.
        """
        return self._cdn_url(obj, ex_expiry, expires)

    # -- listing and metadata ---------------------------------------------------------------

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[Object]:
        check_bucket_reference(container.name)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a str")
        return self._iterate_objects(container, prefix or None)

    def _iterate_objects(self, container: Container, prefix: str | None) -> Iterator[Object]:
        """Page through a listing, asking for each next page while this one is consumed.

        With ListObjectsV2 the next page's request goes out (on a helper thread) as
        soon as a page's continuation token is known, so the server's time for page
        N+1 overlaps with building and consuming page N's objects. Stopping early
        costs at most that one extra page. ListObjects (v1) needs the page's last
        key first and asks only then.
        """
        v2 = self.preset.list_objects_version == 2

        def fetch(token: str | None) -> etree._Element:
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
            return parse_xml(reply.body, "object listing")

        seen_tokens: set[str] = set()

        def next_token(root: etree._Element, last_key: str | None) -> str | None:
            if (child_text(root, "IsTruncated") or "").lower() != "true":
                return None
            if v2:
                token = child_text(root, "NextContinuationToken")
            else:  # ListObjects (v1): NextMarker only comes with a delimiter
                token = child_text(root, "NextMarker") or last_key
            if not token or token in seen_tokens:
                raise ResponseError(
                    "listing is truncated but gives no new continuation token",
                    self,
                    container_name=container.name,
                )
            seen_tokens.add(token)
            return token

        pool: cf.ThreadPoolExecutor | None = None
        upcoming: cf.Future[etree._Element] | None = None
        try:
            page: etree._Element | None = fetch(None)
            while page is not None:
                token = next_token(page, None) if v2 else None
                if token is not None:
                    if pool is None:
                        pool = cf.ThreadPoolExecutor(1, thread_name_prefix="libstore-list")
                    upcoming = pool.submit(bind_context(fetch), token)
                objects = self._objects_from_listing(container, page)
                yield from objects
                if v2:
                    page, upcoming = (upcoming.result() if upcoming else None), None
                else:
                    token = next_token(page, objects[-1].name if objects else None)
                    page = fetch(token) if token is not None else None
        finally:
            if upcoming is not None:
                upcoming.cancel()
            if pool is not None:
                pool.shutdown(wait=True)  # a request in flight ends within its timeouts

    def _objects_from_listing(self, container: Container, root: etree._Element) -> list[Object]:
        """The objects of one listing page, in order.

        A page's entries normally all carry the same fields: read column by column
        (one XPath per field), that is the cheapest walk over a thousand entries.
        A page where a column has gaps (an entry without an ETag, an empty element)
        is read entry by entry instead.
        """
        columns = listing_columns(root)
        if columns is None:
            return [
                self._object_from_listing(container, item) for item in children(root, "Contents")
            ]
        keys, sizes, etags, dates, classes = columns
        parsed_dates: dict[str, datetime | None] = {}  # a page's entries share timestamps
        objects: list[Object] = []
        for index, name in enumerate(keys):
            text = dates[index]
            when = parsed_dates.get(text)
            if when is None:
                when = parsed_dates[text] = parse_iso_date(text)
            klass = classes[index] if classes is not None else None
            objects.append(
                self._listed_object(container, name, sizes[index], etags[index], when, klass)
            )
        return objects

    def _object_from_listing(self, container: Container, item: etree._Element) -> Object:
        fields = child_texts(item)  # one pass over the entry
        return self._listed_object(
            container, fields.get("Key"), fields.get("Size"), fields.get("ETag"),
            parse_iso_date(fields.get("LastModified")), fields.get("StorageClass"),
        )  # fmt: skip

    def _listed_object(
        self,
        container: Container,
        name: str | None,
        size_text: str | None,
        etag_text: str | None,
        last_modified: datetime | None,
        storage_class: str | None,
    ) -> Object:
        """An :class:`Object` from one listing entry's texts (checked here)."""
        if name is None or size_text is None or not size_text.isdigit():
            raise ResponseError("listing entry lacks a key or a size", self)
        etag = strip_etag(etag_text)
        extra: dict[str, Any] = {
            "etag": etag,
            "last_modified": last_modified,
            "storage_class": storage_class or "STANDARD",
        }
        return Object(name, int(size_text), etag, extra, {}, container, self)

    def _object_from_headers(
        self, container: Container, name: str, headers: Mapping[str, str]
    ) -> Object:
        fields = lowered_headers(headers)  # one pass; plain dict lookups below
        get = fields.get
        etag = strip_etag(get("etag"))
        extra: dict[str, Any] = {
            "etag": etag,
            "content_type": get("content-type"),
            "last_modified": parse_http_date(get("last-modified")),
            "storage_class": get("x-amz-storage-class", "STANDARD"),
        }
        for extra_name, header in _OBJECT_HEADER_FIELDS:
            value = get(header)
            if value is not None:
                extra[extra_name] = value
        meta = {k[11:]: v for k, v in fields.items() if k.startswith("x-amz-meta-")}
        size = get("content-length", "0")
        return Object(name, int(size) if size.isdigit() else 0, etag, extra, meta, container, self)

    def get_object(
        self,
        container_name: str,
        object_name: str,
        *,
        version_id: str | None = None,
        encryption: SSECustomerKey | NoEncryption | bytes | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
    ) -> Object:
        """Return one object's metadata (HEAD).

        The returned handle remembers ``version_id``, ``encryption`` and the
        conditions: downloading it sends them again (a GET of that version, with
        that SSE-C key, under those conditions).

        Args:
            container_name: The bucket.
            object_name: The key.
            version_id: A specific version instead of the current one.
            encryption: The SSE-C key of an SSE-C object (an :class:`SSECustomerKey`
                or its 32 bytes); defaults to the driver's when that is SSE-C;
                :class:`NoEncryption` sends none.
            if_match: Only if the ETag is this one (else :class:`PreconditionFailedError`).
            if_none_match: Only if the ETag is not this one (else :class:`NotModifiedError`).
            if_modified_since: Only if modified after this aware datetime (else
                :class:`NotModifiedError`).
            if_unmodified_since: Only if not modified after it (else
                :class:`PreconditionFailedError`).

        Raises:
            ContainerDoesNotExistError: There is no such bucket.
            ObjectDoesNotExistError: There is no such object (or version).
        """
        check_bucket_reference(container_name)
        check_key(object_name)
        read = ReadOptions(
            parse_version_id(version_id),
            None if encryption is None else parse_read_key(encryption, "encryption"),
            ReadConditions.parse(
                if_match=if_match,
                if_none_match=if_none_match,
                if_modified_since=if_modified_since,
                if_unmodified_since=if_unmodified_since,
            ),
        )
        check_sse_c_transport(read.effective_key(self._object_defaults), self.secure, self.host)
        container = Container(container_name, {}, self)
        try:
            reply = self._call(
                "HEAD",
                self._url(container_name, object_name, read.query()),
                f"getting object {object_name!r}",
                headers={"x-amz-checksum-mode": "ENABLED", **read.headers(self._object_defaults)},
                container_name=container_name,
                object_name=object_name,
                missing="object",
            )
        except ObjectDoesNotExistError:
            # A HEAD reply has no body to tell a missing key from a missing bucket.
            self.get_container(container_name)
            raise
        obj = self._object_from_headers(container, object_name, reply.headers)
        record_checksums(obj.extra, reply.headers)
        return remember_read_options(obj, read)

    @observed("delete")
    def delete_object(
        self,
        obj: Object,
        *,
        version_id: str | None = None,
        bypass_governance_retention: bool = False,
    ) -> bool:
        """Delete ``obj``; a version-pinned handle (or ``version_id``) deletes that version.

        Deleting a version is permanent; deleting the key of a versioned bucket
        only adds a delete marker. ``bypass_governance_retention`` deletes a version
        under a GOVERNANCE retention (given the permission).
        """
        check_bucket_reference(obj.container.name)
        check_key(obj.name)
        read = read_options_of(obj)
        version = parse_version_id(version_id) or read.version_id
        bypass = bypass_governance_headers(bypass_governance_retention)
        # S3 answers 204 for missing keys too; libcloud's contract reports them.
        if not (version and obj.extra.get("delete_marker")):  # a marker cannot be HEADed
            self.get_object(obj.container.name, obj.name, version_id=version, encryption=read.key)
        self._call(
            "DELETE",
            self._url(obj.container.name, obj.name, [("versionId", version)] if version else []),
            f"deleting object {obj.name!r}",
            headers=bypass,
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
        if options.if_match or options.if_none_match:
            self.preset.require("conditional_writes", self)
        if options.checksum_algorithm:
            self.preset.check_checksum(options.checksum_algorithm, self)
        if options.storage_class:
            result["x-amz-storage-class"] = options.storage_class
        for meta_name, value in options.meta_data.items():
            result[f"x-amz-meta-{meta_name}"] = value
        result.update(self._s3_write(options).object_headers())  # SSE, tags, object lock
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
        prepared: Mapping[str, str] | None = None,
    ) -> Object:
        """One PutObject; ``prepared``: :meth:`_upload_headers`' result, if already built."""
        send = (
            dict(prepared)
            if prepared is not None
            else self._upload_headers(object_name, options, headers)
        )
        send["Content-MD5"] = base64.b64encode(digests.md5).decode()
        send["Content-Length"] = str(size)
        if digests.crc32 is not None:
            send["x-amz-checksum-crc32"] = crc32_b64(digests.crc32)
            # What AWS SDKs send too; some stores (moto) keep the checksum only with it.
            send["x-amz-sdk-checksum-algorithm"] = "CRC32"
        self._apply_put_options(send, options, body)  # conditions, chosen checksum
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
        if digests.crc32 is not None and "x-amz-checksum-crc32" in send:
            obj.extra["checksum_crc32"] = crc32_b64(digests.crc32)
        self._uploaded(obj, options, send)
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

    @observed("upload")
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
        journal: str | os.PathLike[str] | UploadJournal | None = None,
    ) -> Object:
        """Upload a local file; files above the multipart threshold go up in parallel parts.

        ``transfer`` overrides the driver's :class:`TransferConfig` for this call.
        ``journal`` (a file path, or any :class:`UploadJournal`) makes the upload
        resumable: after a crash, the same call with the same journal skips the parts
        already stored; a failure then keeps the upload for resumption instead of
        aborting it. See :meth:`StorageDriver.upload_object` for the other arguments.
        """
        check_bucket_reference(container.name)
        check_key(object_name)
        options = parse_upload_extra(extra, s3=True)
        self._upload_headers(object_name, options, headers)  # validate headers up front
        path = os.fspath(file_path)
        config = transfer or self.transfer
        try:
            return self._upload_file(
                path, container, object_name, options, headers, verify_hash, progress, config,
                journal,
            )  # fmt: skip
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
        journal: str | os.PathLike[str] | UploadJournal | None,
    ) -> Object:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if size > max(config.multipart_threshold, config.part_size) or journal is not None:
                sizer = PartSizer(config.part_size, size_hint=size, max_parts=self.preset.max_parts)
                return self._upload_parts(
                    container, object_name, iter_source(handle, sizer.base), sizer,
                    options, headers, verify_hash, ProgressTracker(progress, size), config,
                    journal,
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

    @observed("upload")
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
        journal: str | os.PathLike[str] | UploadJournal | None = None,
    ) -> Object:
        """Upload a stream of unknown length in parallel parts with bounded memory.

        Part sizes grow along the stream so 10,000 parts reach S3's 5 TiB object
        limit; ``size_hint`` picks one size up front instead. ``transfer`` overrides
        the driver's :class:`TransferConfig` for this call. With ``journal`` the upload
        is resumable by calling it again with an iterator that replays the same bytes
        (see :meth:`upload_object`). See
        :meth:`StorageDriver.upload_object_via_stream` for the other arguments.
        """
        check_bucket_reference(container.name)
        check_key(object_name)
        options = parse_upload_extra(extra, s3=True)  # headers are checked before any read
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
            ProgressTracker(progress, size_hint), config, journal,
        )  # fmt: skip

    @reraise_preconditions  # a lost conditional completion raises PreconditionFailedError
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
        journal: str | os.PathLike[str] | UploadJournal | None = None,
    ) -> Object:
        base_headers = self._upload_headers(object_name, options, headers)
        target = S3MultipartTarget(
            self,
            container,
            object_name,
            base_headers,
            crc32=self.checksum == "crc32" and self._s3_write(options).checksum_algorithm is None,
            sign_payload=self.sign_payloads,
            options=self._s3_write(options),
        )
        resume = self._resume_plan(journal, target, sizer) if journal is not None else None
        parts = iter_parts(chunks, sizer.size_for)
        first = next(parts)
        second = next(parts, None) if len(first) == sizer.size_for(1) else None
        if second is None:
            # The whole stream fits in one part: a single PUT is cheaper and atomic.
            obj = self._put_object(
                container, object_name, first, len(first), self._digests(first),
                options, headers, verify_hash, base_headers,
            )  # fmt: skip
            progress.add(len(first))
            if resume is not None:
                if resume.state.upload_id:
                    target.abort(resume.state.upload_id)
                resume.journal.clear()
            return obj
        head = [first, second]
        del first, second  # the part pipeline owns them now: no reference may outlive it
        completed, done = upload_multipart(
            target,
            _drain_then(head, parts),
            object_name=object_name,
            concurrency=config.concurrency,
            max_parts=sizer.max_parts,
            budget=self._budget,
            next_part_size=sizer.size_for,
            progress=progress,
            resume=resume,
        )
        size = sum(part.size for part in done)
        obj = self._uploaded_object(
            container, object_name, size, completed.etag, target.headers, completed.headers
        )
        if completed.crc32 is not None:
            obj.extra["checksum_crc32"] = crc32_b64(completed.crc32)
        self._uploaded(obj, options, {})
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
        if (
            config.crc32_metadata
            and self.checksum == "md5"
            and completed.crc32 is not None
            and self._s3_write(options).checksum_algorithm is None
        ):
            obj = self._keep_crc32_in_metadata(obj, options, completed.crc32)
        return obj

    def _keep_crc32_in_metadata(self, obj: Object, options: UploadOptions, crc: int) -> Object:
        """Record a multipart object's CRC32 in its metadata, on stores without checksums.

        Such a store (``checksum="md5"``) keeps no whole-object checksum of a multipart
        upload (its ETag is not an MD5), and metadata cannot be changed after the
        upload started: the object is copied onto itself with the same headers plus
        ``x-amz-meta-libstore-crc32``, pinned to the ETag just written. Downloads
        then verify against it. Objects above the copy threshold (5 GiB) are left
        as they are, and so is the object when the copy fails: the upload itself
        succeeded. In a versioned bucket the copy adds a version.
        """
        value = crc32_b64(crc)
        obj.extra["checksum_crc32"] = value
        if obj.size > self.transfer.copy_threshold:
            return obj
        replaced = dataclasses.replace(
            options,
            meta_data={**options.meta_data, CRC32_METADATA: value},
            if_match=None,
            if_none_match=None,
        )
        try:
            copied = self._server_side_copy(obj, obj.container, obj.name, replaced, None)
        except LibstoreError as exc:
            get_logger(__name__).warning(
                "could not record the CRC32 of %r in its metadata (%s: %s); downloads of "
                "it are checked by size only",
                obj.name,
                type(exc).__name__,
                exc,
            )
            return obj
        copied.extra["checksum_crc32"] = value
        return copied

    def _resume_plan(
        self,
        journal: str | os.PathLike[str] | UploadJournal,
        target: S3MultipartTarget,
        sizer: PartSizer,
    ) -> Resume:
        """Load ``journal`` and reconcile it with the parts the store still holds."""
        store = journal if isinstance(journal, UploadJournal) else FileJournal(journal)
        try:
            state = store.load()
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), self) from exc
        name = (target.container.name, target.object_name)
        if state is not None and (state.container, state.object_name) != name:
            raise InvalidArgumentError(
                f"the journal records an upload of {state.container}/{state.object_name}, "
                f"not of {name[0]}/{name[1]}",
                self,
            )
        if state is not None and state.part_size != sizer.base:
            raise InvalidArgumentError(
                f"the journal's part size ({state.part_size}) differs from this upload's "
                f"({sizer.base}); resume with the same settings",
                self,
            )
        known: dict[int, UploadedPart] = {}
        if state is not None:
            listed = target.list_parts(state.upload_id)
            if listed is None:  # the upload was completed or aborted meanwhile
                state = None
            else:
                for number, entry in state.parts.items():
                    stored = listed.get(number)
                    if (
                        stored is not None
                        and stored.size == entry.get("size")
                        and strip_etag(stored.etag) == strip_etag(str(entry.get("etag")))
                    ):
                        known[number] = UploadedPart(
                            number, str(entry["etag"]), int(entry["size"]),
                            entry.get("md5"), entry.get("crc32"),
                        )  # fmt: skip
        if state is None:
            state = JournalState(target.container.name, target.object_name, "", sizer.base)
        return Resume(store, state, known, target.part_matches)

    def iterate_multipart_uploads(
        self, container: Container, prefix: str | None = None
    ) -> Iterator[MultipartUploadInfo]:
        """Iterate over the multipart uploads in progress in ``container`` (under ``prefix``)."""
        check_bucket_reference(container.name)
        key_marker: str | None = None
        id_marker: str | None = None
        for _ in range(100_000):
            query: list[tuple[str, str | None]] = []
            if key_marker:
                query.append(("key-marker", key_marker))
            if prefix:
                query.append(("prefix", prefix))
            if id_marker:
                query.append(("upload-id-marker", id_marker))
            query.append(("uploads", None))
            reply = self._call(
                "GET",
                self._url(container.name, query=query),
                f"listing multipart uploads of {container.name!r}",
                container_name=container.name,
                missing="container",
            )
            root = parse_xml(reply.body, "multipart upload listing")
            for item in children(root, "Upload"):
                yield MultipartUploadInfo(
                    container.name,
                    child_text(item, "Key") or "",
                    child_text(item, "UploadId") or "",
                    parse_iso_date(child_text(item, "Initiated")),
                )
            if (child_text(root, "IsTruncated") or "").lower() != "true":
                return
            key_marker = child_text(root, "NextKeyMarker")
            id_marker = child_text(root, "NextUploadIdMarker")
            if not key_marker:
                raise ResponseError("upload listing is truncated but gives no marker", self)

    def abort_multipart_uploads(
        self,
        container: Container,
        prefix: str | None = None,
        *,
        older_than: timedelta | None = None,
    ) -> int:
        """Abort stale multipart uploads under ``prefix`` and return how many were aborted.

        Args:
            container: The container to clean.
            prefix: Only uploads of keys starting with this.
            older_than: Only uploads started longer ago than this (``None``: all).
        """
        cutoff = datetime.now(UTC) - older_than if older_than is not None else None
        aborted = 0
        for upload in list(self.iterate_multipart_uploads(container, prefix)):
            if cutoff is not None and (upload.initiated is None or upload.initiated > cutoff):
                continue
            S3MultipartTarget(
                self, container, upload.object_name, {}, crc32=False, sign_payload=True
            ).abort(upload.upload_id)
            aborted += 1
        return aborted

    # -- copies -----------------------------------------------------------------------------

    @observed("copy")
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
        options = parse_upload_extra(extra, s3=True) if extra is not None else None
        if obj.size > self.transfer.copy_threshold and not self.preset.upload_part_copy:
            # No UploadPartCopy (Google): stream it through this process.
            return super().copy_object(obj, container, object_name, extra, progress=progress)
        return self._server_side_copy(obj, container, object_name, options, progress)

    def _server_side_copy(
        self,
        obj: Object,
        container: Container,
        object_name: str,
        options: UploadOptions | None,
        progress: ProgressFn | None,
    ) -> Object:
        """CopyObject or UploadPartCopy of ``obj`` (``options``: replace its metadata)."""
        headers: dict[str, str] = {
            "x-amz-copy-source": f"/{obj.container.name}/{quote_key(obj.name)}"
        }
        if options is not None:
            headers.update(self._upload_headers(object_name, options, None))
            headers["x-amz-metadata-directive"] = "REPLACE"
        if obj.hash:
            headers["x-amz-copy-source-if-match"] = f'"{obj.hash}"'
        headers.update(self._copy_option_headers(obj, options))  # version, SSE, tags
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
        copied = self.get_object(container.name, object_name, encryption=self._copy_key(options))
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
                    pool.submit(bind_context(copy_part), n, a, b)
                    for n, (a, b) in enumerate(ranges, start=1)
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

    @observed("download")
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
        current = self._refresh_object(obj)  # same version and SSE-C key
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

        whole = start == 0 and end is None
        expected_crc = self._content_crc32(current) if whole else None
        # A single-part object without a CRC32: its ETag is the MD5, which cannot be
        # combined from ranges. This thread hashes the file in order while the later
        # ranges still download (positioned reads of what was just written, from the
        # page cache), so the check costs no pass after the download.
        md5_expected = self._content_md5(current) if whole and expected_crc is None else None
        digest = hashlib.md5(usedforsecurity=False) if md5_expected is not None else None

        def fetch(bounds: tuple[int, int]) -> tuple[int, int]:
            first, last = bounds
            started = time.monotonic()
            crc = 0
            position = first - start
            for chunk in self._read_range(current, first, last, etag):
                os.pwrite(fd, chunk, position)
                position += len(chunk)
                if expected_crc is not None:
                    crc = zlib.crc32(chunk, crc)
                tracker.add(len(chunk))
            if position != last - start:
                raise ObjectHashMismatchError(
                    f"range {first}-{last} returned {position - (first - start)} bytes",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
            part_completed(
                (first - start) // step + 1, last - first, time.monotonic() - started, method="GET"
            )
            return crc, last - first

        def hash_range(first: int, last: int) -> None:
            assert digest is not None
            position = first - start
            while position < last - start:
                block = os.pread(fd, min(1024 * 1024, last - start - position), position)
                if not block:
                    break
                digest.update(block)
                position += len(block)

        with cf.ThreadPoolExecutor(config.concurrency, thread_name_prefix="libstore-get") as pool:
            futures = [pool.submit(bind_context(fetch), bounds) for bounds in ranges]
            try:
                pieces = []
                for bounds, future in zip(ranges, futures, strict=True):
                    pieces.append(future.result())
                    if digest is not None:
                        hash_range(*bounds)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
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
        elif digest is not None and digest.hexdigest() != md5_expected:
            raise ObjectHashMismatchError(
                f"MD5 of the downloaded data ({digest.hexdigest()}) does not match the "
                f"object's ({md5_expected})",
                self,
                obj.name,
                container_name=obj.container.name,
            )

    def _content_crc32(self, obj: Object) -> int | None:
        value = obj.extra.get("checksum_crc32")
        if obj.extra.get("checksum_type") == "COMPOSITE":
            return None
        if not isinstance(value, str):
            # What a store without checksums keeps of a multipart upload (see above).
            value = obj.meta_data.get(CRC32_METADATA)
            if not isinstance(value, str):
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

    @observed("download", stream=True)
    def _read_object(
        self, obj: Object, start_bytes: int, end_bytes: int | None
    ) -> Iterator[bytes | bytearray]:
        config = self.transfer
        stop = obj.size if end_bytes is None else end_bytes
        if obj.hash and config.concurrency > 1 and stop - start_bytes > config.download_threshold:
            return self._read_ahead(obj, start_bytes, stop, obj.hash)
        return self._read_range(obj, start_bytes, end_bytes, None)

    def _read_ahead(
        self, obj: Object, start: int, stop: int, etag: str
    ) -> Iterator[bytes | bytearray]:
        """Yield ``start``..``stop`` in order while up to ``concurrency`` ranges download ahead.

        Every range is pinned to ``etag``; read-ahead holds at most ``concurrency``
        ranges of ``download_part_size`` bytes.
        """
        config = self.transfer
        step = config.download_part_size
        ranges = iter([(a, min(a + step, stop)) for a in range(start, stop, step)])

        def fetch(bounds: tuple[int, int]) -> bytearray:
            # One buffer per range, filled in place: no list of chunks and no join copy.
            started = time.monotonic()
            buffer = bytearray(bounds[1] - bounds[0])
            view = memoryview(buffer)
            position = 0
            for chunk in self._read_range(obj, bounds[0], bounds[1], etag):
                view[position : position + len(chunk)] = chunk
                position += len(chunk)
            view.release()
            if position != len(buffer):
                raise ObjectHashMismatchError(
                    f"range {bounds[0]}-{bounds[1]} returned {position} bytes",
                    self,
                    obj.name,
                    container_name=obj.container.name,
                )
            part_completed(
                (bounds[0] - start) // step + 1, len(buffer), time.monotonic() - started,
                method="GET",
            )  # fmt: skip
            return buffer

        with cf.ThreadPoolExecutor(config.concurrency, thread_name_prefix="libstore-ahead") as pool:
            window: list[cf.Future[bytearray]] = []
            try:
                for bounds in itertools.islice(ranges, config.concurrency):
                    window.append(pool.submit(bind_context(fetch), bounds))
                while window:
                    data = window.pop(0).result()
                    following = next(ranges, None)
                    if following is not None:
                        window.append(pool.submit(bind_context(fetch), following))
                    yield data
            finally:
                for future in window:
                    future.cancel()

    def _read_range(
        self, obj: Object, start_bytes: int, end_bytes: int | None, if_match: str | None
    ) -> Iterator[bytes]:
        """Yield a range of ``obj``, resuming broken replies where they stopped.

        With ``if_match`` every request is pinned to that ETag; otherwise the first
        reply's ETag pins the resumed ones, so one download never mixes versions.
        """
        check_bucket_reference(obj.container.name)
        check_key(obj.name)
        url = self._read_url(obj)  # its pinned version, if any
        offset = start_bytes
        etag = if_match
        whole = start_bytes == 0 and end_bytes is None
        attempts = 0
        max_attempts = self._http.retry.max_attempts
        while True:
            headers: dict[str, str] = self._read_headers(obj)  # SSE-C, payer, conditions
            if offset or end_bytes is not None:
                last = "" if end_bytes is None else str(end_bytes - 1)
                headers["Range"] = f"bytes={offset}-{last}"
            if etag is not None:
                headers["If-Match"] = f'"{etag}"'  # resume only the same version
            elif whole:
                headers["x-amz-checksum-mode"] = "ENABLED"  # learn the whole-object checksum

            def open_get(
                url: str,
                sign: Signer,
                on_error: Callable[[ErrorReply], LibstoreError],
                headers: dict[str, str] = headers,
            ) -> StreamReply:
                return self._http.open_stream(
                    "GET", url, headers=headers, sign=sign, on_error=on_error
                )

            response = self._send_recovering(
                open_get, url, EMPTY_SHA256, f"downloading object {obj.name!r}",
                container_name=obj.container.name, object_name=obj.name, missing="object",
            )  # fmt: skip
            if etag is None:
                etag = strip_etag(response.headers.get("ETag")) or obj.hash
                if whole:
                    record_checksums(obj.extra, response.headers)  # all algorithms
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
                for chunk in response.iter_raw(READ_CHUNK_SIZE):
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
            self._http.pause_before_retry(
                attempts, method="GET", url=url, reason=f"interrupted: {type(failure).__name__}"
            )

    # -- object options: encryption, versions, tags, bulk delete, lock, lifecycle ------------
    # (header builders and XML live in _s3_options.py and _s3_features.py)

    def _s3_write(self, options: UploadOptions) -> S3WriteOptions:
        """This upload's S3 options (``extra`` over the driver's defaults), checked.

        An upload asks several times; the answer for the same (immutable) options
        object is remembered, for the last few uploads.
        """
        cached = self._write_cache.get(id(options))
        if cached is not None and cached[0] is options:
            return cached[1]
        write = S3WriteOptions.resolve(options, self._object_defaults)
        check_sse_c_transport(write.sse_customer_key, self.secure, self.host)
        if len(self._write_cache) >= 32:
            self._write_cache.clear()
        self._write_cache[id(options)] = (options, write)  # holds options: its id stays unique
        return write

    def _apply_put_options(self, send: dict[str, str], options: UploadOptions, body: Body) -> None:
        """Add a single PutObject's conditions and chosen checksum to ``send``."""
        write = self._s3_write(options)
        if write.checksum_algorithm is not None:
            send.pop("x-amz-checksum-crc32", None)  # one checksum per request
        send.update(write.put_headers(body))

    def _uploaded(self, obj: Object, options: UploadOptions, sent: Mapping[str, str]) -> Object:
        """Attach the upload's SSE-C key to the new object handle and note its checksums."""
        write = self._s3_write(options)
        for algorithm, value in reply_checksums(sent).items():
            obj.extra[f"checksum_{algorithm.lower()}"] = value
        # What was asked for, where the reply does not say: SSE-C and SSE-KMS ETags are
        # not MD5s, so the upload must not be "verified" (and deleted) against them.
        kind = write.object_headers().get("x-amz-server-side-encryption")
        if kind and kind != "AES256":
            obj.extra.setdefault("server_side_encryption", kind)
        key = write.sse_customer_key
        if key is not None:
            obj.extra.setdefault("sse_customer_algorithm", "AES256")
        return remember_read_options(obj, ReadOptions(key=key)) if key is not None else obj

    def _read_url(self, obj: Object, query: Sequence[tuple[str, str | None]] = ()) -> str:
        return self._url(obj.container.name, obj.name, [*query, *read_options_of(obj).query()])

    def _read_headers(self, obj: Object, *, conditions: bool = True) -> dict[str, str]:
        return read_options_of(obj).headers(self._object_defaults, conditions=conditions)

    def _refresh_object(self, obj: Object) -> Object:
        """HEAD ``obj`` again with its read options (version, SSE-C key), without conditions."""
        read = read_options_of(obj)
        fresh = self.get_object(
            obj.container.name, obj.name, version_id=read.version_id, encryption=read.key
        )
        return remember_read_options(fresh, ReadOptions(read.version_id, read.key))

    def _copy_option_headers(self, obj: Object, options: UploadOptions | None) -> dict[str, str]:
        """CopyObject's S3 options: source version and SSE-C key, destination SSE and tags.

        With ``options`` the destination's SSE, tags and lock headers already come from
        :meth:`_upload_headers`; tags then need ``x-amz-tagging-directive: REPLACE``.
        """
        read = read_options_of(obj)
        source_key = read.effective_key(self._object_defaults)
        check_sse_c_transport(source_key, self.secure, self.host)
        write = self._s3_write(options) if options is not None else None
        headers = copy_object_headers(
            source_key=source_key,
            encryption=None if write is not None else self._object_defaults.encryption,
            tags=dict(write.tags) if write is not None and write.tags else None,
        )
        headers.pop("x-amz-tagging", None)  # already set by _upload_headers
        if read.version_id:
            source = f"/{obj.container.name}/{quote_key(obj.name)}"
            headers["x-amz-copy-source"] = f"{source}?{version_query(read.version_id)}"
        return headers

    def _copy_key(self, options: UploadOptions | None) -> SSECustomerKey | NoEncryption:
        """The SSE-C key of a copy's destination (to HEAD it), or NoEncryption."""
        if options is not None:
            key = self._s3_write(options).sse_customer_key
        else:
            key = self._object_defaults.read_key()
        return key if key is not None else NoEncryption()

    def _verified_stream(
        self,
        obj: Object,
        start: int,
        end: int | None,
        chunk_size: int,
        progress: ProgressFn | None = None,
    ) -> Iterator[bytes]:
        stream = super()._verified_stream(obj, start, end, chunk_size, progress)
        if start != 0 or end is not None:
            return stream
        return verify_checksum_stream(stream, obj, self, skip=("CRC32",))  # base checks CRC32

    def _object_call(
        self,
        method: str,
        obj: Object,
        query: Sequence[tuple[str, str | None]],
        action: str,
        *,
        version_id: str | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A request on an object sub-resource (``?tagging``…), at its pinned or given version."""
        check_bucket_reference(obj.container.name)
        check_key(obj.name)
        version = parse_version_id(version_id) or read_options_of(obj).version_id
        send = dict(headers or {})
        if body:
            send["Content-MD5"] = content_md5(body)
        return self._call(
            method,
            self._url(
                obj.container.name,
                obj.name,
                [*query, *([("versionId", version)] if version else [])],
            ),
            f"{action} of object {obj.name!r}",
            headers=send,
            body=body,
            payload_hash=hashlib.sha256(body).hexdigest(),
            container_name=obj.container.name,
            object_name=obj.name,
            missing="object",
        )

    def _bucket_call(
        self,
        method: str,
        container: Container,
        query: Sequence[tuple[str, str | None]],
        action: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A request on a bucket sub-resource (``?versioning``, ``?lifecycle``…)."""
        check_bucket_reference(container.name)
        send = dict(headers or {})
        if body:
            send["Content-MD5"] = content_md5(body)
        return self._call(
            method,
            self._url(container.name, query=query),
            f"{action} of bucket {container.name!r}",
            headers=send,
            body=body,
            payload_hash=hashlib.sha256(body).hexdigest(),
            container_name=container.name,
            missing="container",
        )

    # tags


@dataclass(frozen=True)
class MultipartUploadInfo:
    """A multipart upload in progress (from ListMultipartUploads)."""

    container_name: str
    object_name: str
    upload_id: str
    initiated: datetime | None


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
    preset_name: ClassVar[str] = "minio"
    website: ClassVar[str] = "https://min.io/"
    requires_host: ClassVar[bool] = True


class SeaweedFSStorageDriver(S3StorageDriver):
    """SeaweedFS' S3 gateway: the S3 driver with path-style addressing against ``host``."""

    name: ClassVar[str] = "SeaweedFS"
    preset_name: ClassVar[str] = "seaweedfs"
    website: ClassVar[str] = "https://github.com/seaweedfs/seaweedfs"
    requires_host: ClassVar[bool] = True
