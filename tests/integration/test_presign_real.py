"""Presigned URLs and POST policy uploads against real servers.

SeaweedFS verifies SigV4 query signatures, their expiry, and POST policy
signatures and conditions, so a URL or form that works there is correctly
signed; moto accepts anything, but honours session tokens, response overrides
and versions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from servers import S3Endpoint

from libstore.auth import Credentials
from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.presign import PresignExpiryWarning

pytestmark = pytest.mark.integration


def driver_for(endpoint: S3Endpoint, **kwargs: object) -> S3StorageDriver:
    if "credentials" not in kwargs:
        kwargs.setdefault("key", endpoint.access_key)
        kwargs.setdefault("secret", endpoint.secret_key)
    return S3StorageDriver(
        secure=False,
        host="127.0.0.1",
        port=endpoint.port,
        region=endpoint.region,
        retry_policy=RetryPolicy(max_attempts=3, backoff_base=0.01),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def bucket(s3_server: S3Endpoint, bucket_name: str) -> Iterator[tuple[S3StorageDriver, Container]]:
    driver = driver_for(s3_server)
    container = driver.create_container(bucket_name)
    driver.upload_object_via_stream(iter([b"presigned!"]), container, "dir/file one.txt")
    yield driver, container
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    driver.delete_container(container)
    driver.close()


def fetch(method: str, url: str, **kwargs: object) -> requests.Response:
    """A plain HTTP client, as a browser or curl would use the URL."""
    return requests.request(method, url, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_presigned_get(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    url = driver.presign("GET", container.name, "dir/file one.txt", 300).url
    reply = fetch("GET", url)
    assert reply.status_code == 200, reply.text
    assert reply.content == b"presigned!"


def test_get_object_cdn_url(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    obj = driver.get_object(container.name, "dir/file one.txt")
    assert fetch("GET", obj.get_cdn_url()).content == b"presigned!"
    assert fetch("GET", driver.get_object_cdn_url(obj, 0.01)).status_code == 200


def test_presigned_put_head_and_delete(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    put = driver.presign(
        "PUT", container.name, "uploaded.json", headers={"Content-Type": "application/json"}
    )
    reply = fetch("PUT", put.url, data=b'{"a": 1}', headers=dict(put.headers))
    assert reply.status_code == 200, reply.text
    obj = driver.get_object(container.name, "uploaded.json")
    assert (obj.size, obj.extra["content_type"]) == (8, "application/json")
    head = fetch("HEAD", driver.presign("HEAD", container.name, "uploaded.json").url)
    assert (head.status_code, head.headers["Content-Length"]) == (200, "8")
    delete = fetch("DELETE", driver.presign("DELETE", container.name, "uploaded.json").url)
    assert delete.status_code == 204
    assert "uploaded.json" not in [o.name for o in driver.iterate_container_objects(container)]


def test_response_header_overrides(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    url = driver.presign(
        "GET",
        container.name,
        "dir/file one.txt",
        response_headers={
            "content_disposition": 'attachment; filename="report.txt"',
            "content_type": "text/x-report",
        },
    ).url
    reply = fetch("GET", url)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Disposition"] == 'attachment; filename="report.txt"'
    assert reply.headers["Content-Type"].startswith("text/x-report")


def test_presigned_get_of_a_version(bucket: tuple[S3StorageDriver, Container]) -> None:
    import base64
    import hashlib

    driver, container = bucket
    body = (
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Status>Enabled</Status></VersioningConfiguration>"
    )
    driver._call(
        "PUT",
        driver._url(container.name, query=[("versioning", None)]),
        "enabling versioning",
        body=body,
        payload_hash=hashlib.sha256(body).hexdigest(),
        headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()},
    )
    driver.upload_object_via_stream(iter([b"first"]), container, "v.txt")
    first = driver.get_object(container.name, "v.txt").extra["version_id"]
    driver.upload_object_via_stream(iter([b"second"]), container, "v.txt")
    url = driver.presign("GET", container.name, "v.txt", version_id=first).url
    assert fetch("GET", url).content == b"first"
    assert fetch("GET", driver.presign("GET", container.name, "v.txt").url).content == b"second"
    for version in (first, None):  # versioned buckets keep versions: delete them for cleanup
        query = [("versionId", version)] if version else []
        driver._call("DELETE", driver._url(container.name, "v.txt", query), "cleanup")
    listing = driver._call(
        "GET", driver._url(container.name, query=[("versions", None)]), "listing versions"
    )
    from libstore._xml import child_text, children, parse_xml

    for kind in ("Version", "DeleteMarker"):
        for node in children(parse_xml(listing.body), kind):
            driver._call(
                "DELETE",
                driver._url(
                    container.name,
                    child_text(node, "Key") or "",
                    [("versionId", child_text(node, "VersionId") or "")],
                ),
                "cleanup",
            )


def test_presigned_url_for_a_public_endpoint(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    port = driver.port
    # the driver talks to 127.0.0.1; the URL is for "localhost", as a proxy's name would be
    url = driver.presign(
        "GET", container.name, "dir/file one.txt", endpoint_url=f"http://localhost:{port}"
    ).url
    assert url.startswith(f"http://localhost:{port}/")
    reply = fetch("GET", url)
    assert reply.status_code == 200, reply.text


def test_seaweedfs_refuses_tampered_and_wrongly_signed_urls(
    seaweedfs: S3Endpoint, bucket_name: str
) -> None:
    driver = driver_for(seaweedfs)
    container = driver.create_container(bucket_name)
    try:
        driver.upload_object_via_stream(iter([b"x"]), container, "k")
        good = driver.presign("GET", bucket_name, "k").url
        assert fetch("GET", good).status_code == 200
        tampered = good.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")
        assert fetch("GET", tampered).status_code == 403
        other_key = driver.presign("GET", bucket_name, "k").url.replace("/k?", "/j?")
        assert fetch("GET", other_key).status_code in (403, 404)
        wrong = driver_for(seaweedfs, secret="not-the-secret").presign("GET", bucket_name, "k")
        reply = fetch("GET", wrong.url)
        assert reply.status_code == 403
        assert "SignatureDoesNotMatch" in reply.text
        put_url = driver.presign("PUT", bucket_name, "k").url
        assert fetch("DELETE", put_url).status_code == 403  # signed for another method
    finally:
        for obj in list(driver.iterate_container_objects(container)):
            driver.delete_object(obj)
        driver.delete_container(container)


def test_seaweedfs_enforces_the_expiry(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    driver = driver_for(seaweedfs)
    container = driver.create_container(bucket_name)
    try:
        driver.upload_object_via_stream(iter([b"x"]), container, "k")
        url = driver.presign("GET", bucket_name, "k", 1).url
        time.sleep(2.2)
        reply = fetch("GET", url)
        assert reply.status_code == 403
        assert "expired" in reply.text.lower()
    finally:
        for obj in list(driver.iterate_container_objects(container)):
            driver.delete_object(obj)
        driver.delete_container(container)


def test_temporary_credentials_put_their_token_in_the_url(
    moto_s3: S3Endpoint, bucket_name: str
) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=30)
    creds = Credentials(
        moto_s3.access_key, moto_s3.secret_key, "session-token", expires_at=expires_at
    )
    driver = driver_for(moto_s3, credentials=lambda: creds)
    container = driver.create_container(bucket_name)
    try:
        driver.upload_object_via_stream(iter([b"t"]), container, "k")
        with pytest.warns(PresignExpiryWarning):
            result = driver.presign("GET", bucket_name, "k", 86400)
        assert result.capped and result.expires_at <= expires_at
        assert "X-Amz-Security-Token=session-token" in result.url
        assert fetch("GET", result.url).content == b"t"
    finally:
        driver.delete_object(driver.get_object(bucket_name, "k"))
        driver.delete_container(container)


# -- browser POST uploads -----------------------------------------------------------------------


def test_post_policy_upload(bucket: tuple[S3StorageDriver, Container]) -> None:
    driver, container = bucket
    post = driver.presign_post(
        container.name,
        key_prefix="uploads/",
        fields={"Content-Type": "text/plain", "x-amz-meta-origin": "browser"},
        content_length_range=(1, 1024),
    )
    reply = fetch(
        "POST", post.url, data=dict(post.fields), files={"file": ("notes.txt", b"from a form")}
    )
    assert reply.status_code in (200, 201, 204), reply.text
    obj = driver.get_object(container.name, "uploads/notes.txt")
    assert obj.size == len(b"from a form")
    assert obj.extra["content_type"] == "text/plain"
    assert b"".join(driver.download_object_as_stream(obj)) == b"from a form"


def test_seaweedfs_enforces_the_post_policy(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    driver = driver_for(seaweedfs)
    container = driver.create_container(bucket_name)
    try:
        post = driver.presign_post(
            bucket_name, key_prefix="in/", content_length_range=(1, 10), expires=300
        )
        fields = dict(post.fields)
        ok = fetch("POST", post.url, data=fields, files={"file": ("a.txt", b"ok")})
        assert ok.status_code == 204, ok.text
        too_big = fetch("POST", post.url, data=fields, files={"file": ("b.txt", b"x" * 100)})
        assert too_big.status_code == 400
        assert "EntityTooLarge" in too_big.text
        outside = {**fields, "key": "out/c.txt"}
        refused = fetch("POST", post.url, data=outside, files={"file": ("c.txt", b"x")})
        assert refused.status_code == 403
        forged = {**fields, "x-amz-signature": "0" * 64}
        assert (
            fetch("POST", post.url, data=forged, files={"file": ("d.txt", b"x")}).status_code == 403
        )
        wrong = driver_for(seaweedfs, secret="nope").presign_post(bucket_name, "in/e.txt")
        bad = fetch("POST", wrong.url, data=dict(wrong.fields), files={"file": ("e", b"x")})
        assert bad.status_code == 403
        assert [o.name for o in driver.iterate_container_objects(container)] == ["in/a.txt"]
    finally:
        for obj in list(driver.iterate_container_objects(container)):
            driver.delete_object(obj)
        driver.delete_container(container)
