"""The ``libstore`` command line: backups and restores from the shell.

Run ``libstore --help`` (or ``python -m libstore --help``). :func:`main` is the
console script's entry point; it returns the exit code (see ``libstore --help``
or :mod:`libstore.cli._errors` for the table).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TextIO

from libstore.cli._commands import (
    cmd_cat,
    cmd_ls,
    cmd_mb,
    cmd_presign,
    cmd_rb,
    cmd_rm,
    cmd_stat,
)
from libstore.cli._completion import completion_script
from libstore.cli._context import Context
from libstore.cli._errors import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Interrupted,
    UsageError,
    classify,
    describe,
    label,
)
from libstore.cli._output import Output
from libstore.cli._parser import build_parser
from libstore.cli._transfers import cmd_cp, cmd_mv, cmd_sync
from libstore.cli._urls import Resolver, Settings

__all__ = ["main"]

_COMMANDS: dict[str, Callable[[Context], int]] = {
    "ls": cmd_ls,
    "cp": cmd_cp,
    "mv": cmd_mv,
    "sync": cmd_sync,
    "rm": cmd_rm,
    "mb": cmd_mb,
    "rb": cmd_rb,
    "cat": cmd_cat,
    "stat": cmd_stat,
    "presign": cmd_presign,
}

_SIGNED = re.compile(
    r"((?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature)=)[^&\s,\"']+"
    r"|(Authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+",
    re.IGNORECASE,
)


class _Redactor:
    """Removes secrets from debug output: known secret values and request signatures."""

    def __init__(self, secrets: Callable[[], set[str]]) -> None:
        self._secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets(), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "****")
        return _SIGNED.sub(lambda m: (m.group(1) or m.group(2)) + "****", text)


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__("libstore: debug: %(name)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings (an expiry shortened by temporary credentials…) as one line each."""
    text = " ".join(str(message).split())
    (file or sys.stderr).write(f"libstore: warning: {text}\n")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(EXIT_TERMINATED)


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _tolerate_undecodable_names() -> None:
    """Print file names that are not valid UTF-8 escaped instead of failing on them.

    Python decodes such names with surrogate escapes; a strict stream encoding (as
    ``PYTHONIOENCODING=utf-8`` sets) would then raise while reporting them.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    _tolerate_undecodable_names()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"libstore: {label(EXIT_USAGE)}: {describe(exc)}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        sys.stderr.write("libstore: usage error: no command given (see 'libstore --help')\n")
        return EXIT_USAGE
    if args.command == "completion":
        sys.stdout.write(completion_script(parser, args.shell))
        return EXIT_OK

    out = Output(
        json_mode=args.json,
        quiet=args.quiet,
        progress="never" if args.no_progress else "auto",
    )
    settings = Settings(
        endpoint_url=args.endpoint_url,
        region=args.region,
        profile=args.profile,
        config_file=args.config,
        local_root=args.local_root,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        no_verify_ssl=args.no_verify_ssl,
    )
    resolver = Resolver(settings)
    redact = _Redactor(
        lambda: (
            resolver.secrets
            | {
                v
                for v in (
                    settings.secret_access_key,
                    os.environ.get("AWS_SECRET_ACCESS_KEY"),
                    os.environ.get("AWS_SESSION_TOKEN"),
                )
                if v
            }
        )
    )
    handler: logging.Handler | None = None
    if args.debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_RedactingFormatter(redact))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.DEBUG)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    if not args.debug:
        warnings.showwarning = _show_warning
    ctx = Context(args, out, resolver)
    try:
        with out.display:
            return _COMMANDS[args.command](ctx)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (Exception, KeyboardInterrupt, Interrupted) as exc:
        code = classify(exc)
        if args.debug:
            text = "".join(traceback.format_exception(exc))
            sys.stderr.write(redact(text))
        out.error(exc, code)
        out.error_record({"action": args.command}, exc, code)
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
        resolver.close()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
