"""Logging helpers: the ``libstore`` logger hierarchy and secret redaction.

Loggers (all below ``libstore``, so ``logging.getLogger("libstore")`` controls them all):

``libstore.drivers.s3``, ``libstore.drivers.local`` (one per driver module)
    INFO: one line per high-level operation (upload, download, delete, copy) with
    the object, size, duration, rate, requests and retries.
``libstore.http``
    DEBUG: one line per HTTP request sent and one per reply (status, timing,
    bytes, request id), one per retry; WARNING: TLS verification disabled.
``libstore.http.headers``
    DEBUG: the request and reply headers, redacted (enable it on its own to keep
    ``libstore.http`` quieter).
``libstore.hooks``
    WARNING: an event hook raised.
``libstore.transfer``
    the transfer layer.
``urllib3.*``
    not libstore's, but it logs request lines (presigned URLs included) at DEBUG,
    so importing libstore's HTTP layer attaches the same redaction to its loggers.

Secrets are kept out at the source: URLs go through
:func:`libstore.auth.redact_url` and headers through
:func:`libstore.auth.redact_headers` before they are formatted. Every logger
libstore creates also carries a :class:`RedactingFilter` as a second line of
defence, which scrubs anything that looks like a signature, a security token,
an SSE-C key, an ``Authorization`` value or a URL password from the final
message (and from a formatted traceback). Attach a :class:`RedactingFilter` to
your own handlers to give your application's records the same treatment.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Final

__all__ = ["LIBSTORE_LOGGERS", "RedactingFilter", "get_logger", "install_redaction", "redact_text"]

_REDACTED: Final = "<redacted>"

# name=value pairs in query strings and free text (X-Amz-Signature=..., sig=...).
_QUERY_SECRET = re.compile(
    r"(?i)(?P<key>\b(?:x-amz-signature|x-amz-security-token|x-goog-signature|signature|sig"
    r"|x-amz-credential-secret|aws_secret_access_key|aws_session_token|secret_key"
    r"|secretaccesskey|sessiontoken|password)\s*=\s*)(?P<value>[^&\s\"',;)}\]]+)"
)
# Header-like "name: value" or "'name': 'value'" pairs (dict reprs included).
_HEADER_SECRET = re.compile(
    r"(?i)(?P<key>['\"]?(?:authorization|proxy-authorization|x-amz-security-token"
    r"|x-amz-server-side-encryption-customer-key(?!-md5)"
    r"|x-amz-copy-source-server-side-encryption-customer-key(?!-md5)"
    r"|x-goog-encryption-key|x-goog-copy-source-encryption-key|x-ms-encryption-key"
    r"|x-ms-copy-source-authorization)['\"]?\s*:\s*['\"]?)(?P<value>[^'\"\r\n}]+)"
)
# user:password@ in URLs.
_URL_PASSWORD = re.compile(r"(?P<key>://[^/\s:@]+:)(?P<value>[^@\s]+)(?=@)")
# A bare SigV4 signature after "Signature" in an Authorization value.
_SIGV4 = re.compile(r"(?i)(?P<key>Signature\s*=\s*)(?P<value>[0-9a-f]{16,})")


def _keep_signv4_prefix(match: re.Match[str]) -> str:
    value = match["value"]
    head = re.match(
        r"(?i)\s*AWS4-HMAC-SHA256\s+Credential=[^,\s]+(?:,\s*SignedHeaders=[^,\s]+)?", value
    )
    if head is not None:
        return f"{match['key']}{head.group(0).strip()}, Signature={_REDACTED}"
    return f"{match['key']}{_REDACTED}"


def redact_text(text: str) -> str:
    """Scrub secrets from free text: signatures, tokens, SSE-C keys, credentials.

    Redacts ``Authorization``/``Proxy-Authorization`` values (keeping a SigV4
    value's non-secret ``Credential`` and ``SignedHeaders``), SigV4
    ``Signature=<hex>``, presigned-URL ``X-Amz-Signature``/``X-Amz-Security-Token``
    (and other schemes' ``Signature``/``sig``), ``X-Amz-Security-Token`` and SSE-C
    key headers (their ``-MD5`` digests are kept), ``password=``-style pairs, and
    passwords in URLs.

    Args:
        text: Any text, typically a formatted log message.

    Returns:
        The text with every secret replaced by ``<redacted>``.
    """
    if not text:
        return text
    out = _HEADER_SECRET.sub(_keep_signv4_prefix, text)
    out = _SIGV4.sub(lambda m: f"{m['key']}{_REDACTED}", out)
    out = _QUERY_SECRET.sub(
        lambda m: m.group(0) if m["value"] == _REDACTED else f"{m['key']}{_REDACTED}", out
    )
    return _URL_PASSWORD.sub(lambda m: f"{m['key']}{_REDACTED}", out)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from records (see :func:`redact_text`).

    The record's message is formatted, redacted and stored back without
    arguments, and a traceback is formatted and redacted into ``exc_text`` (which
    the standard :class:`logging.Formatter` uses as is). It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it.

        Args:
            record: The record being logged.

        Returns:
            ``True``.
        """
        if getattr(record, "_libstore_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._libstore_redacted = True
        return True


_FILTER = RedactingFilter()
_INSTALLED: set[str] = set()
_INSTALL_LOCK = threading.Lock()


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` with libstore's :class:`RedactingFilter` attached once.

    Args:
        name: A logger name, normally below ``libstore``.

    Returns:
        The logger.
    """
    logger = logging.getLogger(name)
    if name not in _INSTALLED:
        with _INSTALL_LOCK:
            if name not in _INSTALLED:
                logger.addFilter(_FILTER)
                _INSTALLED.add(name)
    return logger


def install_redaction(names: tuple[str, ...] | list[str]) -> None:
    """Attach libstore's :class:`RedactingFilter` to each named logger (once).

    Args:
        names: Logger names.
    """
    for name in names:
        get_logger(name)


#: The loggers libstore's modules log on; each gets the :class:`RedactingFilter`.
LIBSTORE_LOGGERS: Final = (
    "libstore",
    "libstore.cli",
    "libstore.config",
    "libstore.credentials",
    "libstore.drivers.local",
    "libstore.drivers.s3",
    "libstore.hooks",
    "libstore.http",
    "libstore.http.headers",
    "libstore.transfer",
)

install_redaction(LIBSTORE_LOGGERS)
