"""Redaction of free text and log records, and the libstore logger hierarchy."""

from __future__ import annotations

import logging
import sys

import pytest

from libstore.http.logs import RedactingFilter, get_logger, redact_text

SIG = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"
SSEC = "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVwcm92aWRlZA=="


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={SIG}",
        f"{{'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/x, Signature={SIG}'}}",
        f"GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKID%2Fx&X-Amz-Signature={SIG}",
        f"https://h/k?x-amz-security-token={TOKEN}&X-Amz-Signature={SIG}",
        f"'X-Amz-Security-Token': '{TOKEN}'",
        f"x-amz-security-token: {TOKEN}",
        f"x-amz-server-side-encryption-customer-key: {SSEC}",
        f"{{'x-amz-copy-source-server-side-encryption-customer-key': '{SSEC}'}}",
        f"aws_secret_access_key={SECRET}",
        f"password={SECRET}",
        f"http://alice:{SECRET}@proxy:3128",
        f"Proxy-Authorization: Basic {SSEC}",
        f"Signature={SIG}",
    ],
)
def test_redact_text_removes_every_secret(text: str) -> None:
    redacted = redact_text(text)
    for secret in (SIG, SECRET, TOKEN, SSEC):
        assert secret not in redacted, redacted
    assert "<redacted>" in redacted


def test_redact_text_keeps_what_is_not_secret() -> None:
    text = (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={SIG}"
    )
    assert redact_text(text) == (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=<redacted>"
    )
    md5 = "x-amz-server-side-encryption-customer-key-MD5: abcdEFGH=="
    assert redact_text(md5) == md5
    plain = "PUT http://127.0.0.1:9000/bkt/key?partNumber=2&uploadId=xyz -> 200"
    assert redact_text(plain) == plain
    done = "GET https://h/k?X-Amz-Security-Token=<redacted>&X-Amz-Signature=<redacted> (attempt 1)"
    assert redact_text(done) == done
    url = f"GET https://h/k?X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIG}&a=b -> 200"
    assert redact_text(url) == (
        "GET https://h/k?X-Amz-Security-Token=<redacted>&X-Amz-Signature=<redacted>&a=b -> 200"
    )
    assert redact_text("") == ""


def test_filter_redacts_message_args_and_traceback() -> None:
    record = logging.LogRecord(
        "libstore.x",
        logging.DEBUG,
        __file__,
        1,
        "headers %s",
        ({"Authorization": f"Signature={SIG}"},),
        None,
    )
    try:
        raise ValueError(f"boom X-Amz-Signature={SIG}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert SIG not in record.getMessage()
    assert record.exc_text is not None and SIG not in record.exc_text
    assert record.args is None
    formatted = logging.Formatter().format(record)
    assert SIG not in formatted


def test_get_logger_installs_the_filter_once(caplog: pytest.LogCaptureFixture) -> None:
    logger = get_logger("libstore.test.redaction")
    assert get_logger("libstore.test.redaction") is logger
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="libstore.test.redaction"):
        logger.debug("url %s", f"https://h/k?X-Amz-Signature={SIG}")
    assert SIG not in caplog.text
    assert caplog.records[-1].getMessage() == "url https://h/k?X-Amz-Signature=<redacted>"


def test_every_libstore_logger_is_below_libstore() -> None:
    import libstore.drivers.local
    import libstore.http.session  # noqa: F401

    names = [name for name in logging.Logger.manager.loggerDict if name.startswith("libstore")]
    assert "libstore.http" in names and "libstore.http.headers" in names
    for name in ("libstore.http", "libstore.http.headers"):
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters)
