"""Back a directory up with libstore, restore it elsewhere and verify every byte.

Runs against the embedded local driver by default (no account, no server)::

    python contrib/backup_roundtrip.py                 # backs up a generated sample tree
    python contrib/backup_roundtrip.py --source DIR    # backs up DIR

or against any S3 endpoint::

    python contrib/backup_roundtrip.py --provider s3 --host 127.0.0.1 --port 8333 \\
        --insecure --key KEY --secret SECRET

Exit status 0 means every file came back byte for byte; 1 means something differed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from libstore import LibstoreError, Provider, StorageDriver, get_driver


def make_sample_tree(root: Path) -> None:
    """Write a small but awkward tree: nested dirs, odd names, empty and multipart-sized files."""
    files = {
        "README.txt": b"libstore backup sample\n",
        "empty.bin": b"",
        "docs/notes with spaces.md": b"# notes\n" * 100,
        "docs/unicode-\u65e5\u672c\u8a9e.txt": "h\u00e9llo w\u00f6rld\n".encode() * 50,
        "data/random-1MiB.bin": os.urandom(1024 * 1024),
        "data/random-12MiB.bin": os.urandom(12 * 1024 * 1024 + 17),
        "deep/a/b/c/d/e/leaf.txt": b"leaf\n",
        "odd/plus+percent%hash#.txt": b"odd names survive\n",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def walk(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def open_driver(args: argparse.Namespace, scratch: Path) -> StorageDriver:
    if args.provider == Provider.LOCAL:
        store = Path(args.store) if args.store else scratch / "store"
        store.mkdir(parents=True, exist_ok=True)
        return get_driver(Provider.LOCAL)(str(store))
    cls = get_driver(args.provider)
    return cls(  # type: ignore[call-arg]
        args.key,
        args.secret,
        secure=not args.insecure,
        host=args.host,
        port=args.port,
        region=args.region,
        account=args.account,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="directory to back up (default: a generated sample)")
    parser.add_argument("--provider", default=Provider.LOCAL, help="driver name (default: local)")
    parser.add_argument("--store", help="local driver base directory (default: a temp dir)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--region", help="region (default: the provider's)")
    parser.add_argument("--account", help="account part of the endpoint (R2, OCI)")
    parser.add_argument("--insecure", action="store_true", help="plain HTTP")
    parser.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID"))
    parser.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="libstore-backup-") as tmp:
        scratch = Path(tmp)
        source = Path(args.source) if args.source else scratch / "source"
        if not args.source:
            make_sample_tree(source)
        files = walk(source)
        driver = open_driver(args, scratch)
        container = driver.create_container(f"backup-{uuid.uuid4().hex[:12]}")
        print(f"backing up {len(files)} files from {source} to {driver.name}:{container.name}")

        started = time.monotonic()
        total = 0
        for name, path in files.items():
            driver.upload_object(str(path), container, name, extra={"meta_data": {
                "sha256": sha256_file(path)}})  # fmt: skip
            total += path.stat().st_size
        elapsed = time.monotonic() - started
        print(f"  uploaded {total} bytes in {elapsed:.2f} s")

        listed = {obj.name: obj for obj in driver.iterate_container_objects(container)}
        print(f"  listing shows {len(listed)} objects")
        for obj in listed.values():
            print(f"    {obj.size:>10}  {obj.name}")

        restore = scratch / "restore"
        restore.mkdir()
        for obj in listed.values():
            driver.download_object(obj, str(restore) + os.sep)

        problems: list[str] = []
        restored = walk(restore)
        if set(restored) != set(files):
            problems.append(f"file sets differ: {sorted(set(files) ^ set(restored))}")
        for name, path in files.items():
            back = restored.get(name)
            if back is None:
                continue
            if back.read_bytes() != path.read_bytes():
                problems.append(f"{name}: content differs")
            stored_hash = driver.get_object(container.name, name).meta_data.get("sha256")
            if stored_hash != sha256_file(path):
                problems.append(f"{name}: stored metadata does not match")

        for obj in listed.values():
            driver.delete_object(obj)
        driver.delete_container(container)

    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"OK: restored {len(restored)} files, {total} bytes, every byte verified")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LibstoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
