"""Expired credentials at the wire: refresh once, replay once, signed with the new ones."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from wirekit import BASE, listing_xml, make_driver, s3_error

from libstore.auth import Credentials
from libstore.base import Container, Object
from libstore.credentials import ANONYMOUS
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.types import InvalidCredsError, LibstoreError

LIST_URL = f"{BASE}/bkt?list-type=2"
OBJ_URL = f"{BASE}/bkt/key"


class Rotating:
    """A provider handing out AKID1, AKID2…, each valid for a day."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> Credentials:
        with self.lock:
            self.calls += 1
            number = self.calls
        return Credentials(
            f"AKID{number}",
            f"secret{number}",
            f"token{number}",
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )


def provider_driver(credentials: Any, **kwargs: Any) -> S3StorageDriver:
    """The wire tests' driver, with ``credentials=`` instead of a key pair."""
    return S3StorageDriver(
        secure=False,
        host="s3.test",
        port=9000,
        retry_policy=RetryPolicy(max_attempts=3, backoff_base=0),
        credentials=credentials,
        **kwargs,
    )


def akid(request: object) -> str:
    authorization = request.headers["Authorization"]  # type: ignore[attr-defined]
    return str(authorization).split("Credential=")[1].split("/")[0]


def _list(driver: S3StorageDriver) -> list[str]:
    return [o.name for o in driver.list_container_objects(Container("bkt", {}, driver))]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "ExpiredToken"), (403, "RequestExpired"), (400, "TokenRefreshRequired")],
)
def test_expired_token_is_refreshed_and_replayed_once(
    mock: responses.RequestsMock, status: int, code: str
) -> None:
    provider = Rotating()
    driver = provider_driver(provider)
    mock.add(responses.GET, LIST_URL, status=status, body=s3_error(code))
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a"]))

    assert _list(driver) == ["a"]
    first, second = (call.request for call in mock.calls)
    assert (akid(first), first.headers["X-Amz-Security-Token"]) == ("AKID1", "token1")
    assert (akid(second), second.headers["X-Amz-Security-Token"]) == ("AKID2", "token2")
    assert provider.calls == 2


def test_a_second_expiry_is_not_replayed_again(mock: responses.RequestsMock) -> None:
    driver = provider_driver(Rotating())
    mock.add(responses.GET, LIST_URL, status=400, body=s3_error("ExpiredToken"))
    mock.add(responses.GET, LIST_URL, status=400, body=s3_error("ExpiredToken"))
    with pytest.raises(InvalidCredsError) as info:
        _list(driver)
    assert info.value.code == "ExpiredToken"
    assert len(mock.calls) == 2


def test_static_credentials_are_not_replayed(mock: responses.RequestsMock) -> None:
    driver = make_driver()
    mock.add(responses.GET, LIST_URL, status=400, body=s3_error("ExpiredToken"))
    with pytest.raises(InvalidCredsError):
        _list(driver)
    assert len(mock.calls) == 1


def test_other_auth_errors_are_not_replayed(mock: responses.RequestsMock) -> None:
    provider = Rotating()
    driver = provider_driver(provider)
    mock.add(responses.GET, LIST_URL, status=403, body=s3_error("SignatureDoesNotMatch"))
    with pytest.raises(InvalidCredsError):
        _list(driver)
    assert provider.calls == 1


def test_streamed_download_is_replayed_after_expiry(mock: responses.RequestsMock) -> None:
    driver = provider_driver(Rotating())
    mock.add(responses.GET, OBJ_URL, status=400, body=s3_error("ExpiredToken"))
    mock.add(responses.GET, OBJ_URL, body=b"abc", headers={"Content-Length": "3"})
    obj = Object("key", 3, None, {}, {}, Container("bkt", {}, driver), driver)
    assert b"".join(driver.download_object_as_stream(obj)) == b"abc"
    assert [akid(call.request) for call in mock.calls] == ["AKID1", "AKID2"]


def test_upload_body_is_sent_again_on_replay(mock: responses.RequestsMock) -> None:
    driver = provider_driver(Rotating(), checksum="md5")
    mock.add(responses.PUT, OBJ_URL, status=400, body=s3_error("ExpiredToken"))
    mock.add(responses.PUT, OBJ_URL, headers={"ETag": '"900150983cd24fb0d6963f7d28e17f72"'})
    driver.upload_object_via_stream(iter([b"abc"]), Container("bkt", {}, driver), "key")
    bodies = [call.request.body for call in mock.calls]
    assert bodies == [b"abc", b"abc"]
    assert [akid(call.request) for call in mock.calls] == ["AKID1", "AKID2"]


def test_concurrent_expiries_refresh_once(mock: responses.RequestsMock) -> None:
    provider = Rotating()
    driver = provider_driver(provider)
    driver.get_credentials()  # AKID1 cached
    rejected = driver._credentials.current  # type: ignore[union-attr]
    # two threads rejected with the same credentials: the second finds them replaced
    assert driver._credentials.refresh(rejected=rejected).access_key == "AKID2"  # type: ignore[union-attr]
    assert driver._credentials.refresh(rejected=rejected).access_key == "AKID2"  # type: ignore[union-attr]
    assert provider.calls == 2


def test_anonymous_requests_carry_no_signature(mock: responses.RequestsMock) -> None:
    driver = provider_driver(ANONYMOUS)
    mock.add(responses.GET, LIST_URL, body=listing_xml(["public"]))
    assert _list(driver) == ["public"]
    headers = mock.calls[0].request.headers
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        assert name not in headers


def test_anonymous_expired_answer_is_not_replayed(mock: responses.RequestsMock) -> None:
    driver = provider_driver(ANONYMOUS)
    mock.add(responses.GET, LIST_URL, status=403, body=s3_error("RequestExpired"))
    with pytest.raises(LibstoreError):
        _list(driver)
    assert len(mock.calls) == 1
