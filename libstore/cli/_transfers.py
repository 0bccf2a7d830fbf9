"""``cp``, ``mv`` and ``sync``: planning transfers between files, stores and pipes.

Every check that can fail for the whole command (a missing source or bucket, a
destination of the wrong kind) happens while planning, before anything is written.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

from libstore import Container, Object, StorageDriver
from libstore.cli._context import Context
from libstore.cli._engine import ProgressFn, Runner, Task
from libstore.cli._entries import (
    Entry,
    Filters,
    atomic_file,
    check_directory,
    dir_prefix,
    list_dir,
    list_prefix,
    local_target,
    object_mtime,
    prepare_parent,
    stale_partials,
)
from libstore.cli._errors import EXIT_OK, UsageError
from libstore.cli._urls import FileLoc, Location, StdioLoc, StoreLoc

__all__ = ["cmd_cp", "cmd_mv", "cmd_sync"]

CHUNK = 1024 * 1024
MiB = 1024 * 1024
#: User metadata holding an uploaded file's modification time (seconds, as rclone writes it).
MTIME_KEY = "mtime"
#: An operation: it transfers, reporting progress to its argument.
Run = Callable[[ProgressFn], None]
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG = re.compile(r"^([0-9a-f]{32})-(\d+)$")


# -- the operations ---------------------------------------------------------------------------


def recorded_mtime(obj: Object) -> float | None:
    """The source file's modification time recorded at upload, if any."""
    value = obj.meta_data.get(MTIME_KEY)
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _container(loc: StoreLoc) -> Container:
    return Container(loc.need_container(), {}, loc.driver())


def read_chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while True:
        data = read(CHUNK)
        if not data:
            return
        yield data


def _set_mtime(path: str, mtime: float | None) -> None:
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _upload_extra(ctx: Context) -> dict[str, Any] | None:
    args = ctx.args
    extra: dict[str, Any] = {}
    if getattr(args, "content_type", None):
        extra["content_type"] = args.content_type
    if getattr(args, "storage_class", None):
        extra["storage_class"] = args.storage_class
    if getattr(args, "cache_control", None):
        extra["cache_control"] = args.cache_control
    meta: dict[str, str] = {}
    for item in getattr(args, "metadata", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--metadata expects KEY=VALUE, not {item!r}")
        meta[name] = value
    if meta:
        extra["meta_data"] = meta
    return extra or None


def _with_mtime(extra: dict[str, Any] | None, mtime: float) -> dict[str, Any]:
    """``extra`` plus the source file's modification time in the ``mtime`` metadata."""
    result = dict(extra or {})
    meta = {MTIME_KEY: f"{mtime:.6f}"}
    meta.update(result.get("meta_data") or {})
    result["meta_data"] = meta
    return result


def upload_file(path: str, dst: StoreLoc, key: str, extra: dict[str, Any] | None) -> Run:
    def run(progress: ProgressFn) -> None:
        with_time = _with_mtime(extra, os.stat(path).st_mtime)
        driver = dst.driver()
        driver.upload_object(path, _container(dst), key, extra=with_time, progress=progress)

    return run


def upload_stdin(dst: StoreLoc, key: str, extra: dict[str, Any] | None) -> Run:
    def run(progress: ProgressFn) -> None:
        chunks = read_chunks(sys.stdin.buffer.read)
        dst.driver().upload_object_via_stream(
            chunks, _container(dst), key, extra=extra, progress=progress
        )

    return run


def download_file(obj: Object, path: str, shown: str) -> Run:
    def run(progress: ProgressFn) -> None:
        prepare_parent(path, shown)
        source = obj
        if MTIME_KEY not in obj.meta_data:  # listings may lack metadata: ask for it
            source = obj.driver.get_object(obj.container.name, obj.name)
        source.driver.download_object(source, path, overwrite_existing=True, progress=progress)
        _set_mtime(path, recorded_mtime(source) or object_mtime(source))

    return run


def download_stdout(obj: Object) -> Run:
    def run(progress: ProgressFn) -> None:
        out = sys.stdout.buffer
        for chunk in obj.driver.download_object_as_stream(obj, CHUNK, progress=progress):
            out.write(chunk)
        out.flush()

    return run


def copy_object(obj: Object, dst: StoreLoc, key: str, extra: dict[str, Any] | None) -> Run:
    def run(progress: ProgressFn) -> None:
        target: StorageDriver = dst.driver()
        container = _container(dst)
        if obj.driver is target:
            target.copy_object(obj, container, key, extra, progress=progress)
            return
        source = obj
        if not obj.meta_data and not obj.extra.get("content_type"):
            source = obj.driver.get_object(obj.container.name, obj.name)  # listings lack both
        if extra is None:
            extra_used: dict[str, Any] = {"meta_data": dict(source.meta_data)}
            if source.extra.get("content_type"):
                extra_used["content_type"] = source.extra["content_type"]
        else:
            extra_used = extra
        target.upload_object_via_stream(
            obj.driver.download_object_as_stream(source, CHUNK),
            container,
            key,
            extra=extra_used,
            size_hint=source.size,
            progress=progress,
        )

    return run


def copy_local(src: str | None, dst: str | None, shown: str) -> Run:
    """File or stdin (``None``) to a file or stdout (``None``)."""

    def run(progress: ProgressFn) -> None:
        done = 0
        source = open(src, "rb") if src is not None else sys.stdin.buffer  # noqa: SIM115
        try:
            total = os.fstat(source.fileno()).st_size if src is not None else None
            if dst is None:
                for chunk in read_chunks(source.read):
                    sys.stdout.buffer.write(chunk)
                    done += len(chunk)
                    progress(done, total)
                sys.stdout.buffer.flush()
                return
            prepare_parent(dst, shown)
            with atomic_file(dst) as fd:
                for chunk in read_chunks(source.read):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                    done += len(chunk)
                    progress(done, total)
            if src is not None:
                st = os.stat(src)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            if src is not None:
                source.close()

    return run


def delete_file(path: str) -> Callable[[], None]:
    def run() -> None:
        os.unlink(path)

    return run


def delete_object(obj: Object) -> Callable[[], None]:
    def run() -> None:
        obj.driver.delete_object(obj)

    return run


# -- single transfers -------------------------------------------------------------------------


def _stat_source(loc: FileLoc) -> os.stat_result:
    try:
        return os.stat(loc.path)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", loc.text) from None


def _file_destination(dst: FileLoc, name: str) -> tuple[str, str]:
    """The file path a single copy writes (and how to show it)."""
    if os.path.isdir(dst.path):
        return os.path.join(dst.path, name), os.path.join(dst.text, name)
    if dst.dir_hint:
        if os.path.exists(dst.path.rstrip("/")):
            raise UsageError(f"destination {dst.text!r} is a file, but a directory is needed")
        return os.path.join(dst.path, name), dst.text + name
    parent = os.path.dirname(dst.path)
    if parent and os.path.exists(parent) and not os.path.isdir(parent):
        raise UsageError(f"cannot write {dst.text!r}: {parent!r} is a file, not a directory")
    return dst.path, dst.text


def _store_key(dst: StoreLoc, name: str | None) -> str:
    dst.need_container()
    if dst.key and not dst.key.endswith("/"):
        return dst.key
    if name is None:
        raise UsageError(
            f"{dst.text!r} names no object; give the full name, e.g. {dst.url(dst.key + 'name')}"
        )
    return dst.key + name


def _check_bucket(loc: StoreLoc) -> None:
    loc.driver().get_container(loc.need_container())


def plan_single(ctx: Context, src: Location, dst: Location, move: bool) -> Task:
    verb = "move" if move else None
    extra = _upload_extra(ctx)
    if isinstance(src, StdioLoc):
        if move:
            raise UsageError("mv cannot read standard input; use cp")
        if isinstance(dst, StdioLoc):
            raise UsageError("the source and the destination cannot both be '-'")
        if isinstance(dst, StoreLoc):
            key = _store_key(dst, None)
            _check_bucket(dst)
            return Task(verb or "upload", "-", dst.url(key), None, upload_stdin(dst, key, extra))
        if os.path.isdir(dst.path) or dst.dir_hint:
            raise UsageError(f"{dst.text!r} is a directory; name the file to write")
        path, shown = _file_destination(dst, "")
        return Task(verb or "copy", "-", shown, None, copy_local(None, path, shown))

    if isinstance(src, FileLoc):
        st = _stat_source(src)
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{src.text!r} is a directory; use -r (or sync) to copy a tree")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{src.text!r} is not a regular file")
        name = os.path.basename(src.path)
        then = delete_file(src.path) if move else None
        if isinstance(dst, StoreLoc):
            key = _store_key(dst, name)
            _check_bucket(dst)
            run = upload_file(src.path, dst, key, extra)
            return Task(verb or "upload", src.text, dst.url(key), st.st_size, run, then)
        if isinstance(dst, StdioLoc):
            if move:
                raise UsageError("mv cannot write to standard output; use cp")
            ctx.out.stdout_is_data = True
            return Task("copy", src.text, "-", st.st_size, copy_local(src.path, None, "-"))
        path, shown = _file_destination(dst, name)
        if os.path.exists(path) and os.path.samefile(path, src.path):
            raise UsageError(f"{src.text!r} and {shown!r} are the same file")
        return Task(
            verb or "copy", src.text, shown, st.st_size, copy_local(src.path, path, shown), then
        )

    container = src.need_container()
    if not src.key or src.key.endswith("/"):
        raise UsageError(f"{src.text!r} names a prefix, not an object; use -r (or sync)")
    obj = src.driver().get_object(container, src.key)
    name = src.key.rsplit("/", 1)[-1]
    then = delete_object(obj) if move else None
    if isinstance(dst, StdioLoc):
        if move:
            raise UsageError("mv cannot write to standard output; use cp")
        ctx.out.stdout_is_data = True
        return Task("download", src.url(), "-", obj.size, download_stdout(obj))
    if isinstance(dst, FileLoc):
        path, shown = _file_destination(dst, name)
        return Task(
            verb or "download", src.url(), shown, obj.size, download_file(obj, path, shown), then
        )
    key = _store_key(dst, name)
    if dst.driver() is obj.driver and dst.container == container and key == src.key:
        raise UsageError(f"{src.text!r} and {dst.url(key)!r} are the same object")
    _check_bucket(dst)
    return Task(
        verb or "copy", src.url(), dst.url(key), obj.size, copy_object(obj, dst, key, extra), then
    )


# -- trees ------------------------------------------------------------------------------------


def _source_entries(src: Location, filters: Filters) -> tuple[list[Entry], str]:
    """The entries of a source directory or prefix, and the source's prefix."""
    if isinstance(src, StdioLoc):
        raise UsageError("'-' cannot be the source of a recursive copy or a sync")
    if isinstance(src, FileLoc):
        st = _stat_source(src)
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{src.text!r} is not a directory")
        return list(list_dir(src.path, filters)), ""
    prefix = dir_prefix(src.key)
    src.need_container()
    return list(list_prefix(src, prefix, filters)), prefix


class _Target:
    """Where entries of a tree go: a directory or a prefix."""

    def __init__(self, ctx: Context, dst: Location, *, create: bool) -> None:
        if isinstance(dst, StdioLoc):
            raise UsageError("'-' cannot be the destination of a recursive copy or a sync")
        self.loc = dst
        self.root = ""
        self.prefix = ""
        if isinstance(dst, FileLoc):
            self.root = check_directory(dst, create=create)
        else:
            self.prefix = dir_prefix(dst.key)
            _check_bucket(dst)

    def shown(self, rel: str) -> str:
        if isinstance(self.loc, StoreLoc):
            return self.loc.url(self.prefix + rel)
        text = self.loc.text
        return text + rel if text.endswith(("/", os.sep)) else f"{text}/{rel}"

    def entries(self, filters: Filters) -> dict[str, Entry]:
        if isinstance(self.loc, StoreLoc):
            return {e.rel: e for e in list_prefix(self.loc, self.prefix, filters)}
        if not os.path.isdir(self.root):
            return {}
        return {e.rel: e for e in list_dir(self.root, filters)}

    def task(self, ctx: Context, entry: Entry, src: Location, verb: str | None) -> Task:
        extra = _upload_extra(ctx)
        shown = self.shown(entry.rel)
        src_shown = _shown_source(src, entry)
        if isinstance(self.loc, StoreLoc):
            key = self.prefix + entry.rel
            if entry.path is not None:
                return Task(
                    verb or "upload",
                    src_shown,
                    shown,
                    entry.size,
                    upload_file(entry.path, self.loc, key, extra),
                )
            assert entry.obj is not None
            return Task(
                verb or "copy",
                src_shown,
                shown,
                entry.size,
                copy_object(entry.obj, self.loc, key, extra),
            )
        path = local_target(self.root, entry.rel)
        if entry.path is not None:
            return Task(
                verb or "copy", src_shown, shown, entry.size, copy_local(entry.path, path, shown)
            )
        assert entry.obj is not None
        return Task(
            verb or "download", src_shown, shown, entry.size, download_file(entry.obj, path, shown)
        )

    def delete(self, entry: Entry) -> Task:
        shown = self.shown(entry.rel)
        if entry.obj is not None:
            run = delete_object(entry.obj)
        else:
            assert entry.path is not None
            run = delete_file(entry.path)
        return Task("delete", shown, None, entry.size, lambda _progress: run())


def _shown_source(src: Location, entry: Entry) -> str:
    if isinstance(src, StoreLoc) and entry.obj is not None:
        return src.url(entry.obj.name)
    text = src.display()
    return text + entry.rel if text.endswith(("/", os.sep)) else f"{text}/{entry.rel}"


def _then_delete(entry: Entry) -> Callable[[], None]:
    if entry.obj is not None:
        return delete_object(entry.obj)
    assert entry.path is not None
    return delete_file(entry.path)


def _finish(ctx: Context, runner: Runner, tasks: list[Task], command: str) -> int:
    if ctx.args.dry_run:
        runner.plan(tasks)
        return EXIT_OK
    outcome = runner.run(tasks)
    summary = {
        "action": "summary",
        "command": command,
        "done": outcome.done,
        "failed": outcome.failed,
        "bytes": outcome.bytes,
    }
    if ctx.out.json:
        ctx.out.record(summary)
    if outcome.failed:
        ctx.out.error_line(f"{outcome.failed} of {len(tasks)} operations failed")
    return outcome.exit_code


def _copy_tree(ctx: Context, src: Location, dst: Location, move: bool) -> int:
    filters = Filters(ctx.args.filters)
    if isinstance(src, FileLoc) and os.path.isfile(src.path):
        return _copy_one(ctx, src, dst, move)
    entries, _ = _source_entries(src, filters)
    target = _Target(ctx, dst, create=not ctx.args.dry_run)
    verb = "move" if move else None
    tasks = []
    for entry in entries:
        task = target.task(ctx, entry, src, verb)
        if move:
            task.then = _then_delete(entry)
        tasks.append(task)
    return _finish(ctx, Runner(ctx.out, ctx.args.jobs), tasks, "mv" if move else "cp")


def _copy_one(ctx: Context, src: Location, dst: Location, move: bool) -> int:
    task = plan_single(ctx, src, dst, move)
    if ctx.args.dry_run:
        Runner(ctx.out).plan([task])
        return EXIT_OK
    outcome = Runner(ctx.out, 1).run([task])
    return outcome.codes[0] if outcome.codes else EXIT_OK


def _copy(ctx: Context, move: bool) -> int:
    src = ctx.resolver.parse(ctx.args.source)
    dst = ctx.resolver.parse(ctx.args.destination)
    if ctx.args.recursive:
        return _copy_tree(ctx, src, dst, move)
    if ctx.args.filters:
        raise UsageError("--include/--exclude apply to -r copies only")
    return _copy_one(ctx, src, dst, move)


def cmd_cp(ctx: Context) -> int:
    return _copy(ctx, move=False)


def cmd_mv(ctx: Context) -> int:
    return _copy(ctx, move=True)


# -- sync -------------------------------------------------------------------------------------


def _file_md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _multipart_etags(path: str, size: int, parts: int, driver: StorageDriver) -> set[str]:
    """The multipart ETags the file would have for the plausible part sizes."""
    candidates = {getattr(driver, "part_size", 5 * MiB)} | {
        n * MiB for n in (5, 8, 16, 32, 64, 100, 128, 256, 512, 1024)
    }
    candidates.add(math.ceil(size / parts / MiB) * MiB)
    fitting = sorted(
        p for p in candidates if isinstance(p, int) and p > 0 and -(-size // p) == parts
    )
    if not fitting:
        return set()
    digests: dict[int, list[bytes]] = {p: [] for p in fitting}
    current = {p: hashlib.md5(usedforsecurity=False) for p in fitting}
    filled = dict.fromkeys(fitting, 0)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            for p in fitting:
                view = memoryview(block)
                while view:
                    room = p - filled[p]
                    piece, view = view[:room], view[room:]
                    current[p].update(piece)
                    filled[p] += len(piece)
                    if filled[p] == p:
                        digests[p].append(current[p].digest())
                        current[p] = hashlib.md5(usedforsecurity=False)
                        filled[p] = 0
    etags = set()
    for p in fitting:
        parts_md5 = digests[p] + ([current[p].digest()] if filled[p] else [])
        whole = hashlib.md5(b"".join(parts_md5), usedforsecurity=False).hexdigest()
        etags.add(f"{whole}-{len(parts_md5)}")
    return etags


def _same_content(source: Entry, dest: Entry) -> bool | None:
    """Whether the two have the same content by hash; ``None`` when hashes cannot tell."""
    hashes = [
        e.obj.hash.lower() if e.obj is not None and e.obj.hash else None for e in (source, dest)
    ]
    files = [e.path for e in (source, dest)]
    if files[0] is not None and files[1] is not None:
        return _file_md5(files[0]) == _file_md5(files[1])
    if source.obj is not None and dest.obj is not None:
        if hashes[0] and hashes[1] and (bool(_MD5.match(hashes[0])) == bool(_MD5.match(hashes[1]))):
            return hashes[0] == hashes[1]
        return None
    path = files[0] or files[1]
    etag = hashes[1] if files[0] is not None else hashes[0]
    obj = dest.obj if files[0] is not None else source.obj
    if path is None or not etag or obj is None:
        return None
    if _MD5.match(etag):
        return _file_md5(path) == etag
    multipart = _MULTIPART_ETAG.match(etag)
    if multipart:
        return etag in _multipart_etags(path, source.size, int(multipart.group(2)), obj.driver)
    return None


def _fetch_recorded(entry: Entry) -> float | None:
    """The recorded time of an object entry, asking the store when the listing lacked it."""
    if entry.obj is None:
        return None
    recorded = recorded_mtime(entry.obj)
    if recorded is None and not entry.fetched:
        entry.obj = entry.obj.driver.get_object(entry.obj.container.name, entry.obj.name)
        entry.fetched = True
        recorded = recorded_mtime(entry.obj)
    return recorded


def _same_time(a: float, b: float) -> bool:
    return math.floor(a) == math.floor(b)


def _reason(source: Entry, dest: Entry | None, mode: str) -> str | None:
    """Why ``source`` must be transferred, or ``None`` when the destination is current.

    Times compare to the second. A file's time is its modification time; an object's
    is the source file's time recorded in its ``mtime`` metadata at upload, or else
    the store's last-modified time. Downloads give files their object's time.
    """
    if dest is None:
        return "new"
    if source.size != dest.size:
        return "size"
    if mode == "size":
        return None
    if mode == "checksum":
        same = _same_content(source, dest)
        if same is not None:
            return None if same else "checksum"
    src_time = _entry_time(source)
    dst_time = _entry_time(dest)
    if src_time is None or dst_time is None:
        return "time"
    if _same_time(src_time, dst_time):
        return None
    if dest.obj is not None and recorded_mtime(dest.obj) is None:
        if math.floor(src_time) <= math.floor(dst_time):
            return None  # not newer than the copy the store made (the AWS CLI's rule)
        recorded = _fetch_recorded(dest)
        if recorded is None:
            return "time"  # a newer source, and no recorded time to say otherwise
        dst_time = recorded
    if source.obj is not None and recorded_mtime(source.obj) is None:
        src_time = _fetch_recorded(source) or src_time
    return None if _same_time(src_time, dst_time) else "time"


def _entry_time(entry: Entry) -> float | None:
    if entry.obj is not None:
        return recorded_mtime(entry.obj) or entry.mtime
    return entry.mtime


def cmd_sync(ctx: Context) -> int:
    args = ctx.args
    src = ctx.resolver.parse(args.source)
    dst = ctx.resolver.parse(args.destination)
    if isinstance(src, FileLoc) and os.path.isfile(src.path):
        raise UsageError(f"{src.text!r} is a file; sync copies directories and prefixes (use cp)")
    filters = Filters(args.filters)
    entries, _ = _source_entries(src, filters)
    target = _Target(ctx, dst, create=not args.dry_run)
    existing = target.entries(filters)
    mode = "checksum" if args.checksum else "size" if args.size_only else "time"
    transfers: list[Task] = []
    for entry in entries:
        reason = _reason(entry, existing.pop(entry.rel, None), mode)
        if reason is not None:
            task = target.task(ctx, entry, src, None)
            task.extra["reason"] = reason
            transfers.append(task)
    deletes = [target.delete(e) for e in existing.values()] if args.delete else []
    if args.delete and isinstance(dst, FileLoc) and os.path.isdir(target.root):
        deletes += [target.delete(e) for e in stale_partials(target.root)]
    runner = Runner(ctx.out, args.jobs)
    if args.dry_run:
        runner.plan(transfers + deletes)
        return EXIT_OK
    outcome = runner.run(transfers)
    if deletes and outcome.failed:
        ctx.out.note(f"not deleting {len(deletes)} extra file(s) because some transfers failed")
        deletes = []
    removed = runner.run(deletes)
    failed = outcome.failed + removed.failed
    if ctx.out.json:
        ctx.out.record(
            {
                "action": "summary",
                "command": "sync",
                "done": outcome.done + removed.done,
                "transferred": outcome.done,
                "deleted": removed.done,
                "unchanged": len(entries) - len(transfers),
                "failed": failed,
                "bytes": outcome.bytes,
            }
        )
    if failed:
        ctx.out.error_line(f"{failed} of {len(transfers) + len(deletes)} operations failed")
        return outcome.exit_code or removed.exit_code
    return EXIT_OK
