"""The S3-compatible provider table: one frozen :class:`S3Preset` per service, as data.

Every S3-compatible service libstore knows is an entry here, not a class: where its
endpoint is for a region, which region it signs for, which addressing style it
wants, and the quirks the S3 driver must respect (equal-sized parts, a lower part
limit, no ACLs…). :class:`~libstore.drivers.s3.S3StorageDriver` reads its preset
when it is created; ``get_driver(Provider.WASABI)`` returns a thin subclass that
only names the preset to use.

The table is public: add a service or change an entry with :func:`register_preset`,
and every driver created afterwards uses it::

    import dataclasses
    from libstore import get_driver
    from libstore.providers import get_preset, register_preset

    # A Ceph cluster of ours that accepts fewer parts per upload.
    register_preset(
        dataclasses.replace(get_preset("ceph"), name="our-ceph", title="Our Ceph",
                            max_parts=1000),
    )
    driver = get_driver("our-ceph")("KEY", "SECRET", host="s3.internal.example")

How the flags were chosen: a flag differs from Amazon S3's behaviour only where the
provider documents the difference (the ``sources`` of each entry); where nothing is
documented the entry behaves like S3 and lets the server decide. This module imports
nothing heavy: ``import libstore`` stays light.

.. versionadded:: 0.2
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Literal

from libstore.types import InvalidArgumentError, NotSupportedError

__all__ = [
    "AWS_REGIONS",
    "AWS_REGION_ALIASES",
    "BUNDLED_PRESET_NAMES",
    "CHECKSUM_ALGORITHMS",
    "FEATURES",
    "PRESETS",
    "Endpoint",
    "S3Preset",
    "S3ProviderName",
    "driver_class_name",
    "get_preset",
    "register_preset",
]

#: The flexible checksum algorithms S3 defines (``x-amz-checksum-<algorithm>``).
CHECKSUM_ALGORITHMS: Final = frozenset({"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"})

#: Optional features a preset may lack, for :meth:`S3Preset.require`, with their names.
FEATURES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "acl": "access control lists (the 'acl' upload option)",
        "bulk_delete": "deleting many objects in one request (DeleteObjects)",
        "conditional_writes": "conditional writes (If-Match / If-None-Match on upload)",
        "upload_part_copy": "server-side copy of parts (UploadPartCopy)",
        "virtual_hosting": "virtual-hosted-style addressing (bucket.host)",
    }
)

_ALL_CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


#: The bundled S3-compatible provider names, for type checkers (``get_driver`` overloads).
S3ProviderName = Literal[
    "backblaze_b2",
    "ceph",
    "cloudflare_r2",
    "digitalocean_spaces",
    "exoscale",
    "google_storage",
    "ibm_cos",
    "linode",
    "minio",
    "oracle_oci",
    "ovhcloud",
    "s3",
    "s3_af_south_1",
    "s3_ap_east_1",
    "s3_ap_east_2",
    "s3_ap_northeast",
    "s3_ap_northeast_1",
    "s3_ap_northeast_2",
    "s3_ap_northeast_3",
    "s3_ap_south",
    "s3_ap_south_1",
    "s3_ap_south_2",
    "s3_ap_southeast",
    "s3_ap_southeast2",
    "s3_ap_southeast_1",
    "s3_ap_southeast_2",
    "s3_ap_southeast_3",
    "s3_ap_southeast_4",
    "s3_ap_southeast_5",
    "s3_ap_southeast_6",
    "s3_ap_southeast_7",
    "s3_ca_central",
    "s3_ca_central_1",
    "s3_ca_west_1",
    "s3_cn_north",
    "s3_cn_north_1",
    "s3_cn_northwest",
    "s3_cn_northwest_1",
    "s3_eu_central",
    "s3_eu_central_1",
    "s3_eu_central_2",
    "s3_eu_north_1",
    "s3_eu_south_1",
    "s3_eu_south_2",
    "s3_eu_west",
    "s3_eu_west_1",
    "s3_eu_west_2",
    "s3_eu_west_3",
    "s3_il_central_1",
    "s3_me_central_1",
    "s3_me_south_1",
    "s3_mx_central_1",
    "s3_rgw",
    "s3_sa_east",
    "s3_sa_east_1",
    "s3_us_east_1",
    "s3_us_east_2",
    "s3_us_gov_east_1",
    "s3_us_gov_west",
    "s3_us_gov_west_1",
    "s3_us_west",
    "s3_us_west_1",
    "s3_us_west_2",
    "s3_us_west_oregon",
    "scaleway",
    "seaweedfs",
    "wasabi",
]


@dataclass(frozen=True)
class Endpoint:
    """Where a driver sends its requests, as resolved from a preset and the caller's options.

    Attributes:
        host: The endpoint host, without scheme or port.
        region: The driver's region (what ``LocationConstraint`` and error hints use).
        signing_region: The region in the SigV4 credential scope.
        addressing: The addressing style used under ``addressing_style="auto"``.
        custom_host: Whether the caller gave the host (rather than the preset).
    """

    host: str
    region: str
    signing_region: str
    addressing: Literal["path", "virtual"]
    custom_host: bool


@dataclass(frozen=True)
class S3Preset:
    """One S3-compatible service: its endpoints, defaults and quirks.

    Args:
        name: The provider name given to :func:`libstore.get_driver` (``Provider.X``).
        title: Human-readable name, used in messages and the documentation.
        website: The service's home page.
        endpoint: Host template with ``{region}`` and ``{account}`` placeholders;
            ``None`` when the service has no public endpoint (self-hosted: the caller
            passes ``host``).
        region_endpoints: Host templates replacing ``endpoint`` for some regions
            (``us-east-1`` on AWS, R2's jurisdictions).
        regions: Known regions, for documentation and the per-region aliases; other
            region codes are accepted too.
        default_region: Region used when the caller gives none; ``None`` when the
            caller must choose (the endpoint depends on the account).
        signing_region: Fixed region of the SigV4 credential scope (R2 and Google
            sign for ``auto``); ``None`` signs for the driver's region.
        addressing: Addressing style with the preset's endpoint under ``"auto"``:
            ``"virtual"`` (``bucket.host/key``) or ``"path"`` (``host/bucket/key``).
            A caller-given host always defaults to path style.
        virtual_hosting: Whether the preset's endpoint serves virtual-hosted requests at
            all; asking for ``addressing_style="virtual"`` otherwise is an error.
        https_only: The service refuses plain HTTP.
        location_constraint: Template of ``CreateBucketConfiguration/LocationConstraint``
            (``{region}``); ``None`` never sends one. It is also left out for the
            regions ``us-east-1`` and ``auto``.
        existing_bucket: How ``CreateBucket`` answers for a bucket that exists:
            ``"error"`` (409 ``BucketAlreadyExists``/``BucketAlreadyOwnedByYou``) or
            ``"ok"`` (200 when the caller owns it, as AWS in ``us-east-1`` and Ceph do).
            With ``"ok"`` the driver looks first, so that an existing bucket is always
            reported with :class:`~libstore.ContainerAlreadyExistsError`.
        max_parts: Most parts one multipart upload may have.
        equal_part_sizes: Every part but the last must have the same size (R2).
        canned_acls: The canned ACLs accepted on upload; ``None`` means S3's six, an
            empty set means the service has no ACLs.
        checksum_algorithms: The ``x-amz-checksum-*`` algorithms the service accepts.
        list_objects_version: ``2`` (ListObjectsV2, continuation tokens) or ``1``
            (ListObjects, markers).
        bulk_delete: The service implements ``DeleteObjects``.
        bulk_delete_content_md5: ``DeleteObjects`` needs ``Content-MD5``; a flexible
            checksum header alone is refused.
        upload_part_copy: The service implements ``UploadPartCopy``.
        conditional_writes: The service honours ``If-None-Match``/``If-Match`` on writes.
        notes: Other differences worth knowing, for the documentation.
        sources: The provider documentation the entry was checked against.
        alias_of: For a per-region alias (``Provider.S3_EU_WEST_1``), the preset it binds.
    """

    name: str
    title: str
    website: str = ""
    endpoint: str | None = None
    region_endpoints: Mapping[str, str] = field(default_factory=dict, hash=False)
    regions: tuple[str, ...] = ()
    default_region: str | None = "us-east-1"
    signing_region: str | None = None
    addressing: Literal["path", "virtual"] = "path"
    virtual_hosting: bool = True
    https_only: bool = False
    location_constraint: str | None = "{region}"
    existing_bucket: Literal["error", "ok"] = "ok"
    max_parts: int = 10_000
    equal_part_sizes: bool = False
    canned_acls: frozenset[str] | None = None
    checksum_algorithms: frozenset[str] = CHECKSUM_ALGORITHMS
    list_objects_version: Literal[1, 2] = 2
    bulk_delete: bool = True
    bulk_delete_content_md5: bool = True
    upload_part_copy: bool = True
    conditional_writes: bool = True
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    alias_of: str | None = None

    def __post_init__(self) -> None:
        def bad(reason: str) -> InvalidArgumentError:
            return InvalidArgumentError(f"invalid preset {self.name!r}: {reason}")

        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise bad("name must be 1-64 lowercase letters, digits, '_', '.' or '-'")
        # Normalise mappings and sets so the frozen value cannot change under a driver.
        object.__setattr__(self, "region_endpoints", MappingProxyType(dict(self.region_endpoints)))
        object.__setattr__(self, "regions", tuple(self.regions))
        if self.canned_acls is not None:
            object.__setattr__(self, "canned_acls", frozenset(self.canned_acls))
            if not self.canned_acls <= _ALL_CANNED_ACLS:
                raise bad(f"unknown canned ACLs {sorted(self.canned_acls - _ALL_CANNED_ACLS)}")
        object.__setattr__(self, "checksum_algorithms", frozenset(self.checksum_algorithms))
        if not self.checksum_algorithms <= CHECKSUM_ALGORITHMS:
            extra = sorted(self.checksum_algorithms - CHECKSUM_ALGORITHMS)
            raise bad(f"unknown checksum algorithms {extra}")
        for template in (self.endpoint, *self.region_endpoints.values()):
            if template is not None:
                names = set(_PLACEHOLDER.findall(template)) - {"region", "account"}
                if names:
                    raise bad(f"endpoint {template!r} has unknown placeholders {sorted(names)}")
        for region in (*self.regions, self.default_region, self.signing_region):
            if region is not None and not _REGION.match(region):
                raise bad(f"invalid region {region!r}")
        if self.addressing not in ("path", "virtual"):
            raise bad(f"addressing must be 'path' or 'virtual', not {self.addressing!r}")
        if self.addressing == "virtual" and not self.virtual_hosting:
            raise bad("addressing is 'virtual' but virtual_hosting is off")
        if self.existing_bucket not in ("error", "ok"):
            raise bad(f"existing_bucket must be 'error' or 'ok', not {self.existing_bucket!r}")
        if self.list_objects_version not in (1, 2):
            raise bad("list_objects_version must be 1 or 2")
        if isinstance(self.max_parts, bool) or not isinstance(self.max_parts, int):
            raise bad("max_parts must be an int")
        if not 1 <= self.max_parts <= 10_000:
            raise bad("max_parts must be between 1 and 10000")

    # -- endpoints ----------------------------------------------------------------------------

    @property
    def needs_account(self) -> bool:
        """Whether the preset's endpoint holds the caller's account (R2, OCI)."""
        templates = (self.endpoint or "", *self.region_endpoints.values())
        return any("{account}" in template for template in templates)

    def host_template(self, region: str) -> str | None:
        """The host template for ``region``: a per-region override or ``endpoint``."""
        return self.region_endpoints.get(region, self.endpoint)

    def region_from_host(self, host: str) -> str | None:
        """Recover the region from a host built from this preset's templates, if it is one."""
        for region, template in self.region_endpoints.items():
            if _template_regex(template).fullmatch(host.lower()):
                return region
        if self.endpoint and "{region}" in self.endpoint:
            match = _template_regex(self.endpoint).fullmatch(host.lower())
            if match:
                return match.group("region")
        return None

    def endpoint_for(
        self,
        *,
        host: str | None = None,
        region: str | None = None,
        account: str | None = None,
        secure: bool = True,
        addressing_style: str = "auto",
    ) -> Endpoint:
        """Resolve the driver's endpoint from the caller's options and this preset.

        Args:
            host: The caller's host, which wins over the preset's endpoint.
            region: The caller's region; ``None`` takes it from ``host`` or the
                preset's default.
            account: Fills ``{account}`` in the endpoint (R2 account ID, OCI namespace).
            secure: Whether the driver uses HTTPS.
            addressing_style: The caller's ``addressing_style``.

        Raises:
            InvalidArgumentError: A needed option is missing or invalid.
            NotSupportedError: Virtual-hosted addressing was asked of a service
                without it.
        """
        custom = host is not None
        if region is None:
            region = (self.region_from_host(host) if host else None) or self.default_region
            if region is None and custom:
                region = "us-east-1"
        if region is None:
            examples = ", ".join(self.regions[:3])
            raise InvalidArgumentError(
                f"the {self.title} driver needs region= (its endpoint depends on your "
                f"account; for example {examples}) or host="
            )
        if not isinstance(region, str) or not _REGION.match(region):
            raise InvalidArgumentError(f"invalid region {region!r}")
        if account is not None and (not isinstance(account, str) or not _LABEL.match(account)):
            raise InvalidArgumentError(
                f"invalid account {account!r}: use the lowercase identifier from the "
                f"{self.title} console"
            )
        if host is None:
            template = self.host_template(region)
            if template is None:
                raise InvalidArgumentError(
                    f"the {self.title} driver needs host= (it has no public endpoint)"
                )
            if "{account}" in template and account is None:
                raise InvalidArgumentError(
                    f"the {self.title} driver needs account= (it is part of the endpoint "
                    f"host {template!r}) or host="
                )
            host = template.format(region=region, account=account or "")
            if self.https_only and not secure:
                raise InvalidArgumentError(f"{self.title} accepts HTTPS only; drop secure=False")
            if addressing_style == "virtual" and not self.virtual_hosting:
                self.require("virtual_hosting")
        return Endpoint(
            host=host,
            region=region,
            signing_region=self.signing_region or region,
            addressing=self.addressing,
            custom_host=custom,
        )

    def location_constraint_for(self, region: str) -> str | None:
        """The ``LocationConstraint`` to send when creating a bucket, or ``None``."""
        if self.location_constraint is None or region in ("us-east-1", "auto"):
            return None
        return self.location_constraint.format(region=region)

    # -- capabilities -------------------------------------------------------------------------

    def supports(self, feature: str) -> bool:
        """Whether the service has ``feature``, one of :data:`FEATURES`."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}; known: {sorted(FEATURES)}")
        if feature == "acl":
            return self.canned_acls is None or bool(self.canned_acls)
        return bool(getattr(self, feature))

    def require(self, feature: str, driver: Any = None) -> None:
        """Raise :class:`~libstore.NotSupportedError` unless the service has ``feature``.

        Drivers call this before sending a request the service would refuse, so the
        caller gets a clear error naming the provider instead of a confusing reply.
        """
        if not self.supports(feature):
            raise NotSupportedError(f"{self.title} does not support {FEATURES[feature]}", driver)

    def check_acl(self, acl: str, driver: Any = None) -> None:
        """Refuse a canned ACL the service does not accept.

        Raises:
            NotSupportedError: The service has no ACLs, or not this one.
        """
        self.require("acl", driver)
        if self.canned_acls is not None and acl not in self.canned_acls:
            raise NotSupportedError(
                f"{self.title} accepts only the canned ACLs {sorted(self.canned_acls)}, "
                f"not {acl!r}",
                driver,
            )

    def check_checksum(self, algorithm: str, driver: Any = None) -> None:
        """Refuse an ``x-amz-checksum-*`` algorithm the service does not accept.

        Raises:
            NotSupportedError: The service does not accept that algorithm.
        """
        if algorithm.upper() not in self.checksum_algorithms:
            accepted = sorted(self.checksum_algorithms) or "none"
            raise NotSupportedError(
                f"{self.title} does not accept {algorithm.upper()} checksums "
                f"(x-amz-checksum-*); accepted: {accepted}",
                driver,
            )

    def check_request_headers(self, headers: Mapping[str, str], driver: Any = None) -> None:
        """Refuse caller-supplied upload headers that ask for a feature the service lacks.

        Looks at ``x-amz-checksum-<algorithm>``, ``x-amz-sdk-checksum-algorithm``,
        ``x-amz-acl``, ``If-Match`` and ``If-None-Match``.
        """
        for name, value in headers.items():
            lowered = name.lower()
            if lowered.startswith("x-amz-checksum-") and lowered != "x-amz-checksum-type":
                self.check_checksum(lowered[len("x-amz-checksum-") :], driver)
            elif lowered == "x-amz-sdk-checksum-algorithm":
                self.check_checksum(str(value), driver)
            elif lowered == "x-amz-acl":
                self.check_acl(str(value), driver)
            elif lowered in ("if-match", "if-none-match"):
                self.require("conditional_writes", driver)

    def guard_part_sizes(self, parts: Iterator[bytes]) -> Iterator[bytes]:
        """Pass ``parts`` through, checking the equal-size rule when the service has one.

        Raises:
            InvalidArgumentError: A part other than the last differs in size from the
                first, or the last is larger (R2 refuses such uploads).
        """
        if not self.equal_part_sizes:
            yield from parts
            return
        first: int | None = None
        previous: bytes | None = None
        for part in parts:
            if previous is not None:
                if first is None:
                    first = len(previous)
                elif len(previous) != first:
                    raise InvalidArgumentError(
                        f"{self.title} needs every part but the last to have one size; "
                        f"got {len(previous)} bytes after parts of {first}"
                    )
                yield previous
            previous = part
        if previous is not None:
            if first is not None and len(previous) > first:
                raise InvalidArgumentError(
                    f"{self.title} needs the last part to be no larger than the others"
                )
            yield previous


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.escape(template.lower())
    pattern = pattern.replace(re.escape("{region}"), r"(?P<region>[a-z0-9-]+)", 1)
    pattern = pattern.replace(re.escape("{region}"), r"(?P=region)")
    pattern = pattern.replace(re.escape("{account}"), r"(?P<account>[a-z0-9-]+)", 1)
    return re.compile(pattern)


def driver_class_name(name: str) -> str:
    """The driver class name for preset ``name``: ``"wasabi"`` gives ``WasabiStorageDriver``."""
    # A word of digits keeps its "_" so "s3_ap_southeast_2" and libcloud's
    # "s3_ap_southeast2" get different classes.
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    parts = [f"_{w}" if w.isdigit() and i else w[:1].upper() + w[1:] for i, w in enumerate(words)]
    return "".join(parts) + "StorageDriver"


# -- the table ----------------------------------------------------------------------------------

#: Amazon S3's commercial, GovCloud and China regions.
AWS_REGIONS: Final[tuple[str, ...]] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
)

_AWS = S3Preset(
    name="s3",
    title="Amazon S3",
    website="https://aws.amazon.com/s3/",
    endpoint="s3.{region}.amazonaws.com",
    region_endpoints={
        "us-east-1": "s3.amazonaws.com",
        "cn-north-1": "s3.cn-north-1.amazonaws.com.cn",
        "cn-northwest-1": "s3.cn-northwest-1.amazonaws.com.cn",
    },
    regions=AWS_REGIONS,
    addressing="virtual",
    bulk_delete_content_md5=False,
    notes=(
        "CreateBucket answers 200 when you already own the bucket in us-east-1, so the "
        "driver looks before creating.",
        "Bucket names with dots are addressed path-style over HTTPS (TLS wildcard "
        "certificates cover one label).",
    ),
    sources=(
        "https://docs.aws.amazon.com/general/latest/gr/s3.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html",
    ),
)


def _aws_alias_name(region: str) -> str:
    return "s3_" + region.replace("-", "_")


#: Provider names that bind Amazon S3 to one region, as libcloud's ``Provider.S3_*``:
#: a ``Provider.S3_<REGION>`` name per region plus libcloud's historical spellings.
AWS_REGION_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{_aws_alias_name(region): region for region in AWS_REGIONS},
        # libcloud's older names, kept so its users only change the import.
        "s3_us_west": "us-west-1",
        "s3_us_west_oregon": "us-west-2",
        "s3_us_gov_west": "us-gov-west-1",
        "s3_cn_north": "cn-north-1",
        "s3_cn_northwest": "cn-northwest-1",
        "s3_eu_west": "eu-west-1",
        "s3_eu_central": "eu-central-1",
        "s3_ap_south": "ap-south-1",
        "s3_ap_southeast": "ap-southeast-1",
        "s3_ap_southeast2": "ap-southeast-2",
        "s3_ap_northeast": "ap-northeast-1",
        "s3_sa_east": "sa-east-1",
        "s3_ca_central": "ca-central-1",
    }
)

_SELF_HOSTED = "Self-hosted: pass host= (and port=, secure=False for plain HTTP)."

_BASE_PRESETS: tuple[S3Preset, ...] = (
    _AWS,
    S3Preset(
        name="minio",
        title="MinIO",
        website="https://min.io/",
        existing_bucket="error",
        canned_acls=frozenset(),
        bulk_delete_content_md5=False,
        notes=(
            _SELF_HOSTED,
            "No object ACLs (GetObjectAcl/PutObjectAcl are unimplemented): use bucket policies.",
        ),
        sources=("https://min.io/docs/minio/linux/reference/s3-api-compatibility.html",),
    ),
    S3Preset(
        name="ceph",
        title="Ceph Object Gateway (RGW)",
        website="https://docs.ceph.com/en/latest/radosgw/",
        notes=(
            _SELF_HOSTED,
            "Virtual-hosted addressing needs rgw_dns_name on the gateway; path style is "
            "the default.",
            "Re-creating your own bucket succeeds, as on AWS us-east-1.",
        ),
        sources=("https://docs.ceph.com/en/latest/radosgw/s3/",),
    ),
    S3Preset(
        name="seaweedfs",
        title="SeaweedFS",
        website="https://github.com/seaweedfs/seaweedfs",
        existing_bucket="error",
        notes=(
            _SELF_HOSTED,
            "Keys are paths: a leading '/' is dropped, '//' collapses and '.'/'..' "
            "segments are refused.",
            "Listings come directory by directory, not in UTF-8 byte order.",
        ),
        sources=("https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API",),
    ),
    S3Preset(
        name="cloudflare_r2",
        title="Cloudflare R2",
        website="https://developers.cloudflare.com/r2/",
        endpoint="{account}.r2.cloudflarestorage.com",
        region_endpoints={
            "eu": "{account}.eu.r2.cloudflarestorage.com",
            "fedramp": "{account}.fedramp.r2.cloudflarestorage.com",
            "us": "{account}.us.r2.cloudflarestorage.com",
        },
        regions=("auto", "eu", "fedramp", "us"),
        default_region="auto",
        signing_region="auto",
        location_constraint=None,
        equal_part_sizes=True,
        canned_acls=frozenset(),
        bulk_delete_content_md5=False,
        notes=(
            "account= is your Cloudflare account ID; region= picks a jurisdiction "
            "(eu, fedramp, us) whose buckets live on their own endpoint.",
            "Requests always sign for region 'auto'.",
            "Every multipart part but the last must have the same size.",
            "No ACLs: make buckets public in the dashboard instead.",
        ),
        sources=(
            "https://developers.cloudflare.com/r2/api/s3/api/",
            "https://developers.cloudflare.com/r2/objects/multipart-objects/",
            "https://developers.cloudflare.com/r2/reference/data-location/",
        ),
    ),
    S3Preset(
        name="backblaze_b2",
        title="Backblaze B2",
        website="https://www.backblaze.com/cloud-storage",
        endpoint="s3.{region}.backblazeb2.com",
        regions=(
            "us-west-000",
            "us-west-001",
            "us-west-002",
            "us-west-004",
            "us-east-005",
            "eu-central-003",
        ),
        default_region=None,
        addressing="virtual",
        https_only=True,
        location_constraint=None,
        canned_acls=frozenset({"private", "public-read"}),
        notes=(
            "An account lives in one region: pass the region of your bucket's endpoint "
            "(s3.<region>.backblazeb2.com).",
            "HTTPS only; SigV4 only; application keys, not the master key.",
            "ACLs are per bucket: objects accept only the bucket's own 'private' or 'public-read'.",
        ),
        sources=(
            "https://www.backblaze.com/docs/cloud-storage-call-the-s3-compatible-api",
            "https://www.backblaze.com/docs/cloud-storage-s3-compatible-api",
        ),
    ),
    S3Preset(
        name="wasabi",
        title="Wasabi",
        website="https://wasabi.com/",
        endpoint="s3.{region}.wasabisys.com",
        regions=(
            "us-east-1",
            "us-east-2",
            "us-central-1",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "eu-central-1",
            "eu-central-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-south-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-southeast-1",
            "ap-southeast-2",
        ),
        addressing="virtual",
        notes=("s3.wasabisys.com is an alias of us-east-1's s3.us-east-1.wasabisys.com.",),
        sources=("https://docs.wasabi.com/docs/service-urls-for-wasabis-storage-regions",),
    ),
    S3Preset(
        name="digitalocean_spaces",
        title="DigitalOcean Spaces",
        website="https://www.digitalocean.com/products/spaces",
        endpoint="{region}.digitaloceanspaces.com",
        regions=(
            "nyc3",
            "ams3",
            "sfo2",
            "sfo3",
            "sgp1",
            "fra1",
            "syd1",
            "blr1",
            "tor1",
            "lon1",
            "atl1",
        ),
        default_region="nyc3",
        addressing="virtual",
        canned_acls=frozenset({"private", "public-read"}),
        notes=(
            "Requests sign for the region slug (nyc3…).",
            "Only the canned ACLs 'private' and 'public-read' exist.",
        ),
        sources=(
            "https://docs.digitalocean.com/reference/api/spaces/",
            "https://docs.digitalocean.com/products/spaces/reference/aws-sdks/",
        ),
    ),
    S3Preset(
        name="scaleway",
        title="Scaleway Object Storage",
        website="https://www.scaleway.com/en/object-storage/",
        endpoint="s3.{region}.scw.cloud",
        regions=("fr-par", "nl-ams", "pl-waw"),
        default_region="fr-par",
        addressing="virtual",
        max_parts=1000,
        notes=("A multipart upload holds at most 1000 parts (AWS: 10000).",),
        sources=(
            "https://www.scaleway.com/en/docs/object-storage/api-cli/multipart-uploads/",
            "https://www.scaleway.com/en/docs/object-storage/api-cli/generate-aws4-auth-signature",
        ),
    ),
    S3Preset(
        name="ovhcloud",
        title="OVHcloud Object Storage",
        website="https://www.ovhcloud.com/en/public-cloud/object-storage/",
        endpoint="s3.{region}.io.cloud.ovh.net",
        regions=("gra", "sbg", "rbx", "de", "uk", "waw", "bhs", "eu-west-par"),
        default_region="gra",
        addressing="virtual",
        notes=(
            "The .io.cloud.ovh.net endpoints are the current ones (the .perf ones are legacy).",
        ),
        sources=(
            "https://help.ovhcloud.com/csm/en-public-cloud-storage-s3-location",
            "https://help.ovhcloud.com/csm/en-ie-public-cloud-storage-s3-faq",
        ),
    ),
    S3Preset(
        name="linode",
        title="Akamai (Linode) Object Storage",
        website="https://www.linode.com/products/object-storage/",
        endpoint="{region}.linodeobjects.com",
        regions=(
            "us-east-1",
            "us-southeast-1",
            "eu-central-1",
            "ap-south-1",
            "us-iad-1",
            "us-ord-1",
            "us-lax-1",
            "us-mia-1",
            "us-sea-1",
            "fr-par-1",
            "nl-ams-1",
            "se-sto-1",
            "it-mil-1",
            "in-maa-1",
            "jp-osa-1",
            "id-cgk-1",
            "br-gru-1",
        ),
        addressing="virtual",
        notes=("region= is the cluster ID in the endpoint (us-east-1, us-iad-1…).",),
        sources=(
            "https://techdocs.akamai.com/cloud-computing/docs/object-storage",
            "https://techdocs.akamai.com/linode-api/reference/get-object-storage-endpoints",
        ),
    ),
    S3Preset(
        name="ibm_cos",
        title="IBM Cloud Object Storage",
        website="https://www.ibm.com/products/cloud-object-storage",
        endpoint="s3.{region}.cloud-object-storage.appdomain.cloud",
        regions=(
            "us-south",
            "us-east",
            "eu-gb",
            "eu-de",
            "eu-es",
            "jp-tok",
            "jp-osa",
            "au-syd",
            "ca-tor",
            "br-sao",
            "us",
            "eu",
            "ap",
        ),
        default_region="us-south",
        addressing="virtual",
        location_constraint="{region}-standard",
        notes=(
            "Use HMAC credentials (cos_hmac_keys) of a service credential.",
            "New buckets get the Standard class: LocationConstraint is '<region>-standard'.",
        ),
        sources=(
            "https://cloud.ibm.com/docs/cloud-object-storage?topic=cloud-object-storage-endpoints",
            "https://cloud.ibm.com/docs/cloud-object-storage/api-reference"
            "?topic=cloud-object-storage-compatibility-api-bucket-operations",
        ),
    ),
    S3Preset(
        name="oracle_oci",
        title="Oracle Cloud Object Storage (S3 compatibility API)",
        website="https://www.oracle.com/cloud/storage/object-storage/",
        endpoint="{account}.compat.objectstorage.{region}.oraclecloud.com",
        regions=(
            "us-ashburn-1",
            "us-phoenix-1",
            "eu-frankfurt-1",
            "uk-london-1",
            "ap-tokyo-1",
            "ca-toronto-1",
        ),
        default_region=None,
        virtual_hosting=False,
        canned_acls=frozenset(),
        notes=(
            "account= is your Object Storage namespace; the endpoint is path-style only.",
            "Access keys are 'Customer Secret Keys'; buckets land in the compartment "
            "chosen for the S3 API.",
            "No object ACLs: IAM policies control access.",
        ),
        sources=(
            "https://docs.oracle.com/iaas/Content/Object/Tasks/s3compatibleapi.htm",
            "https://docs.oracle.com/iaas/Content/Object/Tasks/understandingnamespaces.htm",
        ),
    ),
    S3Preset(
        name="exoscale",
        title="Exoscale Simple Object Storage",
        website="https://www.exoscale.com/object-storage/",
        endpoint="sos-{region}.exo.io",
        regions=("ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1"),
        default_region="ch-gva-2",
        addressing="virtual",
        conditional_writes=False,
        notes=(
            "region= is the zone (ch-gva-2…).",
            "No conditional writes; server-side encryption with customer keys only.",
        ),
        sources=(
            "https://community.exoscale.com/api/sos/",
            "https://community.exoscale.com/documentation/storage/simple-object-storage-overview/",
        ),
    ),
    S3Preset(
        name="google_storage",
        title="Google Cloud Storage (XML API)",
        website="https://cloud.google.com/storage",
        endpoint="storage.googleapis.com",
        regions=("auto",),
        default_region="auto",
        signing_region="auto",
        existing_bucket="error",
        checksum_algorithms=frozenset(),
        bulk_delete=False,
        upload_part_copy=False,
        notes=(
            "Use HMAC keys (Cloud Storage > Settings > Interoperability).",
            "Requests sign for region 'auto'; another region= is sent as the new "
            "bucket's location.",
            "No DeleteObjects and no UploadPartCopy in the XML API; checksums travel "
            "as x-goog-hash, so no x-amz-checksum-* headers.",
        ),
        sources=(
            "https://cloud.google.com/storage/docs/interoperability",
            "https://cloud.google.com/storage/docs/xml-api/get-bucket-list",
            "https://cloud.google.com/storage/docs/multipart-uploads",
        ),
    ),
)

_LIBCLOUD_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"s3_rgw": "ceph"})


def _aliases() -> list[S3Preset]:
    presets = [
        replace(
            _AWS,
            name=alias,
            title=f"Amazon S3 ({region})",
            default_region=region,
            alias_of="s3",
        )
        for alias, region in AWS_REGION_ALIASES.items()
    ]
    by_name = {p.name: p for p in _BASE_PRESETS}
    presets.extend(
        replace(by_name[target], name=alias, alias_of=target)
        for alias, target in _LIBCLOUD_ALIASES.items()
    )
    return presets


# internal, mutable: preset name -> preset
_presets: dict[str, S3Preset] = {p.name: p for p in (*_BASE_PRESETS, *_aliases())}
_lock = threading.Lock()

#: Read-only view of every preset, by provider name (aliases included).
PRESETS: Mapping[str, S3Preset] = MappingProxyType(_presets)

#: The preset names bundled with libstore, before any :func:`register_preset`.
BUNDLED_PRESET_NAMES: Final = frozenset(_presets)


def get_preset(name: str | S3Preset) -> S3Preset:
    """Return the preset called ``name`` (a preset passed in is returned as is).

    Raises:
        InvalidArgumentError: No preset has that name.
    """
    if isinstance(name, S3Preset):
        return name
    with _lock:
        preset = _presets.get(name)
    if preset is None:
        raise InvalidArgumentError(
            f"no S3 provider preset called {name!r}; register one with "
            "libstore.providers.register_preset()"
        )
    return preset


def register_preset(preset: S3Preset, *, clobber: bool = False, driver: bool = True) -> None:
    """Add ``preset`` to the table, or replace the entry of the same name.

    Drivers created afterwards use it, including those of the bundled providers
    (replace ``"s3"`` to change Amazon S3's defaults). With ``driver`` (default) a new
    name is also registered with :func:`libstore.set_driver`, so
    ``get_driver(preset.name)`` returns an S3 driver bound to it.

    Args:
        preset: The entry to add.
        clobber: Replace an existing entry of that name instead of refusing.
        driver: Register a driver under ``preset.name`` when none is registered yet.

    Raises:
        InvalidArgumentError: A preset of that name exists and ``clobber`` is false.
        TypeError: ``preset`` is not an :class:`S3Preset`.
    """
    if not isinstance(preset, S3Preset):
        raise TypeError(f"{preset!r} is not an S3Preset")
    class_name = driver_class_name(preset.name)
    with _lock:
        if preset.name in _presets and not clobber:
            raise InvalidArgumentError(
                f"a preset called {preset.name!r} exists; pass clobber=True to replace it"
            )
        clash = [n for n in _presets if n != preset.name and driver_class_name(n) == class_name]
        if clash:
            raise InvalidArgumentError(
                f"preset name {preset.name!r} is too close to {clash[0]!r} (both would be "
                f"{class_name}); choose another name"
            )
        _presets[preset.name] = preset
    if driver:
        from libstore.registry import registered_drivers, set_driver

        if preset.name not in registered_drivers():
            set_driver(preset.name, f"libstore.drivers.s3_family:{class_name}")
