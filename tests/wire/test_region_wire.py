"""Regions and endpoints at the wire: redirects, discovery, dual-stack, FIPS, acceleration."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from wirekit import ACCESS_KEY, SECRET, check_signed, listing_xml, s3_error

from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.types import ContainerDoesNotExistError, InvalidArgumentError, LibstoreError

GLOBAL = "https://bkt.s3.amazonaws.com"
EU = "https://bkt.s3.eu-west-1.amazonaws.com"


def aws_driver(**kwargs: Any) -> S3StorageDriver:
    kwargs.setdefault("retry_policy", RetryPolicy(max_attempts=2, backoff_base=0))
    return S3StorageDriver(ACCESS_KEY, SECRET, **kwargs)


def _list(driver: S3StorageDriver, bucket: str = "bkt") -> list[str]:
    return [o.name for o in driver.list_container_objects(Container(bucket, {}, driver))]


def error_with_region(code: str, region: str) -> bytes:
    return (
        f"<Error><Code>{code}</Code><Message>wrong region</Message><Region>{region}</Region>"
        "<RequestId>R</RequestId></Error>"
    ).encode()


# -- transparent redirects ------------------------------------------------------------------


def test_permanent_redirect_is_followed_to_the_bucket_region(
    mock: responses.RequestsMock,
) -> None:
    driver = aws_driver()
    mock.add(
        responses.GET,
        f"{GLOBAL}/?list-type=2",
        status=301,
        body=s3_error("PermanentRedirect"),
        headers={"x-amz-bucket-region": "eu-west-1"},
    )
    mock.add(responses.GET, f"{EU}/?list-type=2", body=listing_xml(["a"]))
    mock.add(responses.GET, f"{EU}/?list-type=2", body=listing_xml(["a"]))

    assert _list(driver) == ["a"]
    check_signed(mock.calls[0].request, region="us-east-1")
    check_signed(mock.calls[1].request, region="eu-west-1")
    assert driver.bucket_region("bkt") == "eu-west-1"
    assert _list(driver) == ["a"]  # cached: straight to eu-west-1
    check_signed(mock.calls[2].request, region="eu-west-1")
    assert len(mock.calls) == 3


def test_wrong_signing_region_in_the_error_body(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(
        responses.GET,
        f"{GLOBAL}/?list-type=2",
        status=400,
        body=error_with_region("AuthorizationHeaderMalformed", "ap-south-1"),
    )
    mock.add(
        responses.GET,
        "https://bkt.s3.ap-south-1.amazonaws.com/?list-type=2",
        body=listing_xml([]),
    )
    assert _list(driver) == []
    check_signed(mock.calls[1].request, region="ap-south-1")


def test_head_redirect_without_body_uses_the_header(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(
        responses.HEAD, f"{GLOBAL}/key", status=301, headers={"x-amz-bucket-region": "eu-west-1"}
    )
    mock.add(
        responses.HEAD,
        f"{EU}/key",
        headers={"ETag": '"0123456789abcdef0123456789abcdef"', "Content-Length": "3"},
    )
    assert driver.get_object("bkt", "key").size == 3


def test_redirect_without_region_discovers_it_unsigned(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(
        responses.GET, f"{GLOBAL}/?list-type=2", status=301, body=s3_error("PermanentRedirect")
    )
    mock.add(responses.HEAD, f"{GLOBAL}/", status=403, headers={"x-amz-bucket-region": "eu-west-1"})
    mock.add(responses.GET, f"{EU}/?list-type=2", body=listing_xml(["a"]))
    assert _list(driver) == ["a"]
    discovery = mock.calls[1].request
    assert discovery.method == "HEAD"
    assert "Authorization" not in discovery.headers


def test_redirect_to_an_unknown_region_is_an_error(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(
        responses.GET, f"{GLOBAL}/?list-type=2", status=301, body=s3_error("PermanentRedirect")
    )
    mock.add(responses.HEAD, f"{GLOBAL}/", status=403)
    mock.add(responses.HEAD, f"{GLOBAL}/", status=403)  # the signed attempt
    with pytest.raises(LibstoreError) as info:
        _list(driver)
    assert info.value.http_status == 301


def test_custom_endpoint_redirect_only_changes_the_signing_region(
    mock: responses.RequestsMock,
) -> None:
    driver = aws_driver(secure=False, host="s3.test", port=9000)
    url = "http://s3.test:9000/bkt?list-type=2"
    mock.add(
        responses.GET,
        url,
        status=400,
        body=error_with_region("AuthorizationHeaderMalformed", "us-west-2"),
    )
    mock.add(responses.GET, url, body=listing_xml(["a"]))
    assert _list(driver) == ["a"]
    check_signed(mock.calls[1].request, region="us-west-2")


def test_fixed_signing_region_providers_are_not_redirected(mock: responses.RequestsMock) -> None:
    r2 = S3StorageDriver(ACCESS_KEY, SECRET, account="abc123", preset="cloudflare_r2")
    url = "https://abc123.r2.cloudflarestorage.com/bkt?list-type=2"
    mock.add(
        responses.GET,
        url,
        status=400,
        body=error_with_region("AuthorizationHeaderMalformed", "us-west-2"),
    )
    with pytest.raises(LibstoreError):
        _list(r2)
    assert len(mock.calls) == 1


def test_other_400s_are_not_redirects(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(responses.GET, f"{GLOBAL}/?list-type=2", status=400, body=s3_error("InvalidArgument"))
    with pytest.raises(LibstoreError):
        _list(driver)
    assert len(mock.calls) == 1


# -- discovery ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 301, 403])
def test_discover_region_reads_the_header_of_an_unsigned_head(
    mock: responses.RequestsMock, status: int
) -> None:
    driver = aws_driver()
    mock.add(
        responses.HEAD, f"{GLOBAL}/", status=status, headers={"x-amz-bucket-region": "sa-east-1"}
    )
    assert driver.discover_region("bkt") == "sa-east-1"
    assert "Authorization" not in mock.calls[0].request.headers
    assert driver.discover_region("bkt") == "sa-east-1"  # cached
    assert len(mock.calls) == 1
    mock.add(responses.HEAD, f"{GLOBAL}/", headers={"x-amz-bucket-region": "sa-east-1"})
    driver.discover_region("bkt", refresh=True)
    assert len(mock.calls) == 2


def test_discover_region_falls_back_to_a_signed_head(mock: responses.RequestsMock) -> None:
    driver = aws_driver(secure=False, host="s3.test", port=9000)
    mock.add(responses.HEAD, "http://s3.test:9000/bkt", status=403)
    mock.add(
        responses.HEAD, "http://s3.test:9000/bkt", headers={"x-amz-bucket-region": "eu-north-1"}
    )
    assert driver.discover_region("bkt") == "eu-north-1"
    assert "Authorization" not in mock.calls[0].request.headers
    check_signed(mock.calls[1].request)


def test_discover_region_of_a_missing_bucket(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(responses.HEAD, f"{GLOBAL}/", status=404)
    with pytest.raises(ContainerDoesNotExistError):
        driver.discover_region("bkt")


def test_discover_region_when_the_store_does_not_say(mock: responses.RequestsMock) -> None:
    driver = aws_driver(secure=False, host="s3.test", port=9000)
    mock.add(responses.HEAD, "http://s3.test:9000/bkt", status=403)
    mock.add(responses.HEAD, "http://s3.test:9000/bkt")
    assert driver.discover_region("bkt") is None
    assert driver.bucket_region("bkt") == "us-east-1"


def test_dotted_bucket_redirect_stays_path_style(mock: responses.RequestsMock) -> None:
    driver = aws_driver()
    mock.add(
        responses.GET,
        "https://s3.amazonaws.com/my.bucket?list-type=2",
        status=301,
        headers={"x-amz-bucket-region": "eu-west-1"},
        body=s3_error("PermanentRedirect"),
    )
    mock.add(
        responses.GET,
        "https://s3.eu-west-1.amazonaws.com/my.bucket?list-type=2",
        body=listing_xml([]),
    )
    assert _list(driver, "my.bucket") == []


# -- endpoint options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        (
            {"region": "us-east-2", "dualstack": True},
            "https://bkt.s3.dualstack.us-east-2.amazonaws.com/k",
        ),
        ({"dualstack": True}, "https://bkt.s3.dualstack.us-east-1.amazonaws.com/k"),
        (
            {"region": "us-gov-west-1", "fips": True},
            "https://bkt.s3-fips.us-gov-west-1.amazonaws.com/k",
        ),
        (
            {"region": "ca-central-1", "fips": True, "dualstack": True},
            "https://bkt.s3-fips.dualstack.ca-central-1.amazonaws.com/k",
        ),
        ({"accelerate": True}, "https://bkt.s3-accelerate.amazonaws.com/k"),
        (
            {"accelerate": True, "dualstack": True},
            "https://bkt.s3-accelerate.dualstack.amazonaws.com/k",
        ),
        ({"region": "cn-north-1"}, "https://bkt.s3.cn-north-1.amazonaws.com.cn/k"),
        ({"region": "me-west-9"}, "https://bkt.s3.me-west-9.amazonaws.com/k"),
    ],
)
def test_endpoint_options_pick_the_host(
    mock: responses.RequestsMock, kwargs: dict[str, Any], url: str
) -> None:
    driver = aws_driver(**kwargs)
    mock.add(
        responses.HEAD,
        url,
        headers={"ETag": '"0123456789abcdef0123456789abcdef"', "Content-Length": "1"},
    )
    driver.get_object("bkt", "k")
    check_signed(mock.calls[0].request, region=kwargs.get("region", "us-east-1"))


def test_accelerate_is_not_used_for_bucket_creation(mock: responses.RequestsMock) -> None:
    driver = aws_driver(accelerate=True, region="eu-west-1")
    mock.add(responses.HEAD, "https://bkt.s3.eu-west-1.amazonaws.com/", status=404)
    mock.add(responses.PUT, "https://bkt.s3.eu-west-1.amazonaws.com/")
    driver.create_container("bkt")


def test_accelerate_redirect_keeps_the_accelerate_host(mock: responses.RequestsMock) -> None:
    driver = aws_driver(accelerate=True)
    url = "https://bkt.s3-accelerate.amazonaws.com/key"
    mock.add(responses.HEAD, url, status=400, headers={"x-amz-bucket-region": "eu-west-1"})
    mock.add(responses.HEAD, url, headers={"ETag": '"0123456789abcdef0123456789abcdef"'})
    driver.get_object("bkt", "key")
    check_signed(mock.calls[1].request, region="eu-west-1")


def test_redirect_with_dualstack_keeps_dualstack(mock: responses.RequestsMock) -> None:
    driver = aws_driver(dualstack=True, region="us-east-2")
    mock.add(
        responses.HEAD,
        "https://bkt.s3.dualstack.us-east-2.amazonaws.com/key",
        status=301,
        headers={"x-amz-bucket-region": "eu-west-1"},
    )
    mock.add(
        responses.HEAD,
        "https://bkt.s3.dualstack.eu-west-1.amazonaws.com/key",
        headers={"ETag": '"0123456789abcdef0123456789abcdef"'},
    )
    driver.get_object("bkt", "key")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dualstack": True, "host": "minio.local"}, "Amazon S3's own endpoints"),
        ({"fips": True, "preset": "wasabi"}, "Amazon S3's own endpoints"),
        ({"accelerate": True, "fips": True}, "no FIPS endpoint"),
        ({"accelerate": True, "addressing_style": "path"}, "virtual-hosted"),
        ({"accelerate": True, "region": "cn-north-1"}, "China"),
        ({"dualstack": "yes"}, "True or False"),
    ],
)
def test_endpoint_option_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        aws_driver(**kwargs)


def test_accelerate_refuses_dotted_buckets_before_sending(mock: responses.RequestsMock) -> None:
    driver = aws_driver(accelerate=True)
    with pytest.raises(InvalidArgumentError, match="Transfer Acceleration"):
        driver.get_object("my.bucket", "key")
    assert len(mock.calls) == 0


def test_redirect_on_a_regional_preset_moves_to_its_regional_host(
    mock: responses.RequestsMock,
) -> None:
    driver = aws_driver(preset="wasabi", region="us-east-1")
    mock.add(
        responses.HEAD,
        "https://bkt.s3.us-east-1.wasabisys.com/key",
        status=301,
        headers={"x-amz-bucket-region": "eu-central-1"},
    )
    mock.add(
        responses.HEAD,
        "https://bkt.s3.eu-central-1.wasabisys.com/key",
        headers={"ETag": '"0123456789abcdef0123456789abcdef"'},
    )
    driver.get_object("bkt", "key")
    check_signed(mock.calls[1].request, region="eu-central-1")
