"""Amazon S3 endpoint names: regional, dual-stack, FIPS and Transfer Acceleration hosts.

Pure functions, no requests: building the host for a region and a set of endpoint
options, and recognising the hosts of S3 URLs (``bucket.s3.eu-west-1.amazonaws.com``,
``s3.dualstack.us-east-2.amazonaws.com``, ``bucket.s3-accelerate.amazonaws.com``…).
No list of regions is consulted: any well-formed region code is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AwsS3Host",
    "accelerate_host",
    "aws_s3_host",
    "aws_suffix",
    "parse_aws_s3_host",
    "parse_r2_host",
]

_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_AWS_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?"
    r"(?P<service>s3-fips|s3-accelerate|s3-external-1|s3)"
    r"(?P<dualstack>\.dualstack)?"
    r"(?:[.-](?P<region>[a-z0-9-]+?))?"
    r"\.amazonaws\.com(?P<cn>\.cn)?$"
)
_R2_HOST = re.compile(
    r"^(?P<account>[a-z0-9]+)(?:\.(?P<jurisdiction>eu|fedramp|us))?\.r2\.cloudflarestorage\.com$"
)


def aws_suffix(region: str) -> str:
    """The DNS suffix of ``region``'s partition (``amazonaws.com.cn`` for China)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def aws_s3_host(region: str, *, dualstack: bool = False, fips: bool = False) -> str:
    """The S3 endpoint host of ``region``.

    ``us-east-1`` without options keeps the historical ``s3.amazonaws.com``; dual-stack
    and FIPS hosts are always regional (``s3.dualstack.<region>``,
    ``s3-fips.<region>``, ``s3-fips.dualstack.<region>``).
    """
    if not _REGION.match(region):
        raise ValueError(f"invalid region {region!r}")
    name = "s3-fips" if fips else "s3"
    if dualstack:
        return f"{name}.dualstack.{region}.{aws_suffix(region)}"
    if not fips and region == "us-east-1":
        return "s3.amazonaws.com"
    return f"{name}.{region}.{aws_suffix(region)}"


def accelerate_host(*, dualstack: bool = False) -> str:
    """The global S3 Transfer Acceleration host (bucket names go in front of it)."""
    return "s3-accelerate.dualstack.amazonaws.com" if dualstack else "s3-accelerate.amazonaws.com"


@dataclass(frozen=True)
class AwsS3Host:
    """What an Amazon S3 host name says.

    Attributes:
        bucket: The bucket of a virtual-hosted name, else ``None``.
        region: The region in the name; ``None`` for the global and accelerate hosts.
        dualstack: A dual-stack host.
        fips: A FIPS host.
        accelerate: A Transfer Acceleration host.
    """

    bucket: str | None
    region: str | None
    dualstack: bool
    fips: bool
    accelerate: bool


def parse_aws_s3_host(host: str) -> AwsS3Host | None:
    """Recognise an Amazon S3 endpoint host, with or without a bucket in front.

    Returns ``None`` for any other host (including VPC and access-point endpoints,
    which are used as given).
    """
    match = _AWS_HOST.match(host.lower().rstrip("."))
    if match is None:
        return None
    service = match["service"]
    region = match["region"]
    if service == "s3-external-1":
        if region is not None:
            return None
        region = "us-east-1"
    if service == "s3-accelerate":
        if region is not None or match["cn"]:
            return None
    elif region is None:
        if match["dualstack"] or service == "s3-fips" or match["cn"]:
            return None  # these hosts always name their region
        region = "us-east-1"
    elif match["cn"] and not region.startswith("cn-"):
        return None
    return AwsS3Host(
        bucket=match["bucket"],
        region=region,
        dualstack=bool(match["dualstack"]),
        fips=service == "s3-fips",
        accelerate=service == "s3-accelerate",
    )


def parse_r2_host(host: str) -> tuple[str, str] | None:
    """``(account, region)`` of a Cloudflare R2 endpoint host (region ``auto`` or a
    jurisdiction), or ``None``."""
    match = _R2_HOST.match(host.lower().rstrip("."))
    if match is None:
        return None
    return match["account"], match["jurisdiction"] or "auto"
