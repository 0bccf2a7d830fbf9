"""Every provider preset on the wire: exact URLs, hosts and signing regions, and its quirks.

Each hosted preset is built the way a user would (``get_driver(Provider.X)(key, secret,
…)``, no host) and must send its requests to the documented endpoint, in its addressing
style, signed for the documented region. The quirk flags are checked by the requests
the driver sends, or refuses to send.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from lxml import etree
from wirekit import ACCESS_KEY, S3_NS, SECRET, check_signed, listing_xml, s3_error, sent

import libstore.drivers.s3 as s3_module
import libstore.providers as providers_module
from libstore import Provider, get_driver
from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.providers import BUNDLED_PRESET_NAMES, PRESETS, S3Preset, register_preset
from libstore.transfer.config import TransferConfig
from libstore.types import (
    ContainerAlreadyExistsError,
    InvalidArgumentError,
    MultipartUploadError,
    NotSupportedError,
)

R2_ACCOUNT = "0123456789abcdef0123456789abcdef"
OCI_NAMESPACE = "axaxnpcrorw5"
HEAD_OK = {"ETag": '"0123456789abcdef0123456789abcdef"', "Content-Length": "3"}
MiB = 1024 * 1024

#: (provider, constructor options, exact HEAD URL of bucket "bkt", key "dir/my key", region)
HOSTED: list[tuple[str, dict[str, Any], str, str]] = [
    (Provider.S3, {}, "https://bkt.s3.amazonaws.com/dir/my%20key", "us-east-1"),
    (Provider.S3, {"region": "eu-west-3"},
     "https://bkt.s3.eu-west-3.amazonaws.com/dir/my%20key", "eu-west-3"),
    (Provider.S3, {"region": "cn-northwest-1"},
     "https://bkt.s3.cn-northwest-1.amazonaws.com.cn/dir/my%20key", "cn-northwest-1"),
    (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT},
     f"https://{R2_ACCOUNT}.r2.cloudflarestorage.com/bkt/dir/my%20key", "auto"),
    (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT, "region": "eu"},
     f"https://{R2_ACCOUNT}.eu.r2.cloudflarestorage.com/bkt/dir/my%20key", "auto"),
    (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT, "region": "fedramp"},
     f"https://{R2_ACCOUNT}.fedramp.r2.cloudflarestorage.com/bkt/dir/my%20key", "auto"),
    (Provider.BACKBLAZE_B2, {"region": "us-west-004"},
     "https://bkt.s3.us-west-004.backblazeb2.com/dir/my%20key", "us-west-004"),
    (Provider.BACKBLAZE_B2, {"region": "eu-central-003"},
     "https://bkt.s3.eu-central-003.backblazeb2.com/dir/my%20key", "eu-central-003"),
    (Provider.WASABI, {}, "https://bkt.s3.us-east-1.wasabisys.com/dir/my%20key", "us-east-1"),
    (Provider.WASABI, {"region": "ap-northeast-2"},
     "https://bkt.s3.ap-northeast-2.wasabisys.com/dir/my%20key", "ap-northeast-2"),
    (Provider.DIGITALOCEAN_SPACES, {},
     "https://bkt.nyc3.digitaloceanspaces.com/dir/my%20key", "nyc3"),
    (Provider.DIGITALOCEAN_SPACES, {"region": "fra1"},
     "https://bkt.fra1.digitaloceanspaces.com/dir/my%20key", "fra1"),
    (Provider.SCALEWAY, {}, "https://bkt.s3.fr-par.scw.cloud/dir/my%20key", "fr-par"),
    (Provider.SCALEWAY, {"region": "pl-waw"},
     "https://bkt.s3.pl-waw.scw.cloud/dir/my%20key", "pl-waw"),
    (Provider.OVHCLOUD, {}, "https://bkt.s3.gra.io.cloud.ovh.net/dir/my%20key", "gra"),
    (Provider.OVHCLOUD, {"region": "bhs"}, "https://bkt.s3.bhs.io.cloud.ovh.net/dir/my%20key",
     "bhs"),
    (Provider.LINODE, {}, "https://bkt.us-east-1.linodeobjects.com/dir/my%20key", "us-east-1"),
    (Provider.LINODE, {"region": "us-iad-1"},
     "https://bkt.us-iad-1.linodeobjects.com/dir/my%20key", "us-iad-1"),
    (Provider.IBM_COS, {},
     "https://bkt.s3.us-south.cloud-object-storage.appdomain.cloud/dir/my%20key", "us-south"),
    (Provider.IBM_COS, {"region": "eu-de"},
     "https://bkt.s3.eu-de.cloud-object-storage.appdomain.cloud/dir/my%20key", "eu-de"),
    (Provider.ORACLE_OCI, {"account": OCI_NAMESPACE, "region": "us-ashburn-1"},
     f"https://{OCI_NAMESPACE}.compat.objectstorage.us-ashburn-1.oraclecloud.com/bkt/"
     "dir/my%20key", "us-ashburn-1"),
    (Provider.ORACLE_OCI, {"account": OCI_NAMESPACE, "region": "eu-frankfurt-1"},
     f"https://{OCI_NAMESPACE}.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/bkt/"
     "dir/my%20key", "eu-frankfurt-1"),
    (Provider.EXOSCALE, {}, "https://bkt.sos-ch-gva-2.exo.io/dir/my%20key", "ch-gva-2"),
    (Provider.EXOSCALE, {"region": "de-fra-1"}, "https://bkt.sos-de-fra-1.exo.io/dir/my%20key",
     "de-fra-1"),
    (Provider.GOOGLE_STORAGE, {}, "https://storage.googleapis.com/bkt/dir/my%20key", "auto"),
    (Provider.GOOGLE_STORAGE, {"region": "europe-west1"},
     "https://storage.googleapis.com/bkt/dir/my%20key", "auto"),
]  # fmt: skip

SELF_HOSTED = [Provider.MINIO, Provider.CEPH, Provider.S3_RGW, Provider.SEAWEEDFS]


def make(provider: str, **options: Any) -> S3StorageDriver:
    cls = get_driver(provider)
    assert issubclass(cls, S3StorageDriver)
    options.setdefault("retry_policy", RetryPolicy(max_attempts=2, backoff_base=0))
    return cls(ACCESS_KEY, SECRET, **options)


@pytest.fixture(autouse=True)
def _restore_presets() -> Iterator[None]:
    presets = dict(providers_module._presets)
    yield
    providers_module._presets.clear()
    providers_module._presets.update(presets)


def _container(driver: S3StorageDriver, name: str = "bkt") -> Container:
    return Container(name, {}, driver)


def _bucket_url(object_url: str) -> str:
    """The bucket's URL for an object URL of key "dir/my key" (virtual: ``/``; path: ``/bkt``)."""
    virtual = object_url.startswith("https://bkt.")
    return object_url.removesuffix("dir/my%20key" if virtual else "/dir/my%20key")


# -- endpoints, hosts and signing regions ----------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "options", "url", "region"), HOSTED, ids=[f"{h[0]}-{h[3]}" for h in HOSTED]
)
def test_hosted_preset_head_object(
    mock: responses.RequestsMock, provider: str, options: dict[str, Any], url: str, region: str
) -> None:
    driver = make(provider, **options)
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    obj = driver.get_object("bkt", "dir/my key")
    assert obj.size == 3
    assert sent(mock) == [("HEAD", url)]
    check_signed(mock.calls[0].request, region=region)
    assert driver.signing_region == region


@pytest.mark.parametrize(
    ("provider", "options", "url", "region"), HOSTED, ids=[f"{h[0]}-{h[3]}" for h in HOSTED]
)
def test_hosted_preset_listing(
    mock: responses.RequestsMock, provider: str, options: dict[str, Any], url: str, region: str
) -> None:
    driver = make(provider, **options)
    listing = f"{_bucket_url(url)}?list-type=2&prefix=dir%2F"
    mock.add(responses.GET, listing, body=listing_xml(["dir/a", "dir/b"]))
    names = [o.name for o in driver.iterate_container_objects(_container(driver), prefix="dir/")]
    assert names == ["dir/a", "dir/b"]
    assert sent(mock) == [("GET", listing)]
    check_signed(mock.calls[0].request, region=region)


@pytest.mark.parametrize(
    ("provider", "options", "url", "region"), HOSTED, ids=[f"{h[0]}-{h[3]}" for h in HOSTED]
)
def test_hosted_preset_presigned_url(
    provider: str, options: dict[str, Any], url: str, region: str
) -> None:
    driver = make(provider, **options)
    obj = driver._object_from_headers(_container(driver), "dir/my key", HEAD_OK)
    presigned = urlsplit(driver.get_object_cdn_url(obj))
    assert f"{presigned.scheme}://{presigned.netloc}{presigned.path}" == url
    credential = parse_qs(presigned.query)["X-Amz-Credential"][0]
    assert credential.split("/")[2:] == [region, "s3", "aws4_request"]


@pytest.mark.parametrize(
    "alias", sorted(n for n in BUNDLED_PRESET_NAMES if PRESETS[n].alias_of == "s3")
)
def test_every_aws_alias_binds_its_region(mock: responses.RequestsMock, alias: str) -> None:
    region = PRESETS[alias].default_region
    assert region is not None
    driver = make(alias)
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.{suffix}"
    url = f"https://bkt.{host}/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    assert sent(mock) == [("HEAD", url)]
    check_signed(mock.calls[0].request, region=region)
    assert driver.region == region


def test_alias_region_can_still_be_overridden(mock: responses.RequestsMock) -> None:
    driver = make(Provider.S3_EU_WEST, region="eu-west-2")
    assert driver.host == "s3.eu-west-2.amazonaws.com"


@pytest.mark.parametrize("provider", SELF_HOSTED)
def test_self_hosted_presets_use_path_style_on_the_given_host(
    mock: responses.RequestsMock, provider: str
) -> None:
    driver = make(provider, host="s3.test", port=9000, secure=False)
    url = "http://s3.test:9000/bkt/dir/my%20key"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "dir/my key")
    assert sent(mock) == [("HEAD", url)]
    check_signed(mock.calls[0].request, region="us-east-1")


@pytest.mark.parametrize("provider", SELF_HOSTED)
def test_self_hosted_presets_need_a_host(provider: str) -> None:
    with pytest.raises(InvalidArgumentError, match="host"):
        make(provider)


def test_hosted_preset_with_an_explicit_host_goes_path_style(mock: responses.RequestsMock) -> None:
    # A gateway or proxy in front of Wasabi: the caller's host, path style, same signing.
    driver = make(Provider.WASABI, host="proxy.test", region="eu-central-1")
    url = "https://proxy.test/bkt/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    check_signed(mock.calls[0].request, region="eu-central-1")


def test_region_is_inferred_from_a_b2_host(mock: responses.RequestsMock) -> None:
    driver = make(Provider.BACKBLAZE_B2, host="s3.us-east-005.backblazeb2.com")
    url = "https://s3.us-east-005.backblazeb2.com/bkt/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    check_signed(mock.calls[0].request, region="us-east-005")


def test_forced_path_style_on_a_virtual_preset(mock: responses.RequestsMock) -> None:
    driver = make(Provider.SCALEWAY, addressing_style="path")
    url = "https://s3.fr-par.scw.cloud/bkt/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    assert sent(mock) == [("HEAD", url)]


def test_forced_virtual_style_on_r2(mock: responses.RequestsMock) -> None:
    driver = make(Provider.CLOUDFLARE_R2, account=R2_ACCOUNT, addressing_style="virtual")
    url = f"https://bkt.{R2_ACCOUNT}.r2.cloudflarestorage.com/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    check_signed(mock.calls[0].request, region="auto")


@pytest.mark.parametrize(
    ("provider", "options", "error", "message"),
    [
        (Provider.ORACLE_OCI, {"account": OCI_NAMESPACE, "region": "us-ashburn-1",
                               "addressing_style": "virtual"}, NotSupportedError, "virtual"),
        (Provider.BACKBLAZE_B2, {"region": "us-west-004", "secure": False},
         InvalidArgumentError, "HTTPS only"),
        (Provider.BACKBLAZE_B2, {}, InvalidArgumentError, "needs region="),
        (Provider.CLOUDFLARE_R2, {}, InvalidArgumentError, "needs account="),
        (Provider.ORACLE_OCI, {"region": "us-ashburn-1"}, InvalidArgumentError,
         "needs account="),
    ],
)  # fmt: skip
def test_construction_errors_name_the_provider(
    provider: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        make(provider, **options)
    assert PRESETS[provider].title in str(info.value)


def test_preset_object_passed_to_the_plain_driver(mock: responses.RequestsMock) -> None:
    preset = S3Preset(name="acme", title="ACME", endpoint="objects.{region}.acme.test",
                      default_region="zone-9", addressing="virtual")  # fmt: skip
    driver = S3StorageDriver(ACCESS_KEY, SECRET, preset=preset)
    url = "https://bkt.objects.zone-9.acme.test/k"
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object("bkt", "k")
    check_signed(mock.calls[0].request, region="zone-9")


# -- creating buckets: location constraints and "already exists" -----------------------------


def _constraint(body: Any) -> str | None:
    if not body:
        return None
    root = etree.fromstring(body)
    assert root.tag == f"{{{S3_NS}}}CreateBucketConfiguration"
    return root.findtext(f"{{{S3_NS}}}LocationConstraint")


@pytest.mark.parametrize(
    ("provider", "options", "bucket_url", "constraint", "region"),
    [
        (Provider.IBM_COS, {"region": "eu-de"},
         "https://new-bucket.s3.eu-de.cloud-object-storage.appdomain.cloud/", "eu-de-standard",
         "eu-de"),
        (Provider.WASABI, {"region": "eu-west-1"}, "https://new-bucket.s3.eu-west-1.wasabisys.com/",
         "eu-west-1", "eu-west-1"),
        (Provider.LINODE, {"region": "eu-central-1"},
         "https://new-bucket.eu-central-1.linodeobjects.com/", "eu-central-1", "eu-central-1"),
        (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT, "region": "eu"},
         f"https://{R2_ACCOUNT}.eu.r2.cloudflarestorage.com/new-bucket", None, "auto"),
        (Provider.BACKBLAZE_B2, {"region": "us-west-004"},
         "https://new-bucket.s3.us-west-004.backblazeb2.com/", None, "us-west-004"),
    ],
)  # fmt: skip
def test_create_bucket_looks_first_then_sends_the_location(
    mock: responses.RequestsMock,
    provider: str,
    options: dict[str, Any],
    bucket_url: str,
    constraint: str,
    region: str,
) -> None:
    driver = make(provider, **options)
    mock.add(responses.HEAD, bucket_url, status=404)
    mock.add(responses.PUT, bucket_url)
    container = driver.create_container("new-bucket")
    assert container.extra == {"region": driver.region}
    assert [m for m, _ in sent(mock)] == ["HEAD", "PUT"]
    put = mock.calls[1].request
    assert _constraint(put.body) == constraint
    check_signed(put, region=region)


@pytest.mark.parametrize(
    ("provider", "options", "bucket_url", "constraint", "region"),
    [
        (Provider.GOOGLE_STORAGE, {}, "https://storage.googleapis.com/new-bucket", None, "auto"),
        (Provider.GOOGLE_STORAGE, {"region": "europe-west1"},
         "https://storage.googleapis.com/new-bucket", "europe-west1", "auto"),
        (Provider.MINIO, {"host": "minio.test"}, "https://minio.test/new-bucket", None,
         "us-east-1"),
    ],
)  # fmt: skip
def test_create_bucket_in_one_request_where_the_store_reports_conflicts(
    mock: responses.RequestsMock,
    provider: str,
    options: dict[str, Any],
    bucket_url: str,
    constraint: str | None,
    region: str,
) -> None:
    driver = make(provider, **options)
    mock.add(responses.PUT, bucket_url)
    driver.create_container("new-bucket")
    assert sent(mock) == [("PUT", bucket_url)]
    assert _constraint(mock.calls[0].request.body) == constraint
    check_signed(mock.calls[0].request, region=region)


@pytest.mark.parametrize("code", ["BucketAlreadyOwnedByYou", "BucketAlreadyExists"])
def test_minio_reports_an_existing_bucket_with_a_409(
    mock: responses.RequestsMock, code: str
) -> None:
    driver = make(Provider.MINIO, host="s3.test", port=9000, secure=False)
    mock.add(responses.PUT, "http://s3.test:9000/taken", status=409, body=s3_error(code))
    with pytest.raises(ContainerAlreadyExistsError) as info:
        driver.create_container("taken")
    assert info.value.code == code
    assert sent(mock) == [("PUT", "http://s3.test:9000/taken")]


def test_ceph_looks_first_because_it_answers_200(mock: responses.RequestsMock) -> None:
    driver = make(Provider.CEPH, host="s3.test", port=9000, secure=False)
    mock.add(responses.HEAD, "http://s3.test:9000/taken")
    with pytest.raises(ContainerAlreadyExistsError, match="already exists"):
        driver.create_container("taken")
    assert sent(mock) == [("HEAD", "http://s3.test:9000/taken")]


# -- ACLs, checksums and conditional headers ----------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "options", "acl"),
    [
        (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT}, "private"),
        (Provider.ORACLE_OCI, {"account": OCI_NAMESPACE, "region": "us-ashburn-1"}, "private"),
        (Provider.MINIO, {"host": "s3.test"}, "public-read"),
        (Provider.BACKBLAZE_B2, {"region": "us-west-004"}, "authenticated-read"),
        (Provider.DIGITALOCEAN_SPACES, {}, "bucket-owner-full-control"),
    ],
)
def test_acl_the_store_lacks_is_refused_before_any_request(
    mock: responses.RequestsMock, tmp_path: Path, provider: str, options: dict[str, Any], acl: str
) -> None:
    driver = make(provider, **options)
    source = tmp_path / "f.txt"
    source.write_bytes(b"data")
    with pytest.raises(NotSupportedError, match=re.escape(PRESETS[provider].title)):
        driver.upload_object_via_stream(iter([b"data"]), _container(driver), "k", {"acl": acl})
    with pytest.raises(NotSupportedError):
        driver.upload_object(source, _container(driver), "k", {"acl": acl})
    with pytest.raises(NotSupportedError):
        driver.upload_object(source, _container(driver), "k", headers={"x-amz-acl": acl})
    assert sent(mock) == []


def _put_reply(data: bytes) -> dict[str, str]:
    return {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}


def test_acl_the_store_has_is_sent(mock: responses.RequestsMock) -> None:
    driver = make(Provider.BACKBLAZE_B2, region="us-west-004", payload_signing="always")
    url = "https://bkt.s3.us-west-004.backblazeb2.com/k"
    mock.add(responses.PUT, url, headers=_put_reply(b"data"))
    driver.upload_object_via_stream(
        iter([b"data"]), _container(driver), "k", {"acl": "public-read"}
    )
    assert mock.calls[0].request.headers["x-amz-acl"] == "public-read"
    check_signed(mock.calls[0].request, region="us-west-004")


def test_google_gets_content_md5_and_no_flexible_checksum(mock: responses.RequestsMock) -> None:
    driver = make(Provider.GOOGLE_STORAGE, payload_signing="always")
    assert driver.checksum == "md5"
    url = "https://storage.googleapis.com/bkt/k"
    mock.add(responses.PUT, url, headers=_put_reply(b"data"))
    driver.upload_object_via_stream(iter([b"data"]), _container(driver), "k")
    request = mock.calls[0].request
    assert not [h for h in request.headers if h.lower().startswith("x-amz-checksum")]
    assert request.headers["Content-MD5"] == "jXd/OF09/siBXSD3SWAm3A=="
    check_signed(request, region="auto")


def test_aws_keeps_the_default_checksum() -> None:
    assert make(Provider.S3).checksum == "crc32"
    assert make(Provider.WASABI).checksum == "crc32"


@pytest.mark.parametrize(
    ("provider", "options", "headers", "message"),
    [
        (Provider.GOOGLE_STORAGE, {}, {"x-amz-checksum-sha256": "x"}, "SHA256"),
        (Provider.EXOSCALE, {}, {"If-None-Match": "*"}, "conditional writes"),
        (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT}, {"X-Amz-Acl": "private"},
         "access control"),
    ],
)  # fmt: skip
def test_caller_headers_asking_for_a_missing_feature_are_refused(
    mock: responses.RequestsMock,
    provider: str,
    options: dict[str, Any],
    headers: dict[str, str],
    message: str,
) -> None:
    driver = make(provider, **options)
    with pytest.raises(NotSupportedError, match=message):
        driver.upload_object_via_stream(iter([b"d"]), _container(driver), "k", headers=headers)
    assert sent(mock) == []


# -- part limits and sizes ---------------------------------------------------------------------


def _multipart_replies(mock: responses.RequestsMock, key_url: str, parts: list[bytes]) -> None:
    mock.add(
        responses.POST,
        f"{key_url}?uploads",
        body=(
            f'<InitiateMultipartUploadResult xmlns="{S3_NS}"><UploadId>UP</UploadId>'
            "</InitiateMultipartUploadResult>"
        ),
    )
    for number, data in enumerate(parts, start=1):
        mock.add(
            responses.PUT,
            f"{key_url}?partNumber={number}&uploadId=UP",
            headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'},
        )


def test_max_parts_of_the_preset_sizes_file_parts(
    mock: responses.RequestsMock, tmp_path: Path
) -> None:
    # A preset that takes 2 parts: a 12 MiB file goes as 2 parts of 6 MiB, not 3 of 5 MiB.
    register_preset(dataclasses.replace(PRESETS["scaleway"], max_parts=2), clobber=True)
    driver = make(
        Provider.SCALEWAY, transfer=TransferConfig(concurrency=1), payload_signing="always"
    )
    data = bytes(range(256)) * (12 * MiB // 256)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    key_url = "https://bkt.s3.fr-par.scw.cloud/big.bin"
    parts = [data[: 6 * MiB], data[6 * MiB :]]
    _multipart_replies(mock, key_url, parts)
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    etag = f"{hashlib.md5(joined).hexdigest()}-2"
    mock.add(
        responses.POST,
        f"{key_url}?uploadId=UP",
        body=f'<CompleteMultipartUploadResult xmlns="{S3_NS}"><ETag>"{etag}"</ETag>'
        "</CompleteMultipartUploadResult>",
    )
    obj = driver.upload_object(source, _container(driver), "big.bin")
    assert obj.size == 12 * MiB
    bodies = [c.request.body for c in mock.calls if "partNumber" in (c.request.url or "")]
    assert [len(b) for b in bodies if isinstance(b, bytes)] == [6 * MiB, 6 * MiB]
    for call in mock.calls:
        check_signed(call.request, region="fr-par")


def test_stream_beyond_the_preset_part_limit_is_aborted(mock: responses.RequestsMock) -> None:
    register_preset(dataclasses.replace(PRESETS["scaleway"], max_parts=2), clobber=True)
    driver = make(Provider.SCALEWAY, transfer=TransferConfig(concurrency=1))
    key_url = "https://bkt.s3.fr-par.scw.cloud/s.bin"
    part = b"p" * (5 * MiB)
    _multipart_replies(mock, key_url, [part, part])
    mock.add(responses.DELETE, f"{key_url}?uploadId=UP", status=204)
    with pytest.raises(MultipartUploadError, match="2 parts"):
        driver.upload_object_via_stream(iter([part, part, part]), _container(driver), "s.bin")
    assert sent(mock)[-1] == ("DELETE", f"{key_url}?uploadId=UP")


@pytest.mark.parametrize(
    ("provider", "options", "equal"),
    [
        (Provider.CLOUDFLARE_R2, {"account": R2_ACCOUNT}, True),
        (Provider.S3, {}, False),
        (Provider.WASABI, {}, False),
    ],
)
def test_stream_part_sizing_follows_the_equal_size_rule(
    monkeypatch: pytest.MonkeyPatch, provider: str, options: dict[str, Any], equal: bool
) -> None:
    seen: list[dict[str, Any]] = []
    real = s3_module.PartSizer

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise RuntimeError("stop after sizing")

    monkeypatch.setattr(s3_module, "PartSizer", recording)
    driver = make(provider, **options)
    with pytest.raises(RuntimeError, match="stop after sizing"):
        driver.upload_object_via_stream(iter([b"x"]), _container(driver), "k")
    assert seen[0]["equal_parts"] is equal
    assert seen[0]["max_parts"] == PRESETS[provider].max_parts
    sizer = real(5 * MiB, equal_parts=equal)
    assert sizer.growing is not equal  # equal-sized parts never grow


def test_scaleway_default_part_limit_reaches_the_sizer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise RuntimeError("stop")

    monkeypatch.setattr(s3_module, "PartSizer", recording)
    driver = make(Provider.SCALEWAY)
    with pytest.raises(RuntimeError):
        driver.upload_object_via_stream(iter([b"x"]), _container(driver), "k")
    assert seen[0]["max_parts"] == 1000


# -- listing versions ----------------------------------------------------------------------------


def _v1_listing(keys: list[str], truncated: bool, next_marker: str | None = None) -> bytes:
    contents = "".join(
        f"<Contents><Key>{k}</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified>"
        f'<ETag>"{hashlib.md5(k.encode()).hexdigest()}"</ETag><Size>1</Size></Contents>'
        for k in keys
    )
    marker = f"<NextMarker>{next_marker}</NextMarker>" if next_marker else ""
    return (
        f'<ListBucketResult xmlns="{S3_NS}"><Name>bkt</Name>'
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{marker}{contents}"
        "</ListBucketResult>"
    ).encode()


def test_list_objects_v1_preset_pages_with_markers(mock: responses.RequestsMock) -> None:
    register_preset(S3Preset(name="old-appliance", title="Old appliance", list_objects_version=1))
    driver = make("old-appliance", host="s3.test", port=9000, secure=False)
    base = "http://s3.test:9000/bkt"
    mock.add(responses.GET, f"{base}?prefix=p%2F", body=_v1_listing(["p/a", "p/b"], True))
    mock.add(
        responses.GET,
        f"{base}?marker=p%2Fb&prefix=p%2F",
        body=_v1_listing(["p/c"], True, next_marker="p/c"),
    )
    mock.add(responses.GET, f"{base}?marker=p%2Fc&prefix=p%2F", body=_v1_listing([], False))
    names = [o.name for o in driver.iterate_container_objects(_container(driver), prefix="p/")]
    assert names == ["p/a", "p/b", "p/c"]
    for call in mock.calls:
        assert "list-type" not in (call.request.url or "")
        check_signed(call.request)


@pytest.mark.parametrize(
    ("provider", "extra", "message"),
    [
        (Provider.EXOSCALE, {"if_none_match": "*"}, "conditional writes"),
        (Provider.EXOSCALE, {"if_match": "0123456789abcdef0123456789abcdef"},
         "conditional writes"),
        (Provider.GOOGLE_STORAGE, {"checksum_algorithm": "SHA256"}, "SHA256"),
    ],
)  # fmt: skip
def test_extra_options_asking_for_a_missing_feature_are_refused(
    mock: responses.RequestsMock, provider: str, extra: dict[str, str], message: str
) -> None:
    driver = make(provider)
    with pytest.raises(NotSupportedError, match=message):
        driver.upload_object_via_stream(iter([b"d"]), _container(driver), "k", extra=extra)
    assert sent(mock) == []


def test_bulk_delete_is_refused_where_the_store_lacks_it(mock: responses.RequestsMock) -> None:
    driver = make(Provider.GOOGLE_STORAGE)
    with pytest.raises(NotSupportedError, match="DeleteObjects"):
        driver.delete_objects(_container(driver), ["a", "b"])
    assert sent(mock) == []


def test_bulk_delete_sends_content_md5(mock: responses.RequestsMock) -> None:
    driver = make(Provider.WASABI, payload_signing="always")
    assert PRESETS["wasabi"].bulk_delete_content_md5
    url = "https://bkt.s3.us-east-1.wasabisys.com/?delete"
    mock.add(
        responses.POST,
        url,
        body=f'<DeleteResult xmlns="{S3_NS}"><Deleted><Key>a</Key></Deleted></DeleteResult>',
    )
    driver.delete_objects(_container(driver), ["a"])
    request = mock.calls[0].request
    body = request.body
    assert isinstance(body, bytes)
    assert request.headers["Content-MD5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    check_signed(request, region="us-east-1")


def test_large_copy_without_upload_part_copy_streams_instead(
    mock: responses.RequestsMock,
) -> None:
    # Google has no UploadPartCopy: a copy above the threshold goes through this process.
    driver = make(Provider.GOOGLE_STORAGE, transfer=TransferConfig(copy_threshold=1, concurrency=1))
    md5 = hashlib.md5(b"abc").hexdigest()
    source = driver._object_from_headers(
        _container(driver), "src", {"ETag": f'"{md5}"', "Content-Length": "3"}
    )
    base = "https://storage.googleapis.com/bkt"
    mock.add(responses.GET, f"{base}/src", body=b"abc", headers={"ETag": f'"{md5}"'})
    mock.add(responses.PUT, f"{base}/dst", headers={"ETag": f'"{md5}"'})
    copied = driver.copy_object(source, _container(driver), "dst")
    assert (copied.name, copied.size) == ("dst", 3)
    assert sent(mock) == [("GET", f"{base}/src"), ("PUT", f"{base}/dst")]


def test_an_explicit_checksum_the_store_refuses_fails_at_construction() -> None:
    with pytest.raises(NotSupportedError, match="SHA256"):
        make(Provider.GOOGLE_STORAGE, checksum="sha256")
    assert make(Provider.S3, checksum="sha256").preset.name == "s3"
