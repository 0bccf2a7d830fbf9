"""The S3 driver's access layer: credentials, signing, endpoints, regions and presigning.

:class:`S3AccessMixin` is a base class of :class:`~libstore.drivers.s3.S3StorageDriver`.
It owns:

* the credential source (static, a provider, the default chain, or anonymous),
  and signing every attempt with the credentials current at that moment;
* dual-stack, FIPS and Transfer Acceleration endpoints;
* the per-bucket region cache: region discovery by an unsigned ``HEAD`` on the
  bucket (``x-amz-bucket-region``), and the transparent replay of a request
  redirected to another region (301 ``PermanentRedirect``, 400
  ``AuthorizationHeaderMalformed``…);
* refreshing the credentials once and replaying a request the server answered
  with ``ExpiredToken`` or ``RequestExpired``;
* presigned URLs and browser POST policies.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from libstore.auth import Credentials, SigV4Signer
from libstore.credentials import RefreshingCredentials, StaticProvider, credentials_for_driver
from libstore.drivers._s3_endpoints import accelerate_host, aws_s3_host, parse_aws_s3_host
from libstore.drivers._s3_protocol import (
    DNS_BUCKET_NAME,
    check_bucket_reference,
    check_key,
    encode_query,
    quote_key,
)
from libstore.presign import (
    PRESIGN_METHODS,
    CredentialExpiry,
    PresignedPost,
    PresignedRequest,
    build_post_policy,
    check_expires,
    fit_expiry,
    response_override_query,
    sign_post_policy,
)
from libstore.types import InvalidArgumentError, LibstoreError

if TYPE_CHECKING:
    from libstore.base import Object
    from libstore.drivers.s3 import S3StorageDriver
    from libstore.http.session import ErrorReply

__all__ = ["EXPIRED_CREDENTIAL_CODES", "S3AccessMixin"]

_T = TypeVar("_T")

#: Error codes after which the credentials are refreshed and the request replayed once.
EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
_REDIRECT_STATUSES = frozenset({301, 302, 307})
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_SIGNER_CACHE_SIZE = 8
_REGION_CACHE_SIZE = 4096
_DISCOVERY_STATUSES = frozenset({200, 301, 302, 307, 400, 403})

Signer = Callable[[str, str, dict[str, str]], dict[str, str]]
ErrorMapper = Callable[["ErrorReply"], LibstoreError]


class S3AccessMixin:
    """Credentials, endpoints, regions and presigning of the S3 driver (see the module)."""

    _credentials: RefreshingCredentials | None
    dualstack: bool
    fips: bool
    accelerate: bool

    # -- set-up (called from S3StorageDriver.__init__) ------------------------------------------

    def _init_credentials(
        self, key: str | None, secret: str | None, token: str | None, credentials: object
    ) -> None:
        name = getattr(self, "name", "S3")
        self._credentials = credentials_for_driver(
            key, secret, token, credentials, driver_name=f"the {name} driver"
        )

    def _init_access(self, *, dualstack: bool, fips: bool, accelerate: bool) -> None:
        """Apply the endpoint options once the preset's endpoint is known."""
        driver = self._driver
        for option, value in (("dualstack", dualstack), ("fips", fips), ("accelerate", accelerate)):
            if not isinstance(value, bool):
                raise InvalidArgumentError(f"{option} must be True or False, not {value!r}")
        self.dualstack, self.fips, self.accelerate = dualstack, fips, accelerate
        self._signers: dict[tuple[Credentials, str], SigV4Signer] = {}
        self._bucket_regions: dict[str, str] = {}
        self._access_lock = threading.Lock()
        if not (dualstack or fips or accelerate):
            return
        parsed = parse_aws_s3_host(driver.host)
        if parsed is None or parsed.bucket is not None:
            raise InvalidArgumentError(
                "dualstack, fips and accelerate apply to Amazon S3's own endpoints, not to "
                f"{driver.host!r}"
            )
        if accelerate and fips:
            raise InvalidArgumentError("S3 Transfer Acceleration has no FIPS endpoint")
        if accelerate and driver.region.startswith("cn-"):
            raise InvalidArgumentError("S3 Transfer Acceleration is not offered in China regions")
        if accelerate and driver.addressing_style == "path":
            raise InvalidArgumentError(
                "S3 Transfer Acceleration needs virtual-hosted addressing, not path style"
            )
        if dualstack or fips:
            driver.host = aws_s3_host(driver.region, dualstack=dualstack, fips=fips)

    @property
    def _driver(self) -> S3StorageDriver:
        return cast("S3StorageDriver", self)

    # -- credentials and signing -----------------------------------------------------------------

    @property
    def anonymous(self) -> bool:
        """Whether requests go unsigned (``credentials=ANONYMOUS``)."""
        return self._credentials is None

    def get_credentials(self) -> Credentials | None:
        """The credentials requests are signed with now (refreshed when due); ``None``
        for an anonymous driver.

        Raises:
            NoCredentialsError: No credentials were found.
            CredentialsError: A due refresh failed.
        """
        return self._credentials() if self._credentials is not None else None

    def _describe_credentials(self) -> str:
        source = self._credentials
        if source is None:
            return "anonymous"
        current = source.current
        if current is None and isinstance(source.provider, StaticProvider):
            current = source.provider.credentials
        return repr(current.access_key) if current is not None else "'<not yet resolved>'"

    def _signer_with(self, credentials: Credentials, region: str) -> SigV4Signer:
        cache_key = (credentials, region)
        with self._access_lock:
            signer = self._signers.get(cache_key)
            if signer is None:
                if len(self._signers) >= _SIGNER_CACHE_SIZE:
                    self._signers.clear()
                signer = SigV4Signer(credentials, region, "s3")
                self._signers[cache_key] = signer
        return signer

    @property
    def _signer(self) -> SigV4Signer:
        """A signer for the current credentials and the driver's signing region."""
        credentials = self.get_credentials()
        if credentials is None:
            raise InvalidArgumentError("an anonymous driver does not sign requests")
        return self._signer_with(credentials, self._driver.signing_region)

    def _request_signer(
        self,
        payload_hash: str,
        region: str | None = None,
        used: list[Credentials] | None = None,
    ) -> Signer:
        """A signing callback for one request: each attempt takes the current credentials."""
        source = self._credentials
        signing_region = region or self._driver.signing_region

        def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
            if source is None:
                return headers
            credentials = source()
            if used is not None:
                used.append(credentials)
            signer = self._signer_with(credentials, signing_region)
            return signer.sign(method, url, headers, payload_hash=payload_hash)

        return sign

    # -- endpoints and regions -------------------------------------------------------------------

    def _fixed_signing_region(self) -> bool:
        return self._driver.preset.signing_region is not None

    def bucket_region(self, container_name: str) -> str:
        """The region requests for ``container_name`` are signed for (and sent to, on AWS):
        the one learnt from a redirect or :meth:`discover_region`, else the driver's."""
        return self._bucket_regions.get(container_name) or self._driver.signing_region

    def _remember_region(self, container_name: str, region: str) -> None:
        with self._access_lock:
            if len(self._bucket_regions) >= _REGION_CACHE_SIZE:
                self._bucket_regions.clear()
            self._bucket_regions[container_name] = region

    def _host_for_region(self, region: str) -> str:
        """The endpoint host serving ``region`` (the driver's host when it is not AWS's)."""
        driver = self._driver
        if region == driver.region:
            return driver.host
        parsed = parse_aws_s3_host(driver.host)
        if parsed is not None and parsed.bucket is None and not parsed.accelerate:
            return aws_s3_host(region, dualstack=self.dualstack, fips=self.fips)
        if driver.custom_host or driver.preset.needs_account:
            return driver.host  # a custom endpoint serves every region itself
        try:  # another preset with regional hosts (Wasabi, Scaleway…)
            return driver.preset.endpoint_for(region=region, secure=driver.secure).host
        except LibstoreError:
            return driver.host

    def _endpoint_for(self, bucket: str | None, object_level: bool) -> tuple[str, bool]:
        """``(netloc, virtual)`` for a request on ``bucket`` (``None``: the service).

        ``object_level`` requests (a key or a query) may use Transfer Acceleration;
        bucket creation and deletion never do.
        """
        driver = self._driver
        default_port = 443 if driver.secure else 80
        port = "" if driver.port in (None, default_port) else f":{driver.port}"
        if bucket is None:
            return driver.host + port, False
        if self.accelerate and object_level:
            if not DNS_BUCKET_NAME.match(bucket) or "." in bucket:
                raise InvalidArgumentError(
                    f"bucket {bucket!r} cannot use S3 Transfer Acceleration: its name must be "
                    "DNS-compatible without dots"
                )
            return accelerate_host(dualstack=self.dualstack) + port, True
        region = self._bucket_regions.get(bucket)
        host = self._host_for_region(region) if region is not None else driver.host
        return host + port, driver._virtual(bucket)

    # -- recovery: region redirects and expired credentials ---------------------------------------

    def _send_recovering(
        self,
        send: Callable[[str, Signer, ErrorMapper], _T],
        url: str,
        payload_hash: str,
        action: str,
        *,
        container_name: str | None = None,
        object_name: str | None = None,
        missing: Any = None,
    ) -> _T:
        """Send a request; replay it once after a region redirect and once after an
        expired-credentials answer (with fresh credentials)."""
        driver = self._driver
        redirected = replayed = False
        while True:
            region = (
                self.bucket_region(container_name)
                if container_name is not None
                else driver.signing_region
            )
            used: list[Credentials] = []
            errors: list[ErrorReply] = []
            mapper = driver._error_mapper(
                action, container_name=container_name, object_name=object_name, missing=missing
            )

            def on_error(
                error: ErrorReply,
                mapper: ErrorMapper = mapper,
                errors: list[ErrorReply] = errors,
            ) -> LibstoreError:
                errors.append(error)
                return mapper(error)

            try:
                return send(url, self._request_signer(payload_hash, region, used), on_error)
            except LibstoreError:
                if not errors:
                    raise
                error = errors[-1]
                if not redirected and container_name is not None:
                    # Transfer Acceleration's host is global: only a regional one moves.
                    old_netloc = self._endpoint_for(container_name, False)[0]
                    new_region = self._redirect_region(error, container_name, region)
                    if new_region is not None:
                        self._remember_region(container_name, new_region)
                        new_netloc = self._endpoint_for(container_name, False)[0]
                        url = _relocate(url, container_name, old_netloc, new_netloc)
                        redirected = True
                        continue
                source = self._credentials
                if (
                    not replayed
                    and error.code in EXPIRED_CREDENTIAL_CODES
                    and source is not None
                    and source.refreshable
                    and used
                ):
                    source.refresh(rejected=used[-1])
                    replayed = True
                    continue
                raise

    def _redirect_region(self, error: ErrorReply, container_name: str, region: str) -> str | None:
        """The bucket's region when ``error`` says the request went to the wrong one."""
        if self._fixed_signing_region():
            return None
        header = error.headers.get("x-amz-bucket-region")
        in_body = error.details.get("Region")
        redirect = (
            error.status in _REDIRECT_STATUSES
            or error.code in ("PermanentRedirect", "TemporaryRedirect")
            or (error.code == "AuthorizationHeaderMalformed" and bool(in_body or header))
            or (error.status == 400 and bool(header))
        )
        if not redirect:
            return None
        found = header or in_body
        if not found:
            try:
                found = self.discover_region(container_name, refresh=True)
            except LibstoreError:
                return None
        if not found or not _REGION.match(found) or found == region:
            return None
        return found

    def discover_region(self, container_name: str, *, refresh: bool = False) -> str | None:
        """Find (and remember) the region of a bucket.

        An unsigned ``HEAD`` on the bucket reads ``x-amz-bucket-region``, which S3
        returns whatever the answer (200, 301, 403); when the store sends no such
        header to anonymous requests, a signed ``HEAD`` is tried. The result is
        cached per bucket and used to sign (and, on AWS, address) later requests.

        Args:
            container_name: The bucket.
            refresh: Ask again even when the region is cached.

        Returns:
            The region, or ``None`` when the store does not say.

        Raises:
            ContainerDoesNotExistError: The bucket does not exist.
        """
        check_bucket_reference(container_name)
        driver = self._driver
        if not refresh:
            cached = self._bucket_regions.get(container_name)
            if cached is not None:
                return cached
        netloc, virtual = driver.host, driver._virtual(container_name)
        default_port = 443 if driver.secure else 80
        if driver.port not in (None, default_port):
            netloc += f":{driver.port}"
        scheme = "https" if driver.secure else "http"
        url = (
            f"{scheme}://{container_name}.{netloc}/"
            if virtual
            else f"{scheme}://{netloc}/{container_name}"
        )
        on_error = driver._error_mapper(
            f"finding the region of bucket {container_name!r}",
            container_name=container_name,
            missing="container",
        )
        signers: list[Signer] = [_unsigned]
        if self._credentials is not None:
            signers.append(self._request_signer(_EMPTY_SHA256, driver.signing_region))
        region: str | None = None
        for sign in signers:
            reply = driver._http.request(
                "HEAD", url, sign=sign, on_error=on_error, ok=_DISCOVERY_STATUSES
            )
            region = reply.headers.get("x-amz-bucket-region")
            if region:
                break
        if not region or not _REGION.match(region):
            return None
        if not self._fixed_signing_region():
            self._remember_region(container_name, region)
        return region

    # -- presigning ------------------------------------------------------------------------------

    def _object_url(
        self,
        bucket: str,
        key: str | None,
        query: Sequence[tuple[str, str | None]],
        endpoint_url: str | None,
    ) -> str:
        driver = self._driver
        if endpoint_url is None:
            return driver._url(bucket, key, query)
        parts = urlsplit(endpoint_url) if isinstance(endpoint_url, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            raise InvalidArgumentError(
                "endpoint_url must be scheme://host[:port] without a path, query or user, "
                f"not {endpoint_url!r}"
            )
        netloc = parts.netloc.lower()
        virtual = driver.addressing_style == "virtual" and bool(DNS_BUCKET_NAME.match(bucket))
        if virtual:
            netloc, path = f"{bucket}.{netloc}", "/"
        else:
            path = f"/{bucket}/" if key is not None else f"/{bucket}"
        if key is not None:
            path += quote_key(key)
        url = f"{parts.scheme}://{netloc}{path}"
        return f"{url}?{encode_query(query)}" if query else url

    def _signing_credentials(self) -> Credentials:
        credentials = self.get_credentials()
        if credentials is None:
            raise InvalidArgumentError(
                "an anonymous driver cannot presign; use the object's plain URL instead"
            )
        return credentials

    def presign(
        self,
        method: str,
        container_name: str,
        object_name: str,
        expires: int | timedelta = 3600,
        *,
        version_id: str | None = None,
        response_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        endpoint_url: str | None = None,
        credential_expiry: CredentialExpiry = "cap",
    ) -> PresignedRequest:
        """Presign a ``GET``, ``PUT``, ``HEAD`` or ``DELETE`` of one object.

        Args:
            method: ``GET``, ``PUT``, ``HEAD`` or ``DELETE``.
            container_name: The bucket.
            object_name: The key.
            expires: Lifetime: 1 to 604800 seconds (7 days), or a timedelta.
            version_id: Sign for one version of the object (not with ``PUT``).
            response_headers: Reply-header overrides for ``GET``/``HEAD``:
                ``content_type``, ``content_disposition``, ``content_encoding``,
                ``content_language``, ``cache_control``, ``expires``.
            headers: Headers the URL's user must send (e.g. ``Content-Type`` of a
                presigned ``PUT``); they are signed and returned in the result.
            endpoint_url: A different endpoint for the URL than the one the driver
                talks to, e.g. the public name of a store reached over a private
                network: ``https://files.example.com``. Path-style unless the driver's
                ``addressing_style`` is ``"virtual"``.
            credential_expiry: ``"cap"`` (default): when the signing credentials are
                temporary and expire first, shorten the expiry to theirs and emit a
                :class:`~libstore.presign.PresignExpiryWarning`; ``"raise"``: raise
                instead.

        Returns:
            The URL, the headers to send and when it expires. The URL carries the
            session token of temporary credentials.

        Raises:
            InvalidArgumentError: Bad input (caught before anything is signed).
        """
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in PRESIGN_METHODS:
            raise InvalidArgumentError(
                f"presign signs {sorted(PRESIGN_METHODS)}, not {method!r}; "
                "use presign_post for browser uploads"
            )
        check_bucket_reference(container_name)
        check_key(object_name)
        seconds = check_expires(expires)
        query = response_override_query(response_headers)
        if query and verb not in ("GET", "HEAD"):
            raise InvalidArgumentError("response_headers apply to GET and HEAD only")
        if version_id is not None:
            if verb == "PUT":
                raise InvalidArgumentError("version_id does not apply to PUT")
            if not isinstance(version_id, str) or not version_id:
                raise InvalidArgumentError("version_id must be a non-empty str")
            query.append(("versionId", version_id))
        send_headers = dict(headers or {})
        for name, value in send_headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidArgumentError(f"headers must be str: {name!r}: {value!r}")
            if name.lower() in ("host", "authorization"):
                raise InvalidArgumentError(f"header {name!r} is set by the signer")
        url = self._object_url(container_name, object_name, sorted(query), endpoint_url)
        credentials = self._signing_credentials()
        now = datetime.now(UTC).replace(microsecond=0)
        seconds, capped = fit_expiry(seconds, credentials, now, credential_expiry)
        signer = self._signer_with(credentials, self.bucket_region(container_name))
        signed = signer.presign(verb, url, seconds, timestamp=now, headers=send_headers)
        return PresignedRequest(
            method=verb,
            url=signed,
            headers=send_headers,
            expires_at=now + timedelta(seconds=seconds),
            capped=capped,
        )

    def presign_post(
        self,
        container_name: str,
        key: str | None = None,
        *,
        key_prefix: str | None = None,
        expires: int | timedelta = 3600,
        fields: Mapping[str, str] | None = None,
        conditions: Sequence[Mapping[str, str] | Sequence[Any]] | None = None,
        content_length_range: tuple[int, int] | None = None,
        endpoint_url: str | None = None,
        credential_expiry: CredentialExpiry = "cap",
    ) -> PresignedPost:
        """A browser upload form (S3 POST Object with a SigV4-signed policy).

        Args:
            container_name: The bucket.
            key: The object key; may end with ``${filename}`` (the uploaded file's
                name), the policy then allowing any key with that start.
            key_prefix: Instead of ``key``: allow any key starting with this.
            expires: Lifetime of the policy, 1 s to 7 days.
            fields: More form fields, each also required by the policy as is:
                ``Content-Type``, ``acl``, ``success_action_status``,
                ``x-amz-meta-*``, ``x-amz-server-side-encryption``…
            conditions: More policy conditions: ``{"field": "value"}``,
                ``["starts-with", "$Content-Type", "image/"]``, ``["eq", "$acl", "private"]``.
                A field named in a condition is not also pinned to its ``fields`` value.
            content_length_range: ``(min, max)`` bytes the upload may have.
            endpoint_url: A public endpoint for the form's URL (see :meth:`presign`).
            credential_expiry: See :meth:`presign`.

        Raises:
            InvalidArgumentError: Bad input.
        """
        check_bucket_reference(container_name)
        if key is not None:
            check_key(key)
        seconds = check_expires(expires)
        url = self._object_url(container_name, None, (), endpoint_url)
        credentials = self._signing_credentials()
        now = datetime.now(UTC).replace(microsecond=0)
        region = self.bucket_region(container_name)
        seconds, capped = fit_expiry(seconds, credentials, now, credential_expiry)
        policy, form = build_post_policy(
            bucket=container_name,
            key=key,
            key_prefix=key_prefix,
            credentials=credentials,
            region=region,
            now=now,
            expires=seconds,
            fields=fields,
            conditions=conditions,
            content_length_range=content_length_range,
        )
        encoded, signature = sign_post_policy(policy, credentials, region, now)
        form["policy"] = encoded
        form["x-amz-signature"] = signature
        return PresignedPost(
            url=url, fields=form, expires_at=now + timedelta(seconds=seconds), capped=capped
        )

    def _cdn_url(self, obj: Object, ex_expiry: float | None, expires: int | None) -> str:
        """``get_object_cdn_url``: a presigned GET, or the plain URL for anonymous drivers."""
        if ex_expiry is not None and expires is not None:
            raise InvalidArgumentError("pass ex_expiry (hours) or expires (seconds), not both")
        if expires is None:
            hours = 24.0 if ex_expiry is None else ex_expiry
            if isinstance(hours, bool) or not isinstance(hours, int | float):
                raise InvalidArgumentError(f"ex_expiry must be a number of hours, not {hours!r}")
            expires = round(hours * 3600)
        if self._credentials is None:
            check_expires(expires)
            return self._driver._url(obj.container.name, obj.name)
        return self.presign("GET", obj.container.name, obj.name, expires).url


def _unsigned(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    return headers


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _relocate(url: str, bucket: str, old: str, new: str) -> str:
    """Point ``url`` at the endpoint now serving ``bucket`` (netloc ``old`` becomes ``new``)."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    if old == new:
        return url
    if netloc == old:
        return f"{scheme}{sep}{new}{slash}{tail}"
    if netloc == f"{bucket}.{old}":
        return f"{scheme}{sep}{bucket}.{new}{slash}{tail}"
    return url
