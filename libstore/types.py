"""Provider names and the exception tree shared by every driver.

Every exception libstore raises on purpose derives from :class:`LibstoreError`::

    LibstoreError
    ├── TransportError                 network failure after retries (reset, refused, timeout)
    │   └── RequestTimeoutError        connect/read timeout (also a builtin TimeoutError)
    ├── ResponseError                  a reply libstore cannot understand (malformed or hostile XML)
    ├── AccessDeniedError              403: the caller may not do this (never "does not exist")
    │   └── InvalidCredsError          the server rejected the credentials or the signature
    ├── RateLimitReachedError          429 / SlowDown that outlived the retries
    ├── ServerError                    5xx that outlived the retries
    ├── PreconditionFailedError        412 / a conditional request that did not hold
    │   └── NotModifiedError           304: a conditional read found the object unchanged
    ├── NotSupportedError              the provider lacks this feature (also NotImplementedError)
    ├── InvalidRangeError              a bad byte range (also ValueError)
    ├── InvalidArgumentError           a bad argument or ``extra`` value (also ValueError)
    ├── ContainerError
    │   ├── ContainerDoesNotExistError
    │   ├── ContainerAlreadyExistsError
    │   ├── ContainerIsNotEmptyError
    │   └── InvalidContainerNameError  (also ValueError)
    └── ObjectError
        ├── ObjectDoesNotExistError
        ├── ObjectHashMismatchError
        ├── InvalidObjectNameError     (also ValueError)
        └── MultipartUploadError       a multipart upload failed and was aborted

Each exception carries structured fields besides its message: ``driver``,
``container_name``, ``object_name``, ``http_status``, ``code`` (the provider's
error code, e.g. ``NoSuchKey``), ``request_id`` and ``host_id``. None of them may
ever hold a secret.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "AccessDeniedError",
    "ContainerAlreadyExistsError",
    "ContainerDoesNotExistError",
    "ContainerError",
    "ContainerIsNotEmptyError",
    "InvalidArgumentError",
    "InvalidContainerNameError",
    "InvalidCredsError",
    "InvalidObjectNameError",
    "InvalidRangeError",
    "LibstoreError",
    "MultipartUploadError",
    "NotModifiedError",
    "NotSupportedError",
    "ObjectDoesNotExistError",
    "ObjectError",
    "ObjectHashMismatchError",
    "PreconditionFailedError",
    "Provider",
    "RateLimitReachedError",
    "RequestTimeoutError",
    "ResponseError",
    "ServerError",
    "TransportError",
]


class Provider:
    """Names of the bundled drivers, as accepted by :func:`libstore.get_driver`.

    The values are plain strings so third-party drivers can register names of
    their own next to these. Every S3-compatible name is an entry of
    :data:`libstore.providers.PRESETS`; libcloud's per-region Amazon S3 names
    (``S3_EU_WEST``, ``S3_US_WEST_OREGON``…) are kept and bind the driver's region.
    """

    #: Amazon S3 (and any S3-compatible endpoint given by ``host``).
    S3: Final = "s3"
    #: MinIO: the S3 driver with path-style addressing against ``host``.
    MINIO: Final = "minio"
    #: SeaweedFS' S3 gateway: the S3 driver with path-style addressing against ``host``.
    SEAWEEDFS: Final = "seaweedfs"
    #: Containers as directories under a base path: the embedded default, no account needed.
    LOCAL: Final = "local"

    # S3-compatible services: presets of the S3 driver (see libstore.providers).
    #: Ceph Object Gateway (RGW); pass ``host``.
    CEPH: Final = "ceph"
    #: libcloud's name for Ceph RGW (same as :attr:`CEPH`).
    S3_RGW: Final = "s3_rgw"
    #: Cloudflare R2; pass ``account`` (your account ID).
    CLOUDFLARE_R2: Final = "cloudflare_r2"
    #: Backblaze B2 through its S3-compatible API; pass ``region``.
    BACKBLAZE_B2: Final = "backblaze_b2"
    #: Wasabi.
    WASABI: Final = "wasabi"
    #: DigitalOcean Spaces.
    DIGITALOCEAN_SPACES: Final = "digitalocean_spaces"
    #: Scaleway Object Storage.
    SCALEWAY: Final = "scaleway"
    #: OVHcloud Object Storage.
    OVHCLOUD: Final = "ovhcloud"
    #: Akamai (Linode) Object Storage.
    LINODE: Final = "linode"
    #: IBM Cloud Object Storage (HMAC credentials).
    IBM_COS: Final = "ibm_cos"
    #: Oracle Cloud Object Storage's S3 compatibility API; pass ``account`` (the
    #: Object Storage namespace) and ``region``.
    ORACLE_OCI: Final = "oracle_oci"
    #: Exoscale Simple Object Storage.
    EXOSCALE: Final = "exoscale"
    #: Google Cloud Storage through its XML API with HMAC keys.
    GOOGLE_STORAGE: Final = "google_storage"

    # Amazon S3 bound to one region (libcloud's per-region providers).
    S3_US_EAST_1: Final = "s3_us_east_1"
    S3_US_EAST_2: Final = "s3_us_east_2"
    S3_US_WEST_1: Final = "s3_us_west_1"
    S3_US_WEST_2: Final = "s3_us_west_2"
    S3_AF_SOUTH_1: Final = "s3_af_south_1"
    S3_AP_EAST_1: Final = "s3_ap_east_1"
    S3_AP_EAST_2: Final = "s3_ap_east_2"
    S3_AP_SOUTH_1: Final = "s3_ap_south_1"
    S3_AP_SOUTH_2: Final = "s3_ap_south_2"
    S3_AP_SOUTHEAST_1: Final = "s3_ap_southeast_1"
    S3_AP_SOUTHEAST_2: Final = "s3_ap_southeast_2"
    S3_AP_SOUTHEAST_3: Final = "s3_ap_southeast_3"
    S3_AP_SOUTHEAST_4: Final = "s3_ap_southeast_4"
    S3_AP_SOUTHEAST_5: Final = "s3_ap_southeast_5"
    S3_AP_SOUTHEAST_6: Final = "s3_ap_southeast_6"
    S3_AP_SOUTHEAST_7: Final = "s3_ap_southeast_7"
    S3_AP_NORTHEAST_1: Final = "s3_ap_northeast_1"
    S3_AP_NORTHEAST_2: Final = "s3_ap_northeast_2"
    S3_AP_NORTHEAST_3: Final = "s3_ap_northeast_3"
    S3_CA_CENTRAL_1: Final = "s3_ca_central_1"
    S3_CA_WEST_1: Final = "s3_ca_west_1"
    S3_EU_CENTRAL_1: Final = "s3_eu_central_1"
    S3_EU_CENTRAL_2: Final = "s3_eu_central_2"
    S3_EU_WEST_1: Final = "s3_eu_west_1"
    S3_EU_WEST_2: Final = "s3_eu_west_2"
    S3_EU_WEST_3: Final = "s3_eu_west_3"
    S3_EU_SOUTH_1: Final = "s3_eu_south_1"
    S3_EU_SOUTH_2: Final = "s3_eu_south_2"
    S3_EU_NORTH_1: Final = "s3_eu_north_1"
    S3_IL_CENTRAL_1: Final = "s3_il_central_1"
    S3_ME_SOUTH_1: Final = "s3_me_south_1"
    S3_ME_CENTRAL_1: Final = "s3_me_central_1"
    S3_MX_CENTRAL_1: Final = "s3_mx_central_1"
    S3_SA_EAST_1: Final = "s3_sa_east_1"
    S3_US_GOV_EAST_1: Final = "s3_us_gov_east_1"
    S3_US_GOV_WEST_1: Final = "s3_us_gov_west_1"
    S3_CN_NORTH_1: Final = "s3_cn_north_1"
    S3_CN_NORTHWEST_1: Final = "s3_cn_northwest_1"
    # libcloud's historical spellings of some of them.
    S3_US_WEST: Final = "s3_us_west"  # us-west-1
    S3_US_WEST_OREGON: Final = "s3_us_west_oregon"  # us-west-2
    S3_US_GOV_WEST: Final = "s3_us_gov_west"  # us-gov-west-1
    S3_CN_NORTH: Final = "s3_cn_north"  # cn-north-1
    S3_CN_NORTHWEST: Final = "s3_cn_northwest"  # cn-northwest-1
    S3_EU_WEST: Final = "s3_eu_west"  # eu-west-1
    S3_EU_CENTRAL: Final = "s3_eu_central"  # eu-central-1
    S3_AP_SOUTH: Final = "s3_ap_south"  # ap-south-1
    S3_AP_SOUTHEAST: Final = "s3_ap_southeast"  # ap-southeast-1
    S3_AP_SOUTHEAST2: Final = "s3_ap_southeast2"  # ap-southeast-2
    S3_AP_NORTHEAST: Final = "s3_ap_northeast"  # ap-northeast-1
    S3_SA_EAST: Final = "s3_sa_east"  # sa-east-1
    S3_CA_CENTRAL: Final = "s3_ca_central"  # ca-central-1
    S3_US_EAST2: Final = "s3_us_east_2"
    S3_EU_WEST2: Final = "s3_eu_west_2"
    S3_EU_NORTH1: Final = "s3_eu_north_1"
    S3_AP_NORTHEAST1: Final = "s3_ap_northeast_1"
    S3_AP_NORTHEAST2: Final = "s3_ap_northeast_2"


class LibstoreError(Exception):
    """Base class of every error libstore raises on purpose.

    Args:
        value: Human-readable message.
        driver: The driver that raised the error, if any.
        container_name: The container concerned, if any.
        object_name: The object concerned, if any.
        http_status: The HTTP status of the reply that caused the error.
        code: The provider's error code (``NoSuchBucket``, ``AccessDenied``…).
        request_id: The provider's request id, for support tickets.
        host_id: The provider's extended request id (S3's ``x-amz-id-2``).
    """

    def __init__(
        self,
        value: str = "",
        driver: Any = None,
        *,
        container_name: str | None = None,
        object_name: str | None = None,
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        host_id: str | None = None,
    ) -> None:
        super().__init__(value)
        self.value = value
        self.driver = driver
        self.container_name = container_name
        self.object_name = object_name
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.host_id = host_id

    @property
    def error_type(self) -> str:
        """The exception's class name (libcloud kept this as a hand-copied string)."""
        return type(self).__name__

    def _context(self) -> list[str]:
        parts: list[str] = []
        if self.container_name is not None:
            parts.append(f"container={self.container_name!r}")
        if self.object_name is not None:
            parts.append(f"object={self.object_name!r}")
        if self.http_status is not None:
            parts.append(f"status={self.http_status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return parts

    def __str__(self) -> str:
        context = self._context()
        if not context:
            return self.value
        return f"{self.value} ({', '.join(context)})"

    def __repr__(self) -> str:
        return f"<{self.error_type}: {self}>"


class TransportError(LibstoreError):
    """The request could not be completed on the network, even after retries."""


class RequestTimeoutError(TransportError, TimeoutError):
    """Connecting or reading timed out, even after retries."""


class ResponseError(LibstoreError):
    """A reply libstore could not understand (malformed, truncated or hostile body)."""


class AccessDeniedError(LibstoreError):
    """The server refused the request (HTTP 403): a permission problem, not a missing item."""


class InvalidCredsError(AccessDeniedError):
    """The server rejected the access key, the session token or the signature."""


class RateLimitReachedError(LibstoreError):
    """The server kept asking to slow down (HTTP 429 or ``SlowDown``) beyond the retry limit."""


class ServerError(LibstoreError):
    """The server failed (HTTP 5xx) beyond the retry limit."""


class PreconditionFailedError(LibstoreError):
    """A conditional request's precondition did not hold (HTTP 412)."""


class NotModifiedError(PreconditionFailedError):
    """A conditional read (``If-None-Match``/``If-Modified-Since``) found the object unchanged.

    S3 answers such a read with HTTP 304 and no body: the copy the caller has is current.
    """


class NotSupportedError(LibstoreError, NotImplementedError):
    """The provider or driver does not support the requested feature."""


class InvalidRangeError(LibstoreError, ValueError):
    """A byte range is invalid: negative, empty, reversed or past the end of the object."""


class InvalidArgumentError(LibstoreError, ValueError):
    """An argument or an ``extra`` value is invalid; raised before any request is sent."""


class ContainerError(LibstoreError):
    """An error about one container (bucket)."""

    def __init__(
        self,
        value: str = "",
        driver: Any = None,
        container_name: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(value, driver, container_name=container_name, **fields)


class ContainerDoesNotExistError(ContainerError):
    """The container does not exist."""


class ContainerAlreadyExistsError(ContainerError):
    """A container of that name already exists (owned by the caller or by someone else)."""


class ContainerIsNotEmptyError(ContainerError):
    """The container still holds objects and cannot be deleted."""


class InvalidContainerNameError(ContainerError, ValueError):
    """The container name breaks the provider's naming rules; no request was sent."""


class ObjectError(LibstoreError):
    """An error about one object."""

    def __init__(
        self,
        value: str = "",
        driver: Any = None,
        object_name: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(value, driver, object_name=object_name, **fields)


class ObjectDoesNotExistError(ObjectError):
    """The object does not exist."""


class ObjectHashMismatchError(ObjectError):
    """The data's checksum does not match the one the store reported or was given."""


class InvalidObjectNameError(ObjectError, ValueError):
    """The object name cannot be stored or cannot be mapped safely to a local path."""


class MultipartUploadError(ObjectError):
    """A multipart upload failed; it was aborted, so nothing is left under the target name.

    Attributes:
        upload_id: The provider's id of the aborted upload.
        part_number: The part that failed, when one did.
    """

    def __init__(
        self,
        value: str = "",
        driver: Any = None,
        object_name: str | None = None,
        *,
        upload_id: str | None = None,
        part_number: int | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(value, driver, object_name, **fields)
        self.upload_id = upload_id
        self.part_number = part_number

    def _context(self) -> list[str]:
        parts = super()._context()
        if self.part_number is not None:
            parts.insert(0, f"part={self.part_number}")
        return parts
