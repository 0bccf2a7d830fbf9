"""The command line's grammar: commands, options, help texts with examples."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

import libstore
from libstore.cli._errors import UsageError

__all__ = ["COMMANDS", "build_parser"]

DESCRIPTION = """\
Copy, sync, list and delete files in object stores (Amazon S3 and S3-compatible
servers) and in the embedded local store, from the shell.

Locations are URLs or paths:
  s3://BUCKET/KEY        Amazon S3, or any S3-compatible server (--endpoint-url)
  minio://BUCKET/KEY     MinIO, seaweedfs://BUCKET/KEY SeaweedFS (need --endpoint-url)
  local://CONTAINER/KEY  the embedded local store below --local-root (no server)
  PATH, file:///PATH     the local file system
  -                      standard input / standard output

A KEY ending with "/" is a prefix (a "directory")."""

EPILOG = """\
examples:
  libstore mb local://backups --local-root ~/store
  libstore sync ~/documents s3://backups/documents/ --delete
  tar c ~/project | libstore cp - s3://backups/project.tar
  libstore ls -r --long s3://backups/documents/
  libstore cp s3://backups/project.tar - | tar x

exit codes:
  0 success   1 failure (some operations failed)   2 usage error
  3 not found   4 access denied   130 interrupted   141 broken pipe

Settings come from the flags, then the config file (TOML, one table per profile:
--config, LIBSTORE_CONFIG or ~/.config/libstore/config.toml), then the environment
(AWS_ENDPOINT_URL[_S3], AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, LIBSTORE_LOCAL_ROOT), then ~/.aws/credentials and ~/.aws/config.
Run "libstore COMMAND --help" for a command's options and examples."""

#: name -> (summary, description, examples)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ls": (
        "list buckets, or the objects under a prefix",
        "List the buckets (no URL, or s3://), or the objects and sub-prefixes under a\n"
        "prefix. Each object line shows its modification time, size and name; --long\n"
        "adds the ETag and storage class. A local directory can be listed too.",
        "  libstore ls                                  # buckets (s3://)\n"
        "  libstore ls local://                         # containers of the local store\n"
        "  libstore ls s3://backups/2026/               # one level, PRE lines for sub-prefixes\n"
        "  libstore ls -r --long -H --summarize s3://backups/\n"
        "  libstore ls --json -r s3://backups | jq -r .key",
    ),
    "cp": (
        "copy files and objects (file <-> store, store <-> store, stdin/stdout)",
        "Copy one file or object, or with -r a directory tree or prefix. A destination\n"
        "ending with '/' (or an existing directory) receives the source's base name.\n"
        "Copies within one store are server-side; between stores the bytes are\n"
        "streamed. '-' reads standard input or writes standard output with bounded\n"
        "memory and no temporary file. Nothing partial is ever left under a final name.",
        "  libstore cp report.pdf s3://docs/2026/        # -> s3://docs/2026/report.pdf\n"
        "  libstore cp s3://docs/2026/report.pdf .\n"
        "  libstore cp -r ./photos s3://media/photos/ --exclude '*.tmp' --jobs 8\n"
        "  libstore cp s3://media/a.jpg local://archive/a.jpg\n"
        "  tar c dir | libstore cp - s3://backups/dir.tar\n"
        "  libstore cp s3://backups/dir.tar - | tar x",
    ),
    "mv": (
        "move files and objects (copy, then delete the source)",
        "Like cp, then delete each source once its copy succeeded.",
        "  libstore mv s3://inbox/report.pdf s3://archive/2026/\n"
        "  libstore mv -r ./outgoing/ s3://uploads/incoming/",
    ),
    "sync": (
        "make a destination directory or prefix match a source",
        "One-way sync of a directory tree or prefix. A file is transferred when it is\n"
        "missing at the destination, its size differs, or its source is newer (for\n"
        "file destinations: its time differs); --checksum compares content hashes\n"
        "instead of times, --size-only only sizes. --delete removes destination files\n"
        "that are not in the source (only after every transfer succeeded). An\n"
        "interrupted sync resumes when run again: finished files are skipped and\n"
        "unfinished ones were never written under their final names.",
        "  libstore sync ~/documents s3://backups/documents/\n"
        "  libstore sync s3://backups/documents/ ./restore --delete\n"
        "  libstore sync ./site s3://www/ --delete --exclude '*.map' --dry-run\n"
        "  libstore sync ./data local://backups/data/ --checksum --jobs 8",
    ),
    "rm": (
        "delete objects",
        "Delete an object, or with -r every object under a prefix. A recursive delete\n"
        "asks for confirmation when run on a terminal, unless --force is given.",
        "  libstore rm s3://backups/old.tar\n"
        "  libstore rm -r s3://backups/2024/ --force\n"
        "  libstore rm -r s3://logs/ --include '*.gz' --exclude '*' --dry-run",
    ),
    "mb": (
        "make a bucket",
        "Create a bucket (a container). For local:// the local root is created too.",
        "  libstore mb s3://backups\n  libstore mb local://backups --local-root ~/store",
    ),
    "rb": (
        "remove a bucket",
        "Delete an empty bucket; --force deletes its objects first.",
        "  libstore rb s3://scratch\n  libstore rb --force s3://scratch",
    ),
    "cat": (
        "write objects to standard output",
        "Stream one or more objects to standard output, one after the other.",
        "  libstore cat s3://logs/app.log | grep ERROR\n"
        "  libstore cat s3://backups/part1 s3://backups/part2 > whole",
    ),
    "stat": (
        "show an object's (or a bucket's) metadata",
        "Show everything the store knows about an object: size, ETag, modification\n"
        "time, content type, storage class, user metadata, and provider attributes.",
        "  libstore stat s3://backups/project.tar\n"
        "  libstore stat --json s3://backups/project.tar | jq .meta_data",
    ),
    "presign": (
        "print a temporary URL to download an object without credentials",
        "Print a presigned GET URL, valid for --expires seconds (1 to 604800).",
        "  libstore presign s3://docs/report.pdf --expires 600\n"
        '  curl -o report.pdf "$(libstore presign s3://docs/report.pdf)"',
    ),
    "completion": (
        "print a shell completion script (bash or zsh)",
        "Print a completion script for bash or zsh.",
        "  source <(libstore completion bash)           # in ~/.bashrc\n"
        "  source <(libstore completion zsh)            # in ~/.zshrc",
    ),
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _filter_rule(kind: str) -> type[argparse.Action]:
    class _Rule(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: str | Sequence[Any] | None,
            option_string: str | None = None,
        ) -> None:
            rules = list(getattr(namespace, "filters", None) or [])
            rules.append((kind, str(values)))
            namespace.filters = rules

    return _Rule


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before and after the command (``SUPPRESS`` below the top)."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    out = parser.add_argument_group("output options")
    out.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON object per line (per action or entry) on standard output",
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="print nothing but errors",
    )
    out.add_argument(
        "--no-progress",
        action="store_true",
        default=default(False),
        help="no progress bars, even on a terminal",
    )
    out.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="log requests and show tracebacks (secrets are never printed)",
    )
    conn = parser.add_argument_group("connection options")
    conn.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=default(None),
        help="S3 endpoint, e.g. http://127.0.0.1:8333 (default: AWS)",
    )
    conn.add_argument("--region", default=default(None), help="S3 region (default us-east-1)")
    conn.add_argument(
        "--profile",
        default=default(None),
        help="profile of the config file (or LIBSTORE_PROFILE, AWS_PROFILE)",
    )
    conn.add_argument(
        "--config",
        metavar="FILE",
        default=default(None),
        help="config file (default ~/.config/libstore/config.toml)",
    )
    conn.add_argument(
        "--local-root",
        metavar="DIR",
        default=default(None),
        help="base directory of local:// (or LIBSTORE_LOCAL_ROOT)",
    )
    conn.add_argument(
        "--access-key-id",
        metavar="ID",
        default=default(None),
        help="S3 access key id (prefer the environment or a profile)",
    )
    conn.add_argument(
        "--secret-access-key",
        metavar="SECRET",
        default=default(None),
        help="S3 secret key (visible to other users in ps: prefer a profile)",
    )
    conn.add_argument(
        "--no-verify-ssl",
        action="store_true",
        default=default(False),
        help="do not verify TLS certificates",
    )


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include",
        metavar="GLOB",
        action=_filter_rule("include"),
        help="only names matching GLOB (with --exclude: last match wins)",
    )
    parser.add_argument(
        "--exclude",
        metavar="GLOB",
        action=_filter_rule("exclude"),
        help="skip names matching GLOB; a GLOB without '/' matches base names",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be done, change nothing"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=4,
        metavar="N",
        help="operations run at once (default 4)",
    )
    parser.set_defaults(filters=[])


def _upload_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("upload options")
    group.add_argument(
        "--content-type",
        metavar="TYPE",
        help="content type of uploaded objects (default: guessed from the name)",
    )
    group.add_argument(
        "--metadata",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="user metadata of uploaded objects (repeatable)",
    )
    group.add_argument(
        "--storage-class",
        metavar="CLASS",
        help="storage class of uploaded objects (S3), e.g. STANDARD_IA",
    )
    group.add_argument("--cache-control", metavar="VALUE", help="Cache-Control of uploaded objects")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="libstore",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"libstore {libstore.__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands: dict[str, argparse.ArgumentParser] = {}
    for name, (summary, description, examples) in COMMANDS.items():
        commands[name] = sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog="examples:\n" + examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _global_options(commands[name], top=False)

    ls = commands["ls"]
    ls.add_argument("url", nargs="?", default=None, metavar="URL", help="bucket, prefix or path")
    ls.add_argument("-r", "--recursive", action="store_true", help="everything below the prefix")
    ls.add_argument("-l", "--long", action="store_true", help="also show ETag and storage class")
    ls.add_argument("-H", "--human-readable", action="store_true", help="sizes as 1.5 MiB")
    ls.add_argument("--summarize", action="store_true", help="print object count and total size")

    for name in ("cp", "mv"):
        cmd = commands[name]
        cmd.add_argument("source", metavar="SRC", help="file, directory, URL or '-'")
        cmd.add_argument("destination", metavar="DST", help="file, directory, URL or '-'")
        cmd.add_argument(
            "-r",
            "--recursive",
            action="store_true",
            help="copy a directory tree or every object under a prefix",
        )
        _selection(cmd)
        _upload_options(cmd)

    sync = commands["sync"]
    sync.add_argument("source", metavar="SRC", help="directory or prefix URL")
    sync.add_argument("destination", metavar="DST", help="directory or prefix URL")
    sync.add_argument(
        "--delete", action="store_true", help="delete destination files that are not in the source"
    )
    compare = sync.add_mutually_exclusive_group()
    compare.add_argument(
        "--checksum",
        action="store_true",
        help="compare content hashes (MD5/ETag) instead of modification times",
    )
    compare.add_argument("--size-only", action="store_true", help="compare sizes only")
    _selection(sync)
    _upload_options(sync)

    rm = commands["rm"]
    rm.add_argument("url", metavar="URL", help="object, or prefix with -r")
    rm.add_argument("-r", "--recursive", action="store_true", help="every object under the prefix")
    rm.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    _selection(rm)

    mb = commands["mb"]
    mb.add_argument("url", metavar="URL", help="s3://BUCKET or local://CONTAINER")
    mb.add_argument("--exist-ok", action="store_true", help="succeed if the bucket exists")

    rb = commands["rb"]
    rb.add_argument("url", metavar="URL", help="s3://BUCKET or local://CONTAINER")
    rb.add_argument("-f", "--force", action="store_true", help="delete all objects first")

    cat = commands["cat"]
    cat.add_argument("urls", nargs="+", metavar="URL", help="objects to print")

    stat = commands["stat"]
    stat.add_argument("url", metavar="URL", help="object or bucket")

    presign = commands["presign"]
    presign.add_argument("url", metavar="URL", help="object")
    presign.add_argument(
        "--expires",
        type=_positive,
        default=3600,
        metavar="SECONDS",
        help="lifetime of the URL in seconds (default 3600, at most 604800)",
    )

    completion = commands["completion"]
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell")
    return parser
