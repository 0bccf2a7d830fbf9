"""Presigned URLs and POST policies: structure, signatures, validation, expiry capping."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from libstore.auth import (
    Credentials,
    calculate_signature,
    canonical_request,
    derive_signing_key,
    string_to_sign,
)
from libstore.base import Container, Object
from libstore.credentials import ANONYMOUS
from libstore.drivers.s3 import S3StorageDriver
from libstore.presign import (
    PresignedPost,
    PresignedRequest,
    PresignExpiryWarning,
    build_post_policy,
    check_expires,
    fit_expiry,
    response_override_query,
    sign_post_policy,
)
from libstore.types import InvalidArgumentError

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def _no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AWS_"):
            monkeypatch.delenv(name)


def custom(**kwargs: Any) -> S3StorageDriver:
    kwargs.setdefault("key", AKID)
    kwargs.setdefault("secret", SECRET)
    return S3StorageDriver(secure=False, host="127.0.0.1", port=9000, **kwargs)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def verify_presigned(url: str, secret: str = SECRET, method: str = "GET", **headers: str) -> None:
    """Recompute the signature of a presigned URL from its own parameters."""
    parts = urlsplit(url)
    params = query_of(url)
    signature = params["X-Amz-Signature"]
    raw_query = "&".join(
        piece for piece in parts.query.split("&") if not piece.startswith("X-Amz-Signature=")
    )
    signed = params["X-Amz-SignedHeaders"].split(";")
    pairs = [(name, parts.netloc if name == "host" else headers[name]) for name in signed]
    creq = canonical_request(method, parts.path, raw_query, pairs, "UNSIGNED-PAYLOAD", s3=True)
    when = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    _, date, region, service, _ = params["X-Amz-Credential"].split("/")
    sts = string_to_sign(creq, when, region, service)
    assert calculate_signature(derive_signing_key(secret, date, region, service), sts) == signature


# -- presign --------------------------------------------------------------------------------


def test_presigned_get() -> None:
    driver = custom()
    before = datetime.now(UTC).replace(microsecond=0)
    result = driver.presign("get", "bkt", "dir/a file.txt", 900)
    assert isinstance(result, PresignedRequest)
    assert result.method == "GET"
    assert str(result) == result.url
    assert result.url.startswith("http://127.0.0.1:9000/bkt/dir/a%20file.txt?X-Amz-Algorithm=")
    params = query_of(result.url)
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Credential"].startswith(f"{AKID}/")
    assert params["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert params["X-Amz-Expires"] == "900"
    assert params["X-Amz-SignedHeaders"] == "host"
    assert "X-Amz-Security-Token" not in params
    assert (
        before + timedelta(seconds=900)
        <= result.expires_at
        <= datetime.now(UTC) + timedelta(seconds=900)
    )
    assert not result.capped
    verify_presigned(result.url)
    assert "X-Amz-Signature" not in repr(result) or "<redacted>" in repr(result)


def test_presign_carries_the_session_token() -> None:
    driver = custom(token="session/token+==")
    result = driver.presign("GET", "bkt", "k")
    assert query_of(result.url)["X-Amz-Security-Token"] == "session/token+=="
    verify_presigned(result.url)
    assert "session/token" not in repr(result)


def test_presign_response_overrides_and_version() -> None:
    driver = custom()
    result = driver.presign(
        "GET",
        "bkt",
        "k",
        response_headers={
            "content_disposition": 'attachment; filename="r\u00e9sum\u00e9.pdf"',
            "Content-Type": "application/pdf",
            "response-cache-control": "no-store",
        },
        version_id="3/L4kqtJl40Nr8X8gdRQBpUMLUo",
    )
    params = query_of(result.url)
    assert params["response-content-disposition"] == 'attachment; filename="r\u00e9sum\u00e9.pdf"'
    assert params["response-content-type"] == "application/pdf"
    assert params["response-cache-control"] == "no-store"
    assert params["versionId"] == "3/L4kqtJl40Nr8X8gdRQBpUMLUo"
    verify_presigned(result.url)


def test_presigned_put_signs_the_headers_to_send() -> None:
    driver = custom()
    result = driver.presign("PUT", "bkt", "upload.bin", headers={"Content-Type": "image/png"})
    assert result.headers == {"Content-Type": "image/png"}
    assert query_of(result.url)["X-Amz-SignedHeaders"] == "content-type;host"
    verify_presigned(result.url, method="PUT", **{"content-type": "image/png"})


def test_presign_with_a_public_endpoint() -> None:
    driver = custom()
    result = driver.presign("GET", "bkt", "k", endpoint_url="https://files.example.com")
    assert result.url.startswith("https://files.example.com/bkt/k?")
    verify_presigned(result.url)
    virtual = custom(addressing_style="virtual").presign(
        "HEAD", "bkt", "k", endpoint_url="https://cdn.example.com:8443/"
    )
    assert virtual.url.startswith("https://bkt.cdn.example.com:8443/k?")


@pytest.mark.parametrize(
    "endpoint",
    [
        "files.example.com",
        "https://files.example.com/prefix",
        "ftp://x",
        "https://u:p@x",
        "https://x?a=1",
    ],
)
def test_presign_refuses_bad_public_endpoints(endpoint: str) -> None:
    with pytest.raises(InvalidArgumentError, match="endpoint_url"):
        custom().presign("GET", "bkt", "k", endpoint_url=endpoint)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("POST", "bkt", "k"), {}, "presign_post"),
        (("PATCH", "bkt", "k"), {}, "not 'PATCH'"),
        (("GET", "bkt", "k", 0), {}, "from 1 second"),
        (("GET", "bkt", "k", 604801), {}, "7 days"),
        (("GET", "bkt", "k", 1.5), {}, "int number of seconds"),
        (("GET", "bkt", "k", True), {}, "int number of seconds"),
        (("GET", "bkt", "k", timedelta(seconds=1.5)), {}, "whole number"),
        (("GET", "bkt", "k", timedelta(days=8)), {}, "7 days"),
        (("PUT", "bkt", "k"), {"version_id": "v"}, "version_id does not apply to PUT"),
        (("PUT", "bkt", "k"), {"response_headers": {"content_type": "x"}}, "GET and HEAD"),
        (("GET", "bkt", "k"), {"response_headers": {"x-custom": "x"}}, "unknown response header"),
        (("GET", "bkt", "k"), {"response_headers": {"content_type": "a\nb"}}, "control"),
        (("GET", "bkt", "k"), {"headers": {"Host": "evil"}}, "set by the signer"),
        (("GET", "bkt", ""), {}, "must not be empty"),
        (("GET", "bad/bucket", "k"), {}, "bucket name"),
        (("GET", "bkt", "k"), {"credential_expiry": "warn"}, "'cap' or 'raise'"),
    ],
)
def test_presign_validation(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    # InvalidArgumentError and the invalid-name errors are all ValueErrors
    with pytest.raises(ValueError, match=message):
        custom().presign(*args, **kwargs)


def test_presign_accepts_the_full_range() -> None:
    driver = custom()
    assert query_of(driver.presign("GET", "b", "k", 1).url)["X-Amz-Expires"] == "1"
    seven_days = driver.presign("GET", "b", "k", timedelta(days=7))
    assert query_of(seven_days.url)["X-Amz-Expires"] == "604800"


def test_presign_with_temporary_credentials_is_capped_with_a_warning() -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=1800)
    driver = custom(
        key=None,
        secret=None,
        credentials=lambda: Credentials("ASIA", "s", "t", expires_at=expires_at),
    )
    with pytest.warns(PresignExpiryWarning, match="shortened from 86400 s"):
        result = driver.presign("GET", "bkt", "k", 86400)
    assert result.capped
    assert 1790 <= int(query_of(result.url)["X-Amz-Expires"]) <= 1800
    assert result.expires_at <= expires_at
    with pytest.raises(InvalidArgumentError, match="expire at"):
        driver.presign("GET", "bkt", "k", 86400, credential_expiry="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        short = driver.presign("GET", "bkt", "k", 600)  # fits: no warning
    assert not short.capped


def test_fit_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    forever = Credentials("A", "s")
    assert fit_expiry(604800, forever, now) == (604800, False)
    temporary = Credentials("A", "s", expires_at=now + timedelta(seconds=100.9))
    with pytest.warns(PresignExpiryWarning):
        assert fit_expiry(3600, temporary, now) == (100, True)
    assert fit_expiry(100, temporary, now) == (100, False)
    gone = Credentials("A", "s", expires_at=now + timedelta(seconds=0.5))
    with pytest.raises(InvalidArgumentError):
        fit_expiry(10, gone, now)


def test_check_expires() -> None:
    assert check_expires(60) == 60
    assert check_expires(timedelta(minutes=2)) == 120
    with pytest.raises(InvalidArgumentError, match="link_expiry"):
        check_expires(-1, "link_expiry")


def test_response_override_query() -> None:
    assert response_override_query(None) == []
    assert response_override_query({"expires": "0", "content_language": "fr"}) == [
        ("response-content-language", "fr"),
        ("response-expires", "0"),
    ]
    with pytest.raises(InvalidArgumentError, match="twice"):
        response_override_query({"content_type": "a", "Content-Type": "b"})


def test_presign_uses_the_bucket_region() -> None:
    driver = S3StorageDriver(AKID, SECRET)
    driver._remember_region("bkt", "eu-west-1")
    url = driver.presign("GET", "bkt", "k").url
    assert url.startswith("https://bkt.s3.eu-west-1.amazonaws.com/k?")
    assert "/eu-west-1/s3/aws4_request" in query_of(url)["X-Amz-Credential"]


def test_anonymous_drivers_cannot_presign() -> None:
    driver = custom(key=None, secret=None, credentials=ANONYMOUS)
    with pytest.raises(InvalidArgumentError, match="anonymous"):
        driver.presign("GET", "bkt", "k")
    obj = Object("k", 1, None, {}, {}, Container("bkt", {}, driver), driver)
    assert driver.get_object_cdn_url(obj) == "http://127.0.0.1:9000/bkt/k"


def test_get_object_cdn_url_is_libcloud_compatible() -> None:
    driver = custom()
    obj = Object("k", 1, None, {}, {}, Container("bkt", {}, driver), driver)
    assert query_of(driver.get_object_cdn_url(obj))["X-Amz-Expires"] == "86400"
    assert query_of(driver.get_object_cdn_url(obj, 0.5))["X-Amz-Expires"] == "1800"
    assert query_of(driver.get_object_cdn_url(obj, ex_expiry=2))["X-Amz-Expires"] == "7200"
    assert query_of(driver.get_object_cdn_url(obj, expires=60))["X-Amz-Expires"] == "60"
    assert query_of(obj.get_cdn_url())["X-Amz-Expires"] == "86400"
    with pytest.raises(InvalidArgumentError):
        driver.get_object_cdn_url(obj, ex_expiry=1, expires=60)
    with pytest.raises(InvalidArgumentError, match="7 days"):
        driver.get_object_cdn_url(obj, ex_expiry=24 * 8)
    with pytest.raises(InvalidArgumentError):
        driver.get_object_cdn_url(obj, ex_expiry="1")  # type: ignore[arg-type]


# -- POST policies --------------------------------------------------------------------------


def decode_policy(post: PresignedPost) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(post.fields["policy"])))


def test_presign_post_fields_and_policy() -> None:
    driver = custom(token="sessiontokenvalue")
    post = driver.presign_post(
        "bkt",
        "uploads/${filename}",
        expires=600,
        fields={"Content-Type": "text/plain", "success_action_status": "201"},
        conditions=[["starts-with", "$x-amz-meta-tag", ""]],
        content_length_range=(1, 1024),
    )
    assert post.url == "http://127.0.0.1:9000/bkt"
    fields = dict(post.fields)
    assert fields["key"] == "uploads/${filename}"
    assert fields["Content-Type"] == "text/plain"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["x-amz-credential"].startswith(f"{AKID}/")
    assert fields["x-amz-security-token"] == "sessiontokenvalue"
    policy = decode_policy(post)
    conditions = policy["conditions"]
    assert {"bucket": "bkt"} in conditions
    assert ["starts-with", "$key", "uploads/"] in conditions
    assert {"Content-Type": "text/plain"} in conditions
    assert {"success_action_status": "201"} in conditions
    assert ["starts-with", "$x-amz-meta-tag", ""] in conditions
    assert ["content-length-range", 1, 1024] in conditions
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-security-token"):
        assert {name: fields[name]} in conditions
    assert policy["expiration"].endswith("Z")
    expected = hmac.new(
        derive_signing_key(SECRET, fields["x-amz-date"][:8], "us-east-1", "s3"),
        fields["policy"].encode(),
        hashlib.sha256,
    ).hexdigest()
    assert fields["x-amz-signature"] == expected
    assert "sessiontokenvalue" not in repr(post)
    assert fields["x-amz-signature"] not in repr(post)


def test_presign_post_key_forms() -> None:
    driver = custom()
    exact = decode_policy(driver.presign_post("bkt", "a/b.txt"))
    assert {"key": "a/b.txt"} in exact["conditions"]
    prefixed = driver.presign_post("bkt", key_prefix="user/7/")
    assert prefixed.fields["key"] == "user/7/${filename}"
    assert ["starts-with", "$key", "user/7/"] in decode_policy(prefixed)["conditions"]
    conditioned = driver.presign_post(
        "bkt",
        "k",
        fields={"Content-Type": "image/png"},
        conditions=[["starts-with", "$Content-Type", "image/"]],
    )
    conditions = decode_policy(conditioned)["conditions"]
    assert {"Content-Type": "image/png"} not in conditions  # the condition covers it


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of key and key_prefix"),
        ({"key": "k", "key_prefix": "p"}, "exactly one"),
        ({"key": "k", "fields": {"policy": "x"}}, "set by the signer"),
        ({"key": "k", "fields": {"key": "other"}}, "set by the signer"),
        ({"key": "k", "fields": {"acl": 1}}, "must be str"),
        ({"key": "k", "conditions": "nope"}, "must be a list"),
        ({"key": "k", "conditions": [["matches", "$key", "x"]]}, "invalid condition"),
        ({"key": "k", "conditions": [["eq", "key", "x"]]}, "invalid condition"),
        ({"key": "k", "conditions": [{"a": "1", "b": "2"}]}, "exactly one field"),
        ({"key": "k", "conditions": [["content-length-range", 5, 1]]}, "exceeds"),
        ({"key": "k", "content_length_range": (-1, 5)}, ">= 0"),
        ({"key": "k", "content_length_range": 5}, r"\(min, max\)"),
        ({"key": "k", "expires": 10**7}, "7 days"),
    ],
)
def test_presign_post_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        custom().presign_post("bkt", **kwargs)


def test_build_and_sign_post_policy_at_a_fixed_time() -> None:
    now = datetime(2015, 12, 29, tzinfo=UTC)
    creds = Credentials("AKIAIOSFODNN7EXAMPLE", SECRET)
    policy, form = build_post_policy(
        bucket="sigv4examplebucket",
        key=None,
        key_prefix="user/user1/",
        credentials=creds,
        region="us-east-1",
        now=now,
        expires=43200,
    )
    assert policy["expiration"] == "2015-12-29T12:00:00.000Z"
    assert form["x-amz-credential"] == "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
    assert form["x-amz-date"] == "20151229T000000Z"
    encoded, signature = sign_post_policy(policy, creds, "us-east-1", now)
    assert json.loads(base64.b64decode(encoded)) == policy
    key = derive_signing_key(SECRET, "20151229", "us-east-1", "s3")
    assert signature == hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()


# -- an independent implementation agrees ----------------------------------------------------


def test_presigned_url_matches_botocore() -> None:
    botocore_session = pytest.importorskip("botocore.session")
    config = pytest.importorskip("botocore.config")
    session = botocore_session.get_session()
    client = session.create_client(
        "s3",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token="tok",
        config=config.Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    theirs = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bkt", "Key": "a b/c.txt", "ResponseContentType": "text/plain"},
        ExpiresIn=300,
    )
    params = query_of(theirs)
    when = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    driver = custom(token="tok", region="eu-west-1")
    url = driver._url("bkt", "a b/c.txt", [("response-content-type", "text/plain")])
    signer = driver._signer_with(driver.get_credentials(), "eu-west-1")  # type: ignore[arg-type]
    ours = signer.presign("GET", url, 300, timestamp=when)
    assert query_of(ours)["X-Amz-Signature"] == params["X-Amz-Signature"]


def test_post_signature_matches_botocore() -> None:
    botocore_session = pytest.importorskip("botocore.session")
    config = pytest.importorskip("botocore.config")
    session = botocore_session.get_session()
    client = session.create_client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        config=config.Config(signature_version="s3v4"),
    )
    post = client.generate_presigned_post("bkt", "k/${filename}", ExpiresIn=60)
    fields = post["fields"]
    when = datetime.strptime(fields["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    policy = json.loads(base64.b64decode(fields["policy"]))
    _, signature = sign_post_policy(policy, Credentials(AKID, SECRET), "us-east-1", when)
    # same document, our encoding: the signature covers our base64 of it
    ours_encoded, _ = sign_post_policy(policy, Credentials(AKID, SECRET), "us-east-1", when)
    key = derive_signing_key(SECRET, fields["x-amz-date"][:8], "us-east-1", "s3")
    assert signature == hmac.new(key, ours_encoded.encode(), hashlib.sha256).hexdigest()
    theirs = hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest()
    assert theirs == fields["x-amz-signature"]
