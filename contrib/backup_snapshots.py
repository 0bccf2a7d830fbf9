"""Dated snapshots with a manifest, retention and verified restores.

``backup`` uploads a directory as ``<prefix><UTC timestamp>/…`` and finishes with a
``MANIFEST.json`` object listing every file and its SHA-256: a snapshot without a
manifest is incomplete and is never restored. ``--keep N`` then deletes all but the
N newest complete snapshots. ``restore`` downloads a snapshot (the newest by
default) and checks every file against the manifest::

    python contrib/backup_snapshots.py backup ~/db-dumps dumps --keep 7 --store /srv/backups
    python contrib/backup_snapshots.py list dumps --store /srv/backups
    python contrib/backup_snapshots.py restore dumps /tmp/restored --store /srv/backups

Any provider works (``--provider s3 --region eu-west-1 …``). Exit status 0 on success,
1 when a restored file does not match the manifest, 2 on a storage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from example_driver_args import add_driver_arguments, open_driver

from libstore import (
    Container,
    ContainerDoesNotExistError,
    LibstoreError,
    ObjectDoesNotExistError,
    StorageDriver,
)

MANIFEST = "MANIFEST.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshots(driver: StorageDriver, container: Container, prefix: str) -> list[str]:
    """Complete snapshots (those with a manifest), oldest first."""
    names = {
        obj.name[len(prefix) : -len(MANIFEST) - 1]
        for obj in driver.iterate_container_objects(container, prefix=prefix or None)
        if obj.name.endswith("/" + MANIFEST)
    }
    return sorted(names)


def backup(driver: StorageDriver, source: Path, container: Container, prefix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    base = f"{prefix}{stamp}/"
    manifest: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink()):
        name = path.relative_to(source).as_posix()
        digest = sha256_file(path)
        driver.upload_object(str(path), container, base + name,
                             extra={"meta_data": {"sha256": digest}})  # fmt: skip
        manifest[name] = {"size": path.stat().st_size, "sha256": digest}
    body = json.dumps({"created": stamp, "files": manifest}, indent=2, sort_keys=True)
    # The manifest goes last: it marks the snapshot complete.
    driver.upload_object_via_stream(iter([body.encode()]), container, base + MANIFEST,
                                    extra={"content_type": "application/json"})  # fmt: skip
    return stamp


def prune(driver: StorageDriver, container: Container, prefix: str, keep: int) -> list[str]:
    doomed = snapshots(driver, container, prefix)[:-keep] if keep > 0 else []
    for stamp in doomed:
        base = f"{prefix}{stamp}/"
        objects = list(driver.iterate_container_objects(container, prefix=base))
        # Manifest first: a half-deleted snapshot must not look complete.
        objects.sort(key=lambda o: o.name != base + MANIFEST)
        for obj in objects:
            driver.delete_object(obj)
    return doomed


def restore(
    driver: StorageDriver, container: Container, prefix: str, stamp: str, destination: Path
) -> list[str]:
    """Download snapshot ``stamp`` into ``destination``; return the problems found."""
    base = f"{prefix}{stamp}/"
    manifest_obj = driver.get_object(container.name, base + MANIFEST)
    manifest = json.loads(b"".join(driver.download_object_as_stream(manifest_obj)))
    destination.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, expected in sorted(manifest["files"].items()):
        try:
            obj = driver.get_object(container.name, base + name)
        except ObjectDoesNotExistError:
            problems.append(f"{name}: missing from the snapshot")
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        driver.download_object(obj, str(target), overwrite_existing=True)
        if sha256_file(target) != expected["sha256"]:
            problems.append(f"{name}: content does not match the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("backup", help="upload a new snapshot")
    make.add_argument("source", type=Path)
    make.add_argument("container")
    make.add_argument("--keep", type=int, default=0, help="keep only the N newest snapshots")
    show = commands.add_parser("list", help="list the complete snapshots")
    show.add_argument("container")
    get = commands.add_parser("restore", help="download and verify a snapshot")
    get.add_argument("container")
    get.add_argument("destination", type=Path)
    get.add_argument("--snapshot", default="latest")
    for sub in (make, show, get):
        sub.add_argument("--prefix", default="", help="object name prefix, e.g. 'db1/'")
        add_driver_arguments(sub)
    args = parser.parse_args(argv)

    driver = open_driver(args)
    if args.command == "backup":
        try:
            container = driver.get_container(args.container)
        except ContainerDoesNotExistError:
            container = driver.create_container(args.container)
        stamp = backup(driver, args.source, container, args.prefix)
        print(f"snapshot {stamp} stored in {driver.name}:{container.name}/{args.prefix}")
        for old in prune(driver, container, args.prefix, args.keep):
            print(f"pruned {old}")
        return 0
    container = driver.get_container(args.container)
    known = snapshots(driver, container, args.prefix)
    if args.command == "list":
        for stamp in known:
            print(stamp)
        return 0
    if not known:
        print("no complete snapshot", file=sys.stderr)
        return 1
    stamp = known[-1] if args.snapshot == "latest" else args.snapshot
    problems = restore(driver, container, args.prefix, stamp, args.destination)
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"restored snapshot {stamp} to {args.destination}, every file verified")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LibstoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
