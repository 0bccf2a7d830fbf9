"""Exit codes, and the one place where exceptions become an exit code and a message.

========  ==================================================================
code      meaning
========  ==================================================================
0         success
1         an operation failed (for several operations: some failed; a
          summary says how many)
2         usage error: bad arguments, a malformed URL, an unknown scheme, an
          invalid bucket or object name, a destination of the wrong kind,
          missing configuration, an operation the provider does not support
3         not found: the bucket, object, prefix, file or directory is missing
4         access denied: the server refused (HTTP 403) or the credentials
          were rejected, or the file system refused permission
130       interrupted (Ctrl-C, SIGINT); 143 for SIGTERM
141       standard output closed early (a broken pipe, as with ``| head``)
========  ==================================================================
"""

from __future__ import annotations

import errno
from typing import Final

from libstore import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidObjectNameError,
    InvalidRangeError,
    LibstoreError,
    NotSupportedError,
    ObjectDoesNotExistError,
)
from libstore.credentials import CredentialsError

__all__ = [
    "EXIT_ACCESS_DENIED",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "CliError",
    "Interrupted",
    "UsageError",
    "classify",
    "describe",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_ACCESS_DENIED: Final = 4
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = 141
EXIT_TERMINATED: Final = 143

#: Names used for ``"error_kind"`` in ``--json`` output, by exit code.
KIND_NAMES: Final = {
    EXIT_FAILED: "failed",
    EXIT_USAGE: "usage",
    EXIT_NOT_FOUND: "not_found",
    EXIT_ACCESS_DENIED: "access_denied",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_TERMINATED: "interrupted",
}

_LABELS: Final = {
    EXIT_FAILED: "error",
    EXIT_USAGE: "usage error",
    EXIT_NOT_FOUND: "not found",
    EXIT_ACCESS_DENIED: "access denied",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_TERMINATED: "interrupted",
}


class CliError(Exception):
    """An error the CLI detected itself, with the exit code it stands for."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CliError):
    """Bad command-line input (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class Interrupted(BaseException):
    """The user or the system asked the CLI to stop (SIGINT or SIGTERM)."""

    def __init__(self, code: int = EXIT_INTERRUPTED) -> None:
        super().__init__("interrupted")
        self.code = code


def classify(exc: BaseException) -> int:
    """The exit code ``exc`` stands for. Every exception goes through here."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, Interrupted):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, AccessDeniedError | PermissionError):
        return EXIT_ACCESS_DENIED
    if isinstance(exc, ContainerAlreadyExistsError) and isinstance(
        exc.__cause__, AccessDeniedError
    ):
        return EXIT_ACCESS_DENIED  # S3 says 403 both for others' buckets and for bad keys
    if isinstance(exc, CredentialsError):
        return EXIT_USAGE  # no credentials configured, or a profile that is not there
    if isinstance(exc, ContainerDoesNotExistError | ObjectDoesNotExistError | FileNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(
        exc,
        InvalidArgumentError
        | InvalidContainerNameError
        | InvalidObjectNameError
        | InvalidRangeError
        | NotSupportedError
        | NotADirectoryError
        | IsADirectoryError,
    ):
        return EXIT_USAGE
    if isinstance(exc, OSError) and exc.errno in (errno.ENOTDIR, errno.EISDIR):
        return EXIT_USAGE
    return EXIT_FAILED


def _hint(exc: BaseException) -> str:
    if isinstance(exc, ContainerAlreadyExistsError) and isinstance(
        exc.__cause__, AccessDeniedError
    ):
        return " (or the server refused these credentials)"
    if isinstance(exc, ContainerIsNotEmptyError):
        return "; delete its objects first (rm -r) or use rb --force"
    if isinstance(exc, ContainerAlreadyExistsError):
        return "; pass --exist-ok to accept an existing bucket"
    return ""


def _libstore_message(exc: LibstoreError) -> str:
    """The message, plus the structured fields it does not already mention."""
    text = exc.value or type(exc).__name__
    if isinstance(exc, ContainerDoesNotExistError) and exc.container_name:
        text = f"bucket {exc.container_name!r} does not exist"
    elif isinstance(exc, ObjectDoesNotExistError) and exc.object_name:
        text = f"object {exc.object_name!r} does not exist"
        if exc.container_name:
            text += f" in bucket {exc.container_name!r}"
    extra: list[str] = []
    if exc.container_name and repr(exc.container_name) not in text:
        extra.append(f"bucket {exc.container_name!r}")
    if exc.object_name and repr(exc.object_name) not in text:
        extra.append(f"object {exc.object_name!r}")
    if exc.http_status is not None:
        extra.append(f"HTTP {exc.http_status}")
    if exc.code and exc.code not in text:
        extra.append(exc.code)
    if exc.request_id:
        extra.append(f"request id {exc.request_id}")
    return f"{text} ({', '.join(extra)})" if extra else text


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, without a traceback and without secrets."""
    if isinstance(exc, CliError):
        text = exc.message
    elif isinstance(exc, Interrupted | KeyboardInterrupt):
        text = "stopped before finishing; run the command again to resume"
    elif isinstance(exc, LibstoreError):
        text = _libstore_message(exc) + _hint(exc)
    elif isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{reason}"
    else:
        text = f"internal error ({type(exc).__name__}: {exc}); rerun with --debug for details"
    return " ".join(text.split())


def label(code: int) -> str:
    """The word put before an error message for ``code``."""
    return _LABELS.get(code, "error")
