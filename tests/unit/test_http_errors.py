"""How transport failures are described: TLS reasons, proxies, no URL secrets."""

from __future__ import annotations

import ssl

import requests
import urllib3.exceptions

from libstore.http.session import _is_retryable_transport, _transport_error
from libstore.types import RequestTimeoutError, TransportError

URL = "https://h:8443/b/k?X-Amz-Signature=abcdef0123456789abcdef0123456789&partNumber=1"


def _wrapped(inner: BaseException) -> requests.exceptions.SSLError:
    middle = urllib3.exceptions.SSLError(inner)
    outer = requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, URL, middle))  # type: ignore[arg-type]
    outer.__cause__ = middle
    return outer


def test_untrusted_certificate_names_the_reason_and_the_fix() -> None:
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed")
    inner.verify_message = "self-signed certificate in certificate chain"
    error = _transport_error(_wrapped(inner), "GET", URL)
    assert isinstance(error, TransportError)
    text = str(error)
    assert "certificate verify failed: self-signed certificate in certificate chain" in text
    assert "ca_bundle" in text and "abcdef0123456789" not in text
    assert not _is_retryable_transport(_wrapped(inner))


def test_handshake_alerts_hint_at_client_certificates() -> None:
    inner = ssl.SSLError(1, "alert")
    inner.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"  # type: ignore[misc]
    text = str(_transport_error(_wrapped(inner), "PUT", URL))
    assert "tlsv13 alert certificate required" in text and "client certificate" in text


def test_tls_failure_without_an_ssl_reason_still_says_what_to_check() -> None:
    text = str(_transport_error(_wrapped(ConnectionResetError(104, "reset by peer")), "GET", URL))
    assert "the TLS session failed (ConnectionResetError: [Errno 104] reset by peer)" in text
    assert "client certificate" in text and "abcdef0123456789" not in text


def test_proxy_tunnel_refusal_is_named() -> None:
    inner = OSError("Tunnel connection failed: 407 Proxy Authentication Required")
    exc = requests.exceptions.ProxyError(
        urllib3.exceptions.ProxyError("Unable to connect to proxy", inner)
    )
    text = str(_transport_error(exc, "GET", URL))
    assert "failed at the proxy: Tunnel connection failed: 407" in text


def test_timeouts_are_request_timeout_errors() -> None:
    error = _transport_error(requests.exceptions.ReadTimeout("read timed out"), "GET", URL)
    assert isinstance(error, RequestTimeoutError)
    assert "X-Amz-Signature=<redacted>" in str(error)
