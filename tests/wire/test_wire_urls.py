"""Exact request URLs: key encoding, addressing styles, signing, ListObjectsV2 queries."""

from __future__ import annotations

import pytest
import responses
from wirekit import BASE, SECRET, check_signed, listing_xml, make_driver, sent

from libstore.base import Container, Object
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import ResponseError

HEAD_OK = {"ETag": '"0123456789abcdef0123456789abcdef"', "Content-Length": "3"}

# (key, exact wire path after "/bkt/")
KEYS = [
    ("plain.txt", "plain.txt"),
    ("with space", "with%20space"),
    ("plus+sign", "plus%2Bsign"),
    ("100%", "100%25"),
    ("%41", "%2541"),
    ("hash#frag", "hash%23frag"),
    ("what?x=1", "what%3Fx%3D1"),
    ("tilde~ok", "tilde~ok"),
    ("dir/sub/file", "dir/sub/file"),
    ("/leading", "/leading"),
    ("trailing/", "trailing/"),
    ("double//slash", "double//slash"),
    ("dots/../up", "dots/../up"),
    ("./dot", "./dot"),
    ("..", ".."),
    ("caf\u00e9", "caf%C3%A9"),
    ("\u65e5\u672c/\u8a9e", "%E6%97%A5%E6%9C%AC/%E8%AA%9E"),
    ("emoji\U0001f600", "emoji%F0%9F%98%80"),
    ("semi;colon,comma", "semi%3Bcolon%2Ccomma"),
    ("amp&eq=", "amp%26eq%3D"),
    ("quote'\"", "quote%27%22"),
    ("brackets[]{}", "brackets%5B%5D%7B%7D"),
    ("at@colon:", "at%40colon%3A"),
    ("tab\tnl\n", "tab%09nl%0A"),
    ("star*bang!", "star%2Abang%21"),
    ("back\\slash", "back%5Cslash"),
    ("unreserved-_.~AZaz09", "unreserved-_.~AZaz09"),
]


@pytest.mark.parametrize(("key", "path"), KEYS, ids=[k for k, _ in KEYS])
def test_key_is_percent_encoded_and_signed_as_sent(
    driver: S3StorageDriver, mock: responses.RequestsMock, key: str, path: str
) -> None:
    url = f"{BASE}/bkt/{path}"
    mock.add(responses.HEAD, url, headers=HEAD_OK)

    obj = driver.get_object("bkt", key)

    assert obj.name == key
    assert obj.size == 3
    assert obj.hash == "0123456789abcdef0123456789abcdef"
    assert sent(mock) == [("HEAD", url)]
    check_signed(mock.calls[0].request)


def test_signature_fails_for_another_url(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    # Guards check_signed itself: the same request under a re-quoted URL must not verify.
    mock.add(responses.HEAD, f"{BASE}/bkt/a%20b", headers=HEAD_OK)
    driver.get_object("bkt", "a b")
    request = mock.calls[0].request
    request.url = f"{BASE}/bkt/a+b"
    with pytest.raises(AssertionError):
        check_signed(request)
    request.url = f"{BASE}/bkt/a%20b"
    with pytest.raises(AssertionError):
        check_signed(request, secret=SECRET + "x")


def test_download_url_equals_signed_url(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt/a%20b%2Bc/%25/%C3%A9"
    mock.add(responses.GET, url, body=b"abc")
    obj = Object("a b+c/%/\u00e9", 3, None, {}, {}, Container("bkt", {}, driver), driver)
    assert b"".join(driver.download_object_as_stream(obj)) == b"abc"
    assert sent(mock) == [("GET", url)]
    check_signed(mock.calls[0].request)


# -- addressing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "bucket", "url", "region"),
    [
        ({}, "bucket", "https://bucket.s3.amazonaws.com/dir/my%20key", "us-east-1"),
        (
            {"region": "eu-west-1"},
            "bucket",
            "https://bucket.s3.eu-west-1.amazonaws.com/dir/my%20key",
            "eu-west-1",
        ),
        (
            {},
            "my.dotted.bucket",
            "https://s3.amazonaws.com/my.dotted.bucket/dir/my%20key",
            "us-east-1",
        ),
        (
            {"secure": False},
            "my.dotted.bucket",
            "http://my.dotted.bucket.s3.amazonaws.com/dir/my%20key",
            "us-east-1",
        ),
        ({}, "Legacy_Bucket", "https://s3.amazonaws.com/Legacy_Bucket/dir/my%20key", "us-east-1"),
        (
            {"addressing_style": "path"},
            "bucket",
            "https://s3.amazonaws.com/bucket/dir/my%20key",
            "us-east-1",
        ),
        (
            {"host": "s3.test", "port": 9000, "secure": False},
            "bucket",
            "http://s3.test:9000/bucket/dir/my%20key",
            "us-east-1",
        ),
        (
            {"host": "s3.test", "port": 9000, "secure": False, "addressing_style": "virtual"},
            "bucket",
            "http://bucket.s3.test:9000/dir/my%20key",
            "us-east-1",
        ),
        (
            {"host": "s3.test", "port": 443},
            "bucket",
            "https://s3.test/bucket/dir/my%20key",
            "us-east-1",
        ),
    ],
    ids=[
        "aws-virtual",
        "aws-region-virtual",
        "aws-dotted-https-path",
        "aws-dotted-http-virtual",
        "aws-legacy-name-path",
        "aws-forced-path",
        "custom-host-path",
        "custom-host-virtual",
        "default-port-omitted",
    ],
)
def test_addressing_style(
    mock: responses.RequestsMock, kwargs: dict[str, object], bucket: str, url: str, region: str
) -> None:
    driver = S3StorageDriver("AKIDEXAMPLE", "secret", **kwargs)  # type: ignore[arg-type]
    mock.add(responses.HEAD, url, headers=HEAD_OK)
    driver.get_object(bucket, "dir/my key")
    assert sent(mock) == [("HEAD", url)]
    check_signed(mock.calls[0].request, region=region)


def test_virtual_hosted_bucket_listing_url(mock: responses.RequestsMock) -> None:
    driver = S3StorageDriver("AKIDEXAMPLE", "secret")
    url = "https://bucket.s3.amazonaws.com/?list-type=2"
    mock.add(responses.GET, url, body=listing_xml(["k"]))
    assert [o.name for o in driver.list_container_objects(Container("bucket", {}, driver))] == ["k"]
    assert sent(mock) == [("GET", url)]
    check_signed(mock.calls[0].request)


# -- ListObjectsV2 -------------------------------------------------------------------------


def test_listing_sends_only_list_type(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BASE}/bkt?list-type=2"
    mock.add(responses.GET, url, body=listing_xml(["a", "b"]))
    objs = driver.list_container_objects(Container("bkt", {}, driver))
    assert [(o.name, o.size) for o in objs] == [("a", 0), ("b", 1)]
    assert sent(mock) == [("GET", url)]
    check_signed(mock.calls[0].request)


@pytest.mark.parametrize("prefix", [None, ""])
def test_listing_without_prefix_sends_no_prefix_param(
    driver: S3StorageDriver, mock: responses.RequestsMock, prefix: str | None
) -> None:
    url = f"{BASE}/bkt?list-type=2"
    mock.add(responses.GET, url, body=listing_xml([]))
    assert driver.list_container_objects(Container("bkt", {}, driver), prefix=prefix) == []
    assert sent(mock) == [("GET", url)]


def test_listing_prefix_is_encoded(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    url = f"{BASE}/bkt?list-type=2&prefix=a%20b%2Fc%2Bd%26e%3D%C3%A9~"
    mock.add(responses.GET, url, body=listing_xml(["a b/c+d&e=\u00e9~1"]))
    objs = driver.list_container_objects(Container("bkt", {}, driver), prefix="a b/c+d&e=\u00e9~")
    assert [o.name for o in objs] == ["a b/c+d&e=\u00e9~1"]
    assert sent(mock) == [("GET", url)]
    check_signed(mock.calls[0].request)


def test_listing_follows_continuation_tokens_past_1000_keys(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    tricky = ["  leading spaces", "a&b<c>", "caf\u00e9", "x/../y", "tab\there", "emoji\U0001f600"]
    page1 = [f"p1/{i:04d}" for i in range(1000 - len(tricky))] + tricky
    page2 = [f"p2/{i:04d}" for i in range(1000)]
    page3 = [f"p3/{i:04d}" for i in range(500)]
    token1 = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    token2 = "tok+2 with space&amp"
    urls = [
        f"{BASE}/bkt?list-type=2&prefix=p",
        f"{BASE}/bkt?continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D"
        "&list-type=2&prefix=p",
        f"{BASE}/bkt?continuation-token=tok%2B2%20with%20space%26amp&list-type=2&prefix=p",
    ]
    mock.add(responses.GET, urls[0], body=listing_xml(page1, truncated=True, next_token=token1))
    mock.add(responses.GET, urls[1], body=listing_xml(page2, truncated=True, next_token=token2))
    mock.add(responses.GET, urls[2], body=listing_xml(page3))

    objs = driver.list_container_objects(Container("bkt", {}, driver), prefix="p")

    assert [o.name for o in objs] == page1 + page2 + page3
    assert len(objs) == 2500
    assert sent(mock) == [("GET", u) for u in urls]
    for call in mock.calls:
        check_signed(call.request)
    first = objs[0]
    assert first.size == 0
    assert first.hash == first.extra["etag"]
    assert first.extra["storage_class"] == "STANDARD"
    assert first.extra["last_modified"].isoformat() == "2024-05-01T10:00:00+00:00"


def test_listing_is_lazy_and_reads_one_page_ahead(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    import time

    mock.add(
        responses.GET,
        f"{BASE}/bkt?list-type=2",
        body=listing_xml(["a"], truncated=True, next_token="t"),
    )
    mock.add(
        responses.GET,
        f"{BASE}/bkt?continuation-token=t&list-type=2",
        body=listing_xml(["b"], truncated=True, next_token="u"),
    )
    it = driver.iterate_container_objects(Container("bkt", {}, driver))
    assert len(mock.calls) == 0  # nothing before the first item is asked for
    assert next(it).name == "a"
    deadline = time.monotonic() + 5
    while len(mock.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the second page is asked for while the first is consumed
    time.sleep(0.05)
    assert [call.request.url for call in mock.calls] == [
        f"{BASE}/bkt?list-type=2",
        f"{BASE}/bkt?continuation-token=t&list-type=2",
    ]  # ... and only the second: page three waits until page two is reached
    it.close()  # stopping early: no further request, the helper thread is gone
    assert len(mock.calls) == 2
    import threading

    assert not [t for t in threading.enumerate() if t.name.startswith("libstore-list")]


def test_truncated_page_without_token_is_a_response_error(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, f"{BASE}/bkt?list-type=2", body=listing_xml(["a"], truncated=True))
    with pytest.raises(ResponseError) as info:
        driver.list_container_objects(Container("bkt", {}, driver))
    assert info.value.container_name == "bkt"
    assert len(mock.calls) == 1


def test_repeated_continuation_token_stops(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(
        responses.GET,
        f"{BASE}/bkt?list-type=2",
        body=listing_xml(["a"], truncated=True, next_token="same"),
    )
    mock.add(
        responses.GET,
        f"{BASE}/bkt?continuation-token=same&list-type=2",
        body=listing_xml(["b"], truncated=True, next_token="same"),
    )
    with pytest.raises(ResponseError):
        driver.list_container_objects(Container("bkt", {}, driver))
    assert len(mock.calls) == 2


def test_listing_entry_without_size_is_a_response_error(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    body = (
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents></ListBucketResult>"
    )
    mock.add(responses.GET, f"{BASE}/bkt?list-type=2", body=body)
    with pytest.raises(ResponseError):
        driver.list_container_objects(Container("bkt", {}, driver))


def test_driver_repr_and_url_builder_hold_no_secret() -> None:
    driver = make_driver(secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzSECRET")
    assert "wJalrXUtnFEMI" not in repr(driver)
    assert repr(driver) == (
        "<S3StorageDriver endpoint='s3.test:9000' region='us-east-1' access_key='AKIDEXAMPLE'>"
    )


def _buckets_xml(names: list[str], token: str | None = None) -> bytes:
    buckets = "".join(
        f"<Bucket><Name>{n}</Name><CreationDate>2024-01-02T03:04:05.000Z</CreationDate>"
        "<BucketRegion>eu-west-1</BucketRegion></Bucket>"
        for n in names
    )
    tok = f"<ContinuationToken>{token}</ContinuationToken>" if token else ""
    return (
        f'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>o</ID></Owner><Buckets>{buckets}</Buckets>{tok}</ListAllMyBucketsResult>"
    ).encode()


def test_list_containers_follows_continuation_token(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, f"{BASE}/", body=_buckets_xml(["a", "b"], token="t/1="))
    mock.add(responses.GET, f"{BASE}/?continuation-token=t%2F1%3D", body=_buckets_xml(["c"]))
    containers = driver.list_containers()
    assert [c.name for c in containers] == ["a", "b", "c"]
    assert containers[0].extra["region"] == "eu-west-1"
    assert containers[0].extra["creation_date"].isoformat() == "2024-01-02T03:04:05+00:00"
    assert sent(mock) == [("GET", f"{BASE}/"), ("GET", f"{BASE}/?continuation-token=t%2F1%3D")]
    for call in mock.calls:
        check_signed(call.request)


def test_presigned_url_uses_the_wire_path(driver: S3StorageDriver) -> None:
    obj = Object("a b+c", 1, None, {}, {}, Container("bkt", {}, driver), driver)
    url = driver.get_object_cdn_url(obj, expires=600)
    assert url.startswith(f"{BASE}/bkt/a%20b%2Bc?")
    assert "X-Amz-Expires=600" in url
    assert "X-Amz-Credential=AKIDEXAMPLE%2F" in url
    assert SECRET not in url
