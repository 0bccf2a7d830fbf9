"""Command-line options shared by the example scripts: which provider, which account.

Every example runs against the local driver by default (``--store DIR``, no account),
or against any registered provider::

    --provider wasabi --region eu-central-2 --key KEY --secret SECRET
    --provider cloudflare_r2 --account 0123456789abcdef0123456789abcdef --key ... --secret ...
    --provider minio --host 127.0.0.1 --port 9000 --insecure --key ... --secret ...

Keys default to ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from libstore import Provider, StorageDriver, get_driver


def add_driver_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("storage")
    group.add_argument(
        "--provider", default=Provider.LOCAL, help="provider name: local (default), s3, wasabi…"
    )
    group.add_argument("--store", help="base directory of the local driver")
    group.add_argument("--region", help="region (default: the provider's)")
    group.add_argument("--account", help="account part of the endpoint (R2, OCI)")
    group.add_argument("--host", help="endpoint host, for self-hosted or proxied stores")
    group.add_argument("--port", type=int)
    group.add_argument("--insecure", action="store_true", help="plain HTTP")
    group.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID"))
    group.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY"))


def open_driver(args: argparse.Namespace) -> StorageDriver:
    """The driver the options name."""
    cls: Any = get_driver(args.provider)
    if args.provider == Provider.LOCAL:
        if not args.store:
            raise SystemExit("--store DIR is needed with the local driver")
        os.makedirs(args.store, exist_ok=True)
        return cls(args.store)  # type: ignore[no-any-return]
    options: dict[str, Any] = {"secure": not args.insecure}
    for name in ("region", "account", "host", "port"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return cls(args.key, args.secret, **options)  # type: ignore[no-any-return]
