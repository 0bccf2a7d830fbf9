"""TLS against SeaweedFS behind a TLS-terminating front with a test CA made at test time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from netkit import make_driver, round_trip
from servers import S3Endpoint
from tlsfront import Pki, TlsFront, make_pki

from libstore.types import InvalidArgumentError, LibstoreError, TransportError

pytestmark = pytest.mark.integration


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # bounded by the deadline
        time.sleep(0.02)
    assert condition()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def front(seaweedfs: S3Endpoint, pki: Pki) -> Iterator[TlsFront]:
    with TlsFront("127.0.0.1", seaweedfs.port, pki.server_cert, pki.server_key) as running:
        yield running


@pytest.fixture
def mtls_front(seaweedfs: S3Endpoint, pki: Pki) -> Iterator[TlsFront]:
    with TlsFront(
        "127.0.0.1", seaweedfs.port, pki.server_cert, pki.server_key, client_ca=pki.client_ca_cert
    ) as running:
        yield running


def test_trusted_ca_bundle_argument(
    seaweedfs: S3Endpoint, front: TlsFront, pki: Pki, bucket_name: str, tmp_path: Path
) -> None:
    driver = make_driver(seaweedfs, port=front.port, secure=True, ca_bundle=pki.ca_cert)
    round_trip(driver, bucket_name, tmp_path, large=True)
    assert front.handshakes >= 1
    assert front.handshake_failures == []


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_trusted_ca_bundle_from_the_environment(
    seaweedfs: S3Endpoint,
    front: TlsFront,
    pki: Pki,
    bucket_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(pki.ca_cert))
    driver = make_driver(seaweedfs, port=front.port, secure=True)
    assert driver._http.network.ca_source == variable
    monkeypatch.delenv(variable)  # read once, at construction
    round_trip(driver, bucket_name, tmp_path)


@pytest.mark.parametrize("bundle", ["default", "other"])
def test_untrusted_certificate_is_a_clear_transport_error(
    seaweedfs: S3Endpoint,
    front: TlsFront,
    pki: Pki,
    bucket_name: str,
    bundle: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)  # "default": certifi's bundle
    extra = {"ca_bundle": pki.other_ca_cert} if bundle == "other" else {}
    driver = make_driver(seaweedfs, port=front.port, secure=True, **extra)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        driver.create_container(bucket_name)
    error = info.value
    assert not isinstance(error, requests.RequestException)
    assert "certificate is not trusted" in str(error)
    assert "certificate verify failed" in str(error)
    assert f"https://127.0.0.1:{front.port}/" in str(error)
    _wait_for(lambda: len(front.handshake_failures) >= 1)
    time.sleep(0.3)
    assert len(front.handshake_failures) == 1  # TLS failures are not retried
    assert time.monotonic() - started < 5


def test_verify_false_accepts_the_untrusted_certificate_and_warns(
    seaweedfs: S3Endpoint,
    front: TlsFront,
    bucket_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="libstore.http"):
        driver = make_driver(seaweedfs, port=front.port, secure=True, verify=False)
    assert any("verification is DISABLED" in r.getMessage() for r in caplog.records)
    with pytest.warns(Warning):  # urllib3's InsecureRequestWarning, on every connection
        round_trip(driver, bucket_name, tmp_path)


def test_mtls_requires_the_client_certificate(
    seaweedfs: S3Endpoint, mtls_front: TlsFront, pki: Pki, bucket_name: str
) -> None:
    driver = make_driver(seaweedfs, port=mtls_front.port, secure=True, ca_bundle=pki.ca_cert)
    with pytest.raises(TransportError) as info:
        driver.create_container(bucket_name)
    assert not isinstance(info.value, requests.RequestException)
    assert "client certificate" in str(info.value)
    _wait_for(lambda: bool(mtls_front.handshake_failures))
    assert mtls_front.client_subjects == []


@pytest.mark.parametrize("form", ["separate", "combined", "encrypted"])
def test_mtls_with_the_client_certificate(
    seaweedfs: S3Endpoint,
    mtls_front: TlsFront,
    pki: Pki,
    bucket_name: str,
    tmp_path: Path,
    form: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if form == "separate":
        cert = {"client_cert": pki.client_cert, "client_key": pki.client_key}
    elif form == "combined":
        cert = {"client_cert": pki.combined_client}
    else:
        cert = {
            "client_cert": pki.client_cert,
            "client_key": pki.client_key_encrypted,
            "client_key_password": pki.client_key_password,
        }
    caplog.set_level(logging.DEBUG, logger="libstore")
    driver = make_driver(
        seaweedfs, port=mtls_front.port, secure=True, ca_bundle=pki.ca_cert, **cert
    )
    round_trip(driver, bucket_name, tmp_path)
    assert set(mtls_front.client_subjects) == {"libstore-test-client"}
    assert pki.client_key_password not in caplog.text
    assert pki.client_key_password not in repr(driver.options)


def test_a_certificate_the_server_does_not_trust_is_refused(
    seaweedfs: S3Endpoint, mtls_front: TlsFront, pki: Pki, bucket_name: str
) -> None:
    # The server certificate, signed by the server CA, is no client certificate here.
    driver = make_driver(
        seaweedfs,
        port=mtls_front.port,
        secure=True,
        ca_bundle=pki.ca_cert,
        client_cert=pki.server_cert,
        client_key=pki.server_key,
    )
    with pytest.raises(LibstoreError):
        driver.create_container(bucket_name)
    assert mtls_front.client_subjects == []


def test_an_unloadable_client_certificate_fails_at_construction(
    seaweedfs: S3Endpoint, pki: Pki
) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot load the client certificate"):
        make_driver(seaweedfs, secure=True, client_cert=pki.client_cert, client_key=pki.server_key)
