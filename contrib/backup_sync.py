"""Incremental backup: copy a directory tree into a container, uploading only what changed.

Each object keeps the SHA-256 of its file in its metadata, so a second run compares
sizes and hashes and sends only new or modified files; ``--delete`` also removes
objects whose file is gone. Works with every libstore provider::

    python contrib/backup_sync.py ~/documents docs-backup --store /srv/backups
    python contrib/backup_sync.py ~/documents docs-backup --prefix laptop/ \\
        --provider backblaze_b2 --region eu-central-003 --key KEYID --secret APPKEY

Exit status 0 on success, 2 on a storage error.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from example_driver_args import add_driver_arguments, open_driver

from libstore import (
    Container,
    ContainerDoesNotExistError,
    LibstoreError,
    Object,
    StorageDriver,
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def local_files(root: Path) -> dict[str, Path]:
    """Files under ``root`` keyed by their POSIX path relative to it (symlinks skipped)."""
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def open_container(driver: StorageDriver, name: str) -> Container:
    try:
        return driver.get_container(name)
    except ContainerDoesNotExistError:
        return driver.create_container(name)


def sync(
    driver: StorageDriver,
    source: Path,
    container: Container,
    prefix: str = "",
    *,
    delete: bool = False,
    dry_run: bool = False,
) -> dict[str, int]:
    """Make ``container``/``prefix`` mirror ``source``; return counts per action."""
    stored: dict[str, Object] = {
        obj.name[len(prefix) :]: obj
        for obj in driver.iterate_container_objects(container, prefix=prefix or None)
    }
    counts = {"uploaded": 0, "unchanged": 0, "deleted": 0, "bytes": 0}
    for name, path in local_files(source).items():
        size = path.stat().st_size
        digest = sha256_file(path)
        previous = stored.get(name)
        # A listing has no metadata: fetch the object only when the size matches.
        if (
            previous is not None
            and previous.size == size
            and driver.get_object(container.name, prefix + name).meta_data.get("sha256") == digest
        ):
            counts["unchanged"] += 1
            continue
        print(f"  upload  {name} ({size} bytes)")
        if not dry_run:
            driver.upload_object(str(path), container, prefix + name,
                                 extra={"meta_data": {"sha256": digest}})  # fmt: skip
        counts["uploaded"] += 1
        counts["bytes"] += size
    if delete:
        for name in sorted(set(stored) - set(local_files(source))):
            print(f"  delete  {name}")
            if not dry_run:
                driver.delete_object(stored[name])
            counts["deleted"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="directory to back up")
    parser.add_argument("container", help="container (bucket) to back up into; created if needed")
    parser.add_argument("--prefix", default="", help="object name prefix, e.g. 'laptop/'")
    parser.add_argument("--delete", action="store_true", help="remove objects whose file is gone")
    parser.add_argument("--dry-run", action="store_true", help="only say what would be done")
    add_driver_arguments(parser)
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a directory")

    driver = open_driver(args)
    container = open_container(driver, args.container)
    print(f"syncing {args.source} to {driver.name}:{container.name}/{args.prefix}")
    counts = sync(driver, args.source, container, args.prefix, delete=args.delete,
                  dry_run=args.dry_run)  # fmt: skip
    print(
        f"done: {counts['uploaded']} uploaded ({counts['bytes']} bytes), "
        f"{counts['unchanged']} unchanged, {counts['deleted']} deleted"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LibstoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
