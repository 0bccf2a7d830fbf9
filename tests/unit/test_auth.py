"""Tests for libstore.auth: S3 rules, credentials, requests integration, redaction.

The S3 examples are the ones published in the Amazon S3 API reference
("Authenticating Requests: Using the Authorization Header" and "Using Query
Parameters"), signed on 2013-05-24 in us-east-1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from libstore.auth import (
    EMPTY_SHA256,
    UNSIGNABLE_HEADERS,
    UNSIGNED_PAYLOAD,
    Credentials,
    SigningResult,
    SigV4Auth,
    SigV4Signer,
    amz_date,
    calculate_signature,
    canonical_headers,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    credential_scope,
    derive_signing_key,
    redact_headers,
    redact_url,
    string_to_sign,
    uri_encode,
)

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE//session+token/with=padding=="
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
BUCKET = "https://examplebucket.s3.amazonaws.com"
SCOPE = "20130524/us-east-1/s3/aws4_request"


@pytest.fixture
def creds() -> Credentials:
    return Credentials(ACCESS_KEY, SECRET_KEY)


@pytest.fixture
def s3(creds: Credentials) -> SigV4Signer:
    return SigV4Signer(creds, "us-east-1", "s3")


@pytest.fixture
def s3_token() -> SigV4Signer:
    return SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "us-east-1", "s3")


def signed_headers_of(authorization: str) -> list[str]:
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def signature_of(authorization: str) -> str:
    return authorization.rsplit("Signature=", 1)[1]


def query_dict(url: str) -> dict[str, str]:
    query = url.partition("?")[2]
    return dict(piece.partition("=")[::2] for piece in query.split("&") if piece)


# --------------------------------------------------------------------------
# Constants and key derivation
# --------------------------------------------------------------------------


def test_constants() -> None:
    assert UNSIGNED_PAYLOAD == "UNSIGNED-PAYLOAD"
    assert hashlib.sha256(b"").hexdigest() == EMPTY_SHA256
    assert EMPTY_SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert "authorization" in UNSIGNABLE_HEADERS
    assert "user-agent" in UNSIGNABLE_HEADERS


@pytest.mark.parametrize(
    ("date_stamp", "service", "expected"),
    [
        # AWS General Reference, "Examples of how to derive a signing key".
        ("20120215", "iam", "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"),
        ("20150830", "iam", "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"),
    ],
)
def test_derive_signing_key_documented_examples(
    date_stamp: str, service: str, expected: str
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    assert derive_signing_key(secret, date_stamp, "us-east-1", service).hex() == expected


def test_signing_key_is_cached_per_date(s3: SigV4Signer) -> None:
    first = s3.signing_key("20130524")
    assert first == derive_signing_key(SECRET_KEY, "20130524", "us-east-1", "s3")
    assert s3.signing_key("20130524") is first
    assert s3.signing_key("20130525") != first


def test_signing_is_thread_safe(s3: SigV4Signer) -> None:
    days = [WHEN + timedelta(days=n) for n in range(20)]
    expected = {
        day: SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY), "us-east-1", "s3").sign(
            "GET", f"{BUCKET}/k", timestamp=day
        )["Authorization"]
        for day in days
    }
    errors: list[str] = []

    def work() -> None:
        for _ in range(5):
            for day in days:
                got = s3.sign("GET", f"{BUCKET}/k", timestamp=day)["Authorization"]
                if got != expected[day]:
                    errors.append(got)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --------------------------------------------------------------------------
# The S3 documentation examples
# --------------------------------------------------------------------------


def test_s3_example_get_object(s3: SigV4Signer) -> None:
    result = s3.sign_detailed(
        "GET", f"{BUCKET}/test.txt", headers={"Range": "bytes=0-9"}, timestamp=WHEN
    )
    assert result.canonical_request == (
        "GET\n"
        "/test.txt\n"
        "\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "range:bytes=0-9\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\n"
        "x-amz-date:20130524T000000Z\n"
        "\n"
        "host;range;x-amz-content-sha256;x-amz-date\n"
        f"{EMPTY_SHA256}"
    )
    assert result.string_to_sign == (
        "AWS4-HMAC-SHA256\n"
        "20130524T000000Z\n"
        "20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    )
    signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert result.signature == signature
    assert result.headers == {
        "Range": "bytes=0-9",
        "X-Amz-Date": "20130524T000000Z",
        "X-Amz-Content-SHA256": EMPTY_SHA256,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{SCOPE}, "
            f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={signature}"
        ),
    }


def test_s3_example_put_object(s3: SigV4Signer) -> None:
    body = b"Welcome to Amazon S3."
    result = s3.sign_detailed(
        "PUT",
        f"{BUCKET}/test%24file.text",
        headers={
            "Date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
        },
        body=body,
        timestamp=WHEN,
    )
    payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    assert hashlib.sha256(body).hexdigest() == payload
    assert result.canonical_request == (
        "PUT\n"
        "/test%24file.text\n"
        "\n"
        "date:Fri, 24 May 2013 00:00:00 GMT\n"
        "host:examplebucket.s3.amazonaws.com\n"
        f"x-amz-content-sha256:{payload}\n"
        "x-amz-date:20130524T000000Z\n"
        "x-amz-storage-class:REDUCED_REDUNDANCY\n"
        "\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        f"{payload}"
    )
    assert result.string_to_sign.endswith(
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"
    )
    assert result.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    assert result.headers["X-Amz-Content-SHA256"] == payload


def test_s3_example_get_bucket_lifecycle(s3: SigV4Signer) -> None:
    result = s3.sign_detailed("GET", f"{BUCKET}/?lifecycle", timestamp=WHEN)
    assert result.canonical_request.split("\n")[:3] == ["GET", "/", "lifecycle="]
    assert result.string_to_sign.endswith(
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"
    )
    assert result.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"


def test_s3_example_list_objects(s3: SigV4Signer) -> None:
    result = s3.sign_detailed("GET", f"{BUCKET}/?max-keys=2&prefix=J", timestamp=WHEN)
    assert result.canonical_request.split("\n")[:3] == ["GET", "/", "max-keys=2&prefix=J"]
    assert result.string_to_sign.endswith(
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"
    )
    assert result.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_s3_example_presigned_url(s3: SigV4Signer) -> None:
    url = s3.presign("GET", f"{BUCKET}/test.txt", expires=86400, timestamp=WHEN)
    assert url == (
        f"{BUCKET}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={ACCESS_KEY}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    result = s3.presign_detailed("GET", f"{BUCKET}/test.txt", expires=86400, timestamp=WHEN)
    assert result.canonical_request.endswith("\nhost\nUNSIGNED-PAYLOAD")
    assert result.string_to_sign.endswith(
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    )


def test_pure_steps_reproduce_the_get_object_example() -> None:
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    creq = canonical_request("GET", "/test.txt", "", headers, EMPTY_SHA256, s3=True)
    sts = string_to_sign(creq, WHEN, "us-east-1", "s3")
    key = derive_signing_key(SECRET_KEY, "20130524", "us-east-1", "s3")
    assert credential_scope(WHEN, "us-east-1", "s3") == SCOPE
    assert amz_date(WHEN) == "20130524T000000Z"
    assert calculate_signature(key, sts) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


# --------------------------------------------------------------------------
# Paths: S3 signs them as sent, generic services normalise and re-encode
# --------------------------------------------------------------------------

S3_PATHS_AS_SENT = [
    "/a/../b",
    "/a/./b",
    "//x",
    "/my-object//example//photo.user",
    "/bucket/a%2Fb",
    "/a+b",
    "/a%20b",
    "/a~b",
    "/a%7Eb",
    "/test%24file.text",
    "/trailing/",
    "/..",
    "/",
]


@pytest.mark.parametrize("path", S3_PATHS_AS_SENT)
def test_s3_path_is_signed_as_sent(s3: SigV4Signer, path: str) -> None:
    assert canonical_uri(path, s3=True) == path
    result = s3.sign_detailed("GET", f"{BUCKET}{path}", timestamp=WHEN)
    assert result.canonical_request.split("\n")[1] == path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/a b", "/a%20b"),  # what the HTTP client puts on the wire
        ("/\u1234", "/%E1%88%B4"),
        ("/a%2fb", "/a%2Fb"),  # escapes upper-cased, as urllib3 sends them
        ('/a"b<c>', "/a%22b%3Cc%3E"),
    ],
)
def test_s3_path_only_encodes_what_cannot_be_sent_literally(path: str, expected: str) -> None:
    assert canonical_uri(path, s3=True) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a%20b", "/a%2520b"),
        ("/a/../b", "/b"),
        ("//x//", "/x/"),
        ("/a/b/..", "/a/"),
        ("/a+b", "/a%2Bb"),
        ("/a~b", "/a~b"),
        ("/bucket/a%2Fb", "/bucket/a%252Fb"),
        ("", "/"),
    ],
)
def test_generic_path_is_normalised_and_encoded_again(path: str, expected: str) -> None:
    assert canonical_uri(path, s3=False) == expected


def test_generic_path_normalisation_can_be_disabled(creds: Credentials) -> None:
    assert canonical_uri("//a/../b", s3=False, normalize=False) == "//a/../b"
    signer = SigV4Signer(creds, "us-east-1", "execute-api", normalize_path=False)
    result = signer.sign_detailed("GET", "https://h.example.com//a/./b", timestamp=WHEN)
    assert result.canonical_request.split("\n")[1] == "//a/./b"


def test_s3_path_cannot_be_normalised(creds: Credentials) -> None:
    with pytest.raises(ValueError, match="never normalised"):
        canonical_uri("/a", s3=True, normalize=True)
    with pytest.raises(ValueError, match="never normalised"):
        SigV4Signer(creds, "us-east-1", "s3", normalize_path=True)


# --------------------------------------------------------------------------
# Query strings and headers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("lifecycle", "lifecycle="),
        ("acl=", "acl="),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a=10", "a=1&a=10&a=2"),
        ("Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2"),
        ("x=%7E&y=~&z=%7e", "x=~&y=~&z=~"),
        ("prefix=a%2Fb&delimiter=/", "delimiter=%2F&prefix=a%2Fb"),
        ("k=a b", "k=a%20b"),
        ("k=a%20b", "k=a%20b"),
        ("k=a+b", "k=a%2Bb"),
        ("k=a%2bb", "k=a%2Bb"),
        ("\u1234=bar", "%E1%88%B4=bar"),
        ("a=1&&b=2&", "a=1&b=2"),
        ("k=a=b", "k=a%3Db"),
        ("list-type=2&prefix=photos%2F2006%2F", "list-type=2&prefix=photos%2F2006%2F"),
    ],
)
def test_canonical_query_string(raw: str, expected: str) -> None:
    assert canonical_query_string(raw) == expected


def test_canonical_headers_trim_collapse_and_repeat() -> None:
    block, signed = canonical_headers(
        [
            ("Host", "example.com"),
            ("My-Header", "  a   b\t\tc  "),
            ("my-header", "second"),
            ("X-Folded", "one\n   two"),
        ]
    )
    assert block == "host:example.com\nmy-header:a b c,second\nx-folded:one two\n"
    assert signed == "host;my-header;x-folded"


def test_uri_encode() -> None:
    assert uri_encode("a b/c~d*") == "a%20b%2Fc~d%2A"
    assert uri_encode("a/b", safe="/") == "a/b"
    assert uri_encode(b"\xff") == "%FF"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Bucket.Example.com/k", "bucket.example.com"),
        ("https://example.com:443/k", "example.com"),
        ("http://example.com:80/k", "example.com"),
        ("http://127.0.0.1:9000/k", "127.0.0.1:9000"),
        ("https://example.com:8443/k", "example.com:8443"),
        ("http://example.com:443/k", "example.com:443"),
        ("https://user:pw@example.com/k", "example.com"),
        ("http://[::1]:9000/k", "[::1]:9000"),
        ("https://[::1]/k", "[::1]"),
    ],
)
def test_host_is_signed_from_the_url(s3: SigV4Signer, url: str, host: str) -> None:
    result = s3.sign_detailed("GET", url, timestamp=WHEN)
    assert f"\nhost:{host}\n" in result.canonical_request
    assert "Host" not in result.headers


def test_given_host_header_wins(s3: SigV4Signer) -> None:
    result = s3.sign_detailed(
        "GET", "http://127.0.0.1:9000/k", headers={"Host": "bucket.local"}, timestamp=WHEN
    )
    assert "\nhost:bucket.local\n" in result.canonical_request
    assert result.headers["Host"] == "bucket.local"


@pytest.mark.parametrize("url", ["ftp://example.com/k", "/relative/path", "https:///k", "x"])
def test_invalid_urls_are_rejected(s3: SigV4Signer, url: str) -> None:
    with pytest.raises(ValueError):
        s3.sign("GET", url, timestamp=WHEN)


# --------------------------------------------------------------------------
# sign()
# --------------------------------------------------------------------------


def test_sign_returns_a_new_dict_and_leaves_the_input_alone(s3: SigV4Signer) -> None:
    given = {"Range": "bytes=0-9"}
    out = s3.sign("GET", f"{BUCKET}/test.txt", headers=given, timestamp=WHEN)
    assert given == {"Range": "bytes=0-9"}
    assert out is not given
    assert set(out) == {"Range", "Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"}


def test_stale_authentication_headers_are_replaced(s3: SigV4Signer) -> None:
    stale = {
        "authorization": "AWS4-HMAC-SHA256 Credential=OLD/x, SignedHeaders=host, Signature=00",
        "x-amz-date": "20000101T000000Z",
        "x-amz-content-sha256": EMPTY_SHA256,
        "Range": "bytes=0-9",
    }
    out = s3.sign("GET", f"{BUCKET}/test.txt", headers=stale, timestamp=WHEN)
    assert sorted(name.lower() for name in out) == [
        "authorization",
        "range",
        "x-amz-content-sha256",
        "x-amz-date",
    ]
    assert out["X-Amz-Date"] == "20130524T000000Z"
    assert signature_of(out["Authorization"]) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_unsignable_headers_are_sent_but_not_signed(s3: SigV4Signer) -> None:
    out = s3.sign(
        "PUT",
        f"{BUCKET}/k",
        headers={"User-Agent": "libstore/1", "Expect": "100-continue", "Content-Type": "a/b"},
        timestamp=WHEN,
    )
    assert out["User-Agent"] == "libstore/1"
    assert out["Expect"] == "100-continue"
    assert signed_headers_of(out["Authorization"]) == [
        "content-type",
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
    ]


def test_payload_hash_from_body_and_explicit(s3: SigV4Signer) -> None:
    body = b"hello"
    digest = hashlib.sha256(body).hexdigest()
    hashed = s3.sign_detailed("PUT", f"{BUCKET}/k", body=body, timestamp=WHEN)
    assert hashed.headers["X-Amz-Content-SHA256"] == digest
    assert hashed.canonical_request.endswith(f"\n{digest}")

    unsigned = s3.sign_detailed(
        "PUT", f"{BUCKET}/k", body=body, payload_hash=UNSIGNED_PAYLOAD, timestamp=WHEN
    )
    assert unsigned.headers["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
    assert unsigned.canonical_request.endswith("\nUNSIGNED-PAYLOAD")
    assert "x-amz-content-sha256:UNSIGNED-PAYLOAD\n" in unsigned.canonical_request


def test_declared_content_sha256_header_is_used_when_no_hash_given(s3: SigV4Signer) -> None:
    declared = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    result = s3.sign_detailed(
        "PUT", f"{BUCKET}/k", headers={"x-amz-content-sha256": declared}, timestamp=WHEN
    )
    assert result.headers["X-Amz-Content-SHA256"] == declared
    assert "x-amz-content-sha256" not in result.headers
    assert result.canonical_request.endswith(f"\n{declared}")


@pytest.mark.parametrize("bad", ["", "abc", EMPTY_SHA256.upper(), "unsigned-payload", "STREAMING-"])
def test_invalid_payload_hash_is_rejected(s3: SigV4Signer, bad: str) -> None:
    with pytest.raises(ValueError, match="payload_hash"):
        s3.sign("PUT", f"{BUCKET}/k", payload_hash=bad, timestamp=WHEN)


def test_non_s3_service_hashes_the_body_without_the_header(creds: Credentials) -> None:
    signer = SigV4Signer(creds, "us-east-1", "sts")
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    result = signer.sign_detailed("POST", "https://sts.amazonaws.com/", body=body, timestamp=WHEN)
    assert "X-Amz-Content-SHA256" not in result.headers
    assert result.canonical_request.endswith("\n" + hashlib.sha256(body).hexdigest())
    assert "/sts/aws4_request" in result.headers["Authorization"]


def test_body_must_be_bytes(s3: SigV4Signer) -> None:
    with pytest.raises(TypeError):
        s3.sign("PUT", f"{BUCKET}/k", body="text", timestamp=WHEN)  # type: ignore[arg-type]


def test_header_values_must_be_strings(s3: SigV4Signer) -> None:
    with pytest.raises(TypeError):
        s3.sign("PUT", f"{BUCKET}/k", headers={"Content-Length": 5}, timestamp=WHEN)  # type: ignore[dict-item]


def test_method_is_upper_cased(s3: SigV4Signer) -> None:
    lower = s3.sign("get", f"{BUCKET}/test.txt", headers={"Range": "bytes=0-9"}, timestamp=WHEN)
    assert signature_of(lower["Authorization"]) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


# --------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------


def test_naive_timestamp_is_rejected(s3: SigV4Signer) -> None:
    naive = datetime(2013, 5, 24)
    with pytest.raises(ValueError, match="timezone-aware"):
        s3.sign("GET", f"{BUCKET}/k", timestamp=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        s3.presign("GET", f"{BUCKET}/k", timestamp=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        amz_date(naive)


def test_aware_timestamps_are_converted_to_utc(s3: SigV4Signer) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-7)))
    assert local.day == 23
    assert s3.sign("GET", f"{BUCKET}/k", timestamp=local) == s3.sign(
        "GET", f"{BUCKET}/k", timestamp=WHEN
    )


def test_default_timestamp_is_now(s3: SigV4Signer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = s3.sign("GET", f"{BUCKET}/k")
    after = datetime.now(UTC)
    stamped = datetime.strptime(out["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamped <= after


# --------------------------------------------------------------------------
# Session tokens
# --------------------------------------------------------------------------


def test_session_token_header_is_sent_and_signed(s3_token: SigV4Signer) -> None:
    result = s3_token.sign_detailed("GET", f"{BUCKET}/k", timestamp=WHEN)
    assert result.headers["X-Amz-Security-Token"] == TOKEN
    assert "x-amz-security-token" in signed_headers_of(result.headers["Authorization"])
    assert f"\nx-amz-security-token:{TOKEN}\n" in result.canonical_request


def test_session_token_replaces_a_stale_one(s3_token: SigV4Signer) -> None:
    out = s3_token.sign(
        "GET", f"{BUCKET}/k", headers={"x-amz-security-token": "old"}, timestamp=WHEN
    )
    assert [name for name in out if name.lower() == "x-amz-security-token"] == [
        "X-Amz-Security-Token"
    ]
    assert out["X-Amz-Security-Token"] == TOKEN


def test_session_token_presigned_query_parameter(s3_token: SigV4Signer) -> None:
    result = s3_token.presign_detailed("GET", f"{BUCKET}/k", timestamp=WHEN)
    params = query_dict(result.url)
    assert params["X-Amz-Security-Token"] == uri_encode(TOKEN)
    assert f"X-Amz-Security-Token={uri_encode(TOKEN)}" in result.canonical_request.split("\n")[2]


def test_session_token_can_be_left_unsigned() -> None:
    signer = SigV4Signer(
        Credentials(ACCESS_KEY, SECRET_KEY, TOKEN),
        "us-east-1",
        "iotdevicegateway",
        sign_session_token=False,
    )
    out = signer.sign("GET", "https://iot.example.com/mqtt", timestamp=WHEN)
    assert out["X-Amz-Security-Token"] == TOKEN
    assert "x-amz-security-token" not in signed_headers_of(out["Authorization"])
    url = signer.presign("GET", "https://iot.example.com/mqtt", timestamp=WHEN)
    assert url.endswith(f"&X-Amz-Security-Token={uri_encode(TOKEN)}")


# --------------------------------------------------------------------------
# presign()
# --------------------------------------------------------------------------


@pytest.mark.parametrize("expires", [0, -1, 604801, 1.5, "60", True, None])
def test_presign_expires_out_of_range(s3: SigV4Signer, expires: object) -> None:
    with pytest.raises(ValueError, match="expires"):
        s3.presign("GET", f"{BUCKET}/k", expires=expires, timestamp=WHEN)  # type: ignore[arg-type]


@pytest.mark.parametrize("expires", [1, 604800])
def test_presign_expires_bounds_accepted(s3: SigV4Signer, expires: int) -> None:
    url = s3.presign("GET", f"{BUCKET}/k", expires=expires, timestamp=WHEN)
    assert query_dict(url)["X-Amz-Expires"] == str(expires)


def test_presign_keeps_the_query_and_drops_old_signing_parameters(s3: SigV4Signer) -> None:
    first = s3.presign("GET", f"{BUCKET}/k?versionId=a%2Bb&x", timestamp=WHEN)
    assert first.startswith(f"{BUCKET}/k?versionId=a%2Bb&x&X-Amz-Algorithm=")
    again = s3.presign("GET", first, timestamp=WHEN)
    assert again == first
    assert again.count("X-Amz-Signature=") == 1


def test_presign_signs_given_headers(s3: SigV4Signer) -> None:
    result = s3.presign_detailed(
        "PUT",
        f"{BUCKET}/k",
        headers={"Content-Type": "text/plain", "User-Agent": "x"},
        timestamp=WHEN,
    )
    assert query_dict(result.url)["X-Amz-SignedHeaders"] == "content-type%3Bhost"
    assert "\ncontent-type:text/plain\nhost:examplebucket.s3.amazonaws.com\n" in (
        result.canonical_request
    )
    assert result.headers == {"Content-Type": "text/plain", "User-Agent": "x"}


def test_presign_generic_service_uses_empty_payload_hash(creds: Credentials) -> None:
    signer = SigV4Signer(creds, "us-east-1", "execute-api")
    result = signer.presign_detailed("GET", "https://api.example.com/p", timestamp=WHEN)
    assert result.canonical_request.endswith("\n" + EMPTY_SHA256)


def test_presign_adds_root_path(s3: SigV4Signer) -> None:
    url = s3.presign("GET", BUCKET, timestamp=WHEN)
    assert url.startswith(f"{BUCKET}/?X-Amz-Algorithm=")


# --------------------------------------------------------------------------
# Credentials and secrecy
# --------------------------------------------------------------------------


def test_credentials_repr_never_shows_secrets() -> None:
    with_token = Credentials(ACCESS_KEY, SECRET_KEY, TOKEN)
    without = Credentials(ACCESS_KEY, SECRET_KEY)
    for text in (repr(with_token), str(with_token), f"{with_token}", repr([with_token])):
        assert SECRET_KEY not in text
        assert TOKEN not in text
        assert ACCESS_KEY in text
        assert "token=<present>" in text
    assert "token=None" in repr(without)
    assert SECRET_KEY not in repr(without)


def test_other_reprs_never_show_secrets(s3_token: SigV4Signer) -> None:
    result = s3_token.sign_detailed("GET", f"{BUCKET}/k", timestamp=WHEN)
    presigned = s3_token.presign_detailed("GET", f"{BUCKET}/k", timestamp=WHEN)
    for text in (
        repr(s3_token),
        repr(SigV4Auth(s3_token)),
        repr(result),
        repr(presigned),
        str(result),
    ):
        assert SECRET_KEY not in text
        assert TOKEN not in text
        assert uri_encode(TOKEN) not in text
        assert result.signature not in text
        assert presigned.signature not in text


def test_credentials_are_immutable() -> None:
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.secret_key = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("", SECRET_KEY), ValueError),
        ((ACCESS_KEY, ""), ValueError),
        (("  ", SECRET_KEY), ValueError),
        ((ACCESS_KEY, SECRET_KEY, ""), ValueError),
        ((None, SECRET_KEY), TypeError),
        ((ACCESS_KEY, b"secret"), TypeError),
        ((ACCESS_KEY, SECRET_KEY, 5), TypeError),
    ],
)
def test_credentials_validation(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        Credentials(*args)  # type: ignore[arg-type]


def test_credentials_expiry() -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    creds = Credentials(ACCESS_KEY, SECRET_KEY, TOKEN, expires_at=expires)
    assert "2030-01-01T00:00:00+00:00" in repr(creds)
    assert not creds.is_expired(datetime(2029, 12, 31, 23, 0, tzinfo=UTC))
    assert creds.is_expired(datetime(2029, 12, 31, 23, 0, tzinfo=UTC), leeway=3600)
    assert creds.is_expired(expires)
    assert not Credentials(ACCESS_KEY, SECRET_KEY).is_expired()
    with pytest.raises(ValueError, match="timezone-aware"):
        Credentials(ACCESS_KEY, SECRET_KEY, expires_at=datetime(2030, 1, 1))
    with pytest.raises(TypeError):
        Credentials(ACCESS_KEY, SECRET_KEY, expires_at="2030-01-01")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("region", "service"), [("", "s3"), ("us-east-1", ""), ("us/east", "s3"), ("us east", "s3")]
)
def test_signer_validates_scope(creds: Credentials, region: str, service: str) -> None:
    with pytest.raises(ValueError):
        SigV4Signer(creds, region, service)


def test_signer_requires_credentials() -> None:
    with pytest.raises(TypeError):
        SigV4Signer((ACCESS_KEY, SECRET_KEY), "us-east-1", "s3")  # type: ignore[arg-type]


def test_signer_properties(s3: SigV4Signer, creds: Credentials) -> None:
    assert s3.credentials is creds
    assert (s3.region, s3.service, s3.is_s3) == ("us-east-1", "s3", True)
    assert not SigV4Signer(creds, "us-east-1", "sts").is_s3


def test_signing_result_is_frozen(s3: SigV4Signer) -> None:
    result = s3.sign_detailed("GET", f"{BUCKET}/k", timestamp=WHEN)
    assert isinstance(result, SigningResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.signature = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------
# SigV4Auth with requests (no network)
# --------------------------------------------------------------------------


def fixed_clock() -> datetime:
    return WHEN


def test_auth_reproduces_the_get_object_example(s3: SigV4Signer) -> None:
    prepared = requests.Request(
        "GET", f"{BUCKET}/test.txt", headers={"Range": "bytes=0-9"}
    ).prepare()
    signed = SigV4Auth(s3, clock=fixed_clock)(prepared)
    assert signed is prepared
    assert signature_of(prepared.headers["Authorization"]) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert prepared.headers["X-Amz-Content-SHA256"] == EMPTY_SHA256
    assert prepared.headers["X-Amz-Date"] == "20130524T000000Z"


def test_auth_signs_the_prepared_url_exactly(s3: SigV4Signer) -> None:
    prepared = requests.Request("GET", f"{BUCKET}/dir/a b+c%2Fd~e?prefix=x y&list-type=2").prepare()
    assert prepared.url is not None
    SigV4Auth(s3, clock=fixed_clock)(prepared)
    expected = s3.sign("GET", prepared.url, timestamp=WHEN)["Authorization"]
    assert prepared.headers["Authorization"] == expected
    detailed = s3.sign_detailed("GET", prepared.url, timestamp=WHEN)
    assert detailed.canonical_request.split("\n")[1] == "/dir/a%20b+c%2Fd~e"


def test_auth_hashes_bytes_and_text_bodies(s3: SigV4Signer) -> None:
    prepared = requests.Request("PUT", f"{BUCKET}/k", data=b"Welcome to Amazon S3.").prepare()
    SigV4Auth(s3, clock=fixed_clock)(prepared)
    assert prepared.headers["X-Amz-Content-SHA256"] == (
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    )
    assert "content-length" in signed_headers_of(prepared.headers["Authorization"])

    form = requests.Request("POST", f"{BUCKET}/k", data={"a": "é"}).prepare()
    assert isinstance(form.body, str)
    SigV4Auth(s3, clock=fixed_clock)(form)
    assert form.headers["X-Amz-Content-SHA256"] == hashlib.sha256(form.body.encode()).hexdigest()


def test_auth_uses_unsigned_payload_for_streams_on_s3(s3: SigV4Signer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"

    for data in (io.BytesIO(b"abc"), chunks()):
        prepared = requests.Request("PUT", f"{BUCKET}/k", data=data).prepare()
        SigV4Auth(s3, clock=fixed_clock)(prepared)
        assert prepared.headers["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
        assert "transfer-encoding" not in signed_headers_of(prepared.headers["Authorization"])


def test_auth_uses_a_declared_payload_hash(creds: Credentials, s3: SigV4Signer) -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    signer = SigV4Signer(creds, "us-east-1", "execute-api")
    prepared = requests.Request(
        "PUT",
        "https://api.example.com/k",
        data=io.BytesIO(b"abc"),
        headers={"X-Amz-Content-SHA256": digest},
    ).prepare()
    SigV4Auth(signer, clock=fixed_clock)(prepared)
    expected = signer.sign_detailed(
        "PUT",
        "https://api.example.com/k",
        headers={"X-Amz-Content-SHA256": digest, "Content-Length": "3"},
        timestamp=WHEN,
    )
    assert prepared.headers["Authorization"] == expected.headers["Authorization"]
    assert expected.canonical_request.endswith(f"\n{digest}")

    s3_stream = requests.Request(
        "PUT", f"{BUCKET}/k", data=io.BytesIO(b"abc"), headers={"x-amz-content-sha256": digest}
    ).prepare()
    SigV4Auth(s3, clock=fixed_clock)(s3_stream)
    assert s3_stream.headers["X-Amz-Content-SHA256"] == digest


def test_auth_rejects_unhashable_streams_for_other_services(creds: Credentials) -> None:
    signer = SigV4Signer(creds, "us-east-1", "execute-api")
    prepared = requests.Request("PUT", "https://api.example.com/k", data=io.BytesIO(b"a")).prepare()
    with pytest.raises(ValueError, match="X-Amz-Content-SHA256"):
        SigV4Auth(signer, clock=fixed_clock)(prepared)


def test_auth_skips_session_default_headers_it_must_not_sign(s3_token: SigV4Signer) -> None:
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("GET", f"{BUCKET}/k"))
    SigV4Auth(s3_token, clock=fixed_clock)(prepared)
    signed = signed_headers_of(prepared.headers["Authorization"])
    assert "user-agent" not in signed
    assert "connection" not in signed
    assert "x-amz-security-token" in signed
    assert prepared.headers["X-Amz-Security-Token"] == TOKEN


def test_auth_can_sign_the_same_request_twice(s3: SigV4Signer) -> None:
    prepared = requests.Request(
        "GET", f"{BUCKET}/test.txt", headers={"Range": "bytes=0-9"}
    ).prepare()
    auth = SigV4Auth(s3, clock=fixed_clock)
    auth(prepared)
    first = dict(prepared.headers)
    auth(prepared)
    assert dict(prepared.headers) == first


def test_auth_through_requests_prepare(s3: SigV4Signer) -> None:
    prepared = requests.Request(
        "GET",
        f"{BUCKET}/test.txt",
        headers={"Range": "bytes=0-9"},
        auth=SigV4Auth(s3, clock=fixed_clock),
    ).prepare()
    assert signature_of(prepared.headers["Authorization"]) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_auth_requires_a_signer() -> None:
    with pytest.raises(TypeError):
        SigV4Auth("signer")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------


def test_redact_headers(s3_token: SigV4Signer) -> None:
    signed = s3_token.sign(
        "PUT",
        f"{BUCKET}/k",
        headers={
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": "c2VjcmV0LWtleQ==",
            "x-amz-server-side-encryption-customer-key-MD5": "bWQ1",
            "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key": "c2VjcmV0LWtleQ==",
            "Content-Type": "text/plain",
        },
        timestamp=WHEN,
    )
    redacted = redact_headers(signed)
    assert list(redacted) == list(signed)
    signature = signature_of(signed["Authorization"])
    assert redacted["Authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{SCOPE}, "
        f"SignedHeaders={';'.join(signed_headers_of(signed['Authorization']))}, "
        "Signature=<redacted>"
    )
    assert redacted["X-Amz-Security-Token"] == "<redacted>"
    assert redacted["x-amz-server-side-encryption-customer-key"] == "<redacted>"
    assert redacted["X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"] == "<redacted>"
    assert redacted["x-amz-server-side-encryption-customer-key-MD5"] == "bWQ1"
    assert redacted["Content-Type"] == "text/plain"
    assert redacted["X-Amz-Date"] == signed["X-Amz-Date"]
    text = repr(redacted)
    for secret in (signature, TOKEN, "c2VjcmV0LWtleQ==", SECRET_KEY):
        assert secret not in text
    assert signed["X-Amz-Security-Token"] == TOKEN  # the input is untouched


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer abc.def",
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "garbage",
    ],
)
def test_redact_other_authorization_schemes(value: str) -> None:
    assert redact_headers({"authorization": value}) == {"authorization": "<redacted>"}


def test_redact_headers_accepts_bytes_and_mixed_case() -> None:
    redacted = redact_headers({"x-AMZ-security-TOKEN": b"tok", "Proxy-Authorization": "Basic x"})
    assert redacted == {"x-AMZ-security-TOKEN": "<redacted>", "Proxy-Authorization": "<redacted>"}


def test_redact_url(s3_token: SigV4Signer) -> None:
    url = s3_token.presign("GET", f"{BUCKET}/k?versionId=v1", timestamp=WHEN)
    redacted = redact_url(url)
    params = query_dict(redacted)
    assert params["X-Amz-Signature"] == "<redacted>"
    assert params["X-Amz-Security-Token"] == "<redacted>"
    assert params["X-Amz-Credential"] == f"{ACCESS_KEY}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    assert params["versionId"] == "v1"
    assert params["X-Amz-Date"] == "20130524T000000Z"
    assert redacted.startswith(f"{BUCKET}/k?versionId=v1&")
    assert uri_encode(TOKEN) not in redacted
    assert query_dict(url)["X-Amz-Signature"] not in redacted


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{BUCKET}/k", f"{BUCKET}/k"),
        (f"{BUCKET}/k?x-amz-signature=abc#frag", f"{BUCKET}/k?x-amz-signature=<redacted>#frag"),
        ("https://u:pw@h.example/k", "https://u:<redacted>@h.example/k"),
        ("https://u@h.example/k", "https://u@h.example/k"),
        ("https://h.example/k?sig=abc&sv=2020", "https://h.example/k?sig=<redacted>&sv=2020"),
    ],
)
def test_redact_url_cases(url: str, expected: str) -> None:
    assert redact_url(url) == expected
