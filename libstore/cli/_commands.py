"""``ls``, ``rm``, ``mb``, ``rb``, ``cat``, ``stat`` and ``presign``."""

from __future__ import annotations

import inspect
import os
import stat as stat_module
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from libstore import Container, ContainerAlreadyExistsError, Object
from libstore.cli._context import Context
from libstore.cli._engine import Runner, Task
from libstore.cli._entries import Filters, dir_prefix, list_dir
from libstore.cli._errors import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, CliError, UsageError
from libstore.cli._progress import human_size
from libstore.cli._transfers import CHUNK, read_chunks
from libstore.cli._urls import LOCAL_SCHEME, FileLoc, StdioLoc, StoreLoc

__all__ = [
    "cmd_cat",
    "cmd_ls",
    "cmd_mb",
    "cmd_presign",
    "cmd_rb",
    "cmd_rm",
    "cmd_stat",
]

#: Longest lifetime of a presigned URL (SigV4's limit: seven days).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def _store(ctx: Context, text: str, command: str) -> StoreLoc:
    loc = ctx.resolver.parse(text)
    if not isinstance(loc, StoreLoc):
        raise UsageError(
            f"{command} works on store URLs (s3://BUCKET/KEY, local://CONTAINER/KEY), not {text!r}"
        )
    return loc


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return " " * 19


def _size(ctx: Context, size: int) -> str:
    return human_size(size) if ctx.args.human_readable else str(size)


# -- ls ---------------------------------------------------------------------------------------


def cmd_ls(ctx: Context) -> int:
    loc = ctx.resolver.parse(ctx.args.url or "s3://")
    if isinstance(loc, StdioLoc):
        raise UsageError("ls cannot list '-'")
    if isinstance(loc, FileLoc):
        return _ls_dir(ctx, loc)
    if not loc.container:
        return _ls_containers(ctx, loc)
    return _ls_objects(ctx, loc)


def _ls_containers(ctx: Context, loc: StoreLoc) -> int:
    for container in loc.driver().iterate_containers():
        created = container.extra.get("creation_date") or container.extra.get("creation_time")
        url = f"{loc.scheme}://{container.name}"
        if ctx.out.json:
            ctx.out.record(
                {"type": "bucket", "name": container.name, "url": url, "created": created}
            )
        else:
            ctx.out.data_line(f"{_when(created)} {container.name}")
    return EXIT_OK


def _object_line(
    ctx: Context, size: int, when: Any, etag: str | None, sclass: str | None, name: str
) -> str:
    parts = [_when(when), f"{_size(ctx, size):>10}"]
    if ctx.args.long:
        parts += [f"{etag or '-':<34}", f"{sclass or '-':<12}"]
    return " ".join([*parts, name])


def _ls_objects(ctx: Context, loc: StoreLoc) -> int:
    driver = loc.driver()
    prefix = loc.key
    base = prefix[: prefix.rfind("/") + 1]
    container = Container(loc.container, {}, driver)
    seen: set[str] = set()
    count = total = shown = 0
    for obj in driver.iterate_container_objects(container, prefix=prefix or None):
        rest = obj.name[len(prefix) :]
        slash = rest.find("/")
        if not ctx.args.recursive and slash >= 0:
            sub = obj.name[: len(prefix) + slash + 1]
            shown += 1
            if sub in seen:
                continue
            seen.add(sub)
            if ctx.out.json:
                ctx.out.record({"type": "prefix", "prefix": sub, "url": loc.url(sub)})
            else:
                ctx.out.data_line(
                    f"{'PRE':>{30 + (48 if ctx.args.long else 0)}} {sub[len(base) :]}"
                )
            continue
        count += 1
        shown += 1
        total += obj.size
        name = obj.name if ctx.args.recursive else obj.name[len(base) :]
        if ctx.out.json:
            ctx.out.record(
                {
                    "type": "object",
                    "key": obj.name,
                    "url": loc.url(obj.name),
                    "size": obj.size,
                    "last_modified": obj.extra.get("last_modified"),
                    "etag": obj.hash,
                    "storage_class": obj.extra.get("storage_class"),
                }
            )
        else:
            ctx.out.data_line(
                _object_line(
                    ctx,
                    obj.size,
                    obj.extra.get("last_modified"),
                    obj.hash,
                    obj.extra.get("storage_class"),
                    name,
                )
            )
    _summary(ctx, count, total)
    if prefix and not shown:
        raise CliError(f"no objects match {loc.url()!r}", EXIT_NOT_FOUND)
    return EXIT_OK


def _summary(ctx: Context, count: int, total: int) -> None:
    if not ctx.args.summarize:
        return
    if ctx.out.json:
        ctx.out.record({"type": "summary", "objects": count, "size": total})
    else:
        ctx.out.data_line(f"\nTotal Objects: {count}\n   Total Size: {_size(ctx, total)}")


def _ls_dir(ctx: Context, loc: FileLoc) -> int:
    try:
        st = os.stat(loc.path)
    except FileNotFoundError:
        raise CliError(f"{loc.text!r}: no such file or directory", EXIT_NOT_FOUND) from None
    rows: Iterator[tuple[str, int, float, bool]]
    if not stat_module.S_ISDIR(st.st_mode):
        rows = iter([(loc.text, st.st_size, st.st_mtime, False)])
    elif ctx.args.recursive:
        rows = ((e.rel, e.size, e.mtime or 0.0, False) for e in list_dir(loc.path, Filters(None)))
    else:
        rows = _dir_rows(loc.path)
    count = total = 0
    for name, size, mtime, is_dir in rows:
        when = datetime.fromtimestamp(mtime, tz=UTC)
        if is_dir:
            if ctx.out.json:
                ctx.out.record({"type": "prefix", "prefix": name + "/", "path": name + "/"})
            else:
                ctx.out.data_line(f"{'PRE':>{30 + (48 if ctx.args.long else 0)}} {name}/")
            continue
        count += 1
        total += size
        if ctx.out.json:
            ctx.out.record({"type": "file", "path": name, "size": size, "last_modified": when})
        else:
            ctx.out.data_line(_object_line(ctx, size, when, None, None, name))
    _summary(ctx, count, total)
    return EXIT_OK


def _dir_rows(path: str) -> Iterator[tuple[str, int, float, bool]]:
    with os.scandir(path) as entries:
        items = sorted(entries, key=lambda e: e.name)
    for entry in items:
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        yield entry.name, st.st_size, st.st_mtime, entry.is_dir()


# -- rm ---------------------------------------------------------------------------------------


def _confirm(ctx: Context, question: str) -> bool:
    if ctx.args.force or ctx.args.dry_run:
        return True
    try:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if not interactive:
        return True
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _objects_under(loc: StoreLoc, prefix: str, filters: Filters) -> list[Object]:
    driver = loc.driver()
    container = Container(loc.need_container(), {}, driver)
    return [
        obj
        for obj in driver.iterate_container_objects(container, prefix=prefix or None)
        if filters.allows(obj.name[len(prefix) :] or obj.name)
    ]


def _delete_task(loc: StoreLoc, obj: Object) -> Task:
    def run(_progress: Callable[[int, int | None], None]) -> None:
        obj.driver.delete_object(obj)

    return Task("delete", loc.url(obj.name), None, obj.size, run)


def cmd_rm(ctx: Context) -> int:
    loc = _store(ctx, ctx.args.url, "rm")
    container = loc.need_container()
    runner = Runner(ctx.out, ctx.args.jobs)
    if not ctx.args.recursive:
        if ctx.args.filters:
            raise UsageError("--include/--exclude apply to rm -r only")
        if not loc.key:
            raise UsageError(f"{loc.text!r} names a bucket; use rm -r to empty it, rb to delete it")
        obj = loc.driver().get_object(container, loc.key)
        task = _delete_task(loc, obj)
        if ctx.args.dry_run:
            runner.plan([task])
            return EXIT_OK
        outcome = runner.run([task])
        return outcome.codes[0] if outcome.codes else EXIT_OK
    prefix = dir_prefix(loc.key)
    objects = _objects_under(loc, prefix, Filters(ctx.args.filters))
    if not objects:
        ctx.out.note(f"nothing to delete under {loc.url(prefix)}")
        return EXIT_OK
    size = sum(o.size for o in objects)
    question = f"delete {len(objects)} object(s) ({human_size(size)}) under {loc.url(prefix)}?"
    if not _confirm(ctx, question):
        raise CliError("cancelled; nothing was deleted", EXIT_FAILED)
    tasks = [_delete_task(loc, obj) for obj in objects]
    if ctx.args.dry_run:
        runner.plan(tasks)
        return EXIT_OK
    outcome = runner.run(tasks)
    if ctx.out.json:
        ctx.out.record(
            {
                "action": "summary",
                "command": "rm",
                "done": outcome.done,
                "failed": outcome.failed,
                "bytes": outcome.bytes,
            }
        )
    if outcome.failed:
        ctx.out.error_line(f"{outcome.failed} of {len(tasks)} deletions failed")
    return outcome.exit_code


# -- buckets ----------------------------------------------------------------------------------


def _bucket(ctx: Context, command: str) -> StoreLoc:
    loc = _store(ctx, ctx.args.url, command)
    loc.need_container()
    if loc.key.strip("/"):
        raise UsageError(f"{command} takes a bucket URL ({loc.scheme}://BUCKET), not {loc.text!r}")
    return loc


def cmd_mb(ctx: Context) -> int:
    loc = _bucket(ctx, "mb")
    if loc.scheme == LOCAL_SCHEME:
        root = ctx.resolver.local_root()
        try:
            os.makedirs(root, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UsageError(f"local root {root!r} is not a directory") from None
    url = f"{loc.scheme}://{loc.container}"
    status = "created"
    try:
        loc.driver().create_container(loc.container)
    except ContainerAlreadyExistsError:
        if not ctx.args.exist_ok:
            raise
        status = "exists"
    ctx.out.action(
        {"action": "make_bucket", "url": url, "status": "ok", "result": status},
        f"make_bucket: {url}" + (" (already exists)" if status == "exists" else ""),
    )
    return EXIT_OK


def cmd_rb(ctx: Context) -> int:
    loc = _bucket(ctx, "rb")
    driver = loc.driver()
    container = driver.get_container(loc.container)
    url = f"{loc.scheme}://{loc.container}"
    if ctx.args.force:
        objects = _objects_under(loc, "", Filters(None))
        outcome = Runner(ctx.out, 4).run([_delete_task(loc, obj) for obj in objects])
        if outcome.failed:
            raise CliError(f"{outcome.failed} object(s) could not be deleted; {url} kept")
    driver.delete_container(container)
    ctx.out.action({"action": "remove_bucket", "url": url, "status": "ok"}, f"remove_bucket: {url}")
    return EXIT_OK


# -- cat, stat, presign -----------------------------------------------------------------------


def cmd_cat(ctx: Context) -> int:
    locations = [ctx.resolver.parse(text) for text in ctx.args.urls]
    ctx.out.stdout_is_data = True
    out = sys.stdout.buffer
    for loc in locations:
        if isinstance(loc, StdioLoc):
            raise UsageError("cat reads objects and files, not '-'")
        if isinstance(loc, FileLoc):
            if os.path.isdir(loc.path):
                raise UsageError(f"{loc.text!r} is a directory")
            with open(loc.path, "rb") as handle:
                for block in read_chunks(handle.read):
                    out.write(block)
            continue
        if not loc.key or loc.key.endswith("/"):
            raise UsageError(f"{loc.text!r} names a prefix, not an object")
        obj = loc.driver().get_object(loc.need_container(), loc.key)
        for chunk in obj.driver.download_object_as_stream(obj, CHUNK):
            out.write(chunk)
    out.flush()
    return EXIT_OK


_LABELS = {
    "type": "Type",
    "url": "URL",
    "name": "Name",
    "container": "Bucket",
    "key": "Key",
    "size": "Size",
    "etag": "ETag",
    "last_modified": "Last modified",
    "content_type": "Content type",
    "storage_class": "Storage class",
    "provider": "Provider",
}


def cmd_stat(ctx: Context) -> int:
    loc = _store(ctx, ctx.args.url, "stat")
    driver = loc.driver()
    if not loc.key:
        container = driver.get_container(loc.need_container())
        data: dict[str, Any] = {
            "type": "bucket",
            "url": f"{loc.scheme}://{container.name}",
            "name": container.name,
            "provider": driver.name,
            "extra": dict(container.extra),
        }
    else:
        obj = driver.get_object(loc.need_container(), loc.key)
        data = {
            "type": "object",
            "url": loc.url(),
            "container": obj.container.name,
            "key": obj.name,
            "size": obj.size,
            "etag": obj.hash,
            "last_modified": obj.extra.get("last_modified"),
            "content_type": obj.extra.get("content_type"),
            "storage_class": obj.extra.get("storage_class"),
            "meta_data": dict(obj.meta_data),
            "provider": driver.name,
            "extra": {k: v for k, v in obj.extra.items() if v is not None},
        }
    if ctx.out.json:
        ctx.out.record(data)
        return EXIT_OK
    for name, value in data.items():
        if name in ("extra", "meta_data") or value is None:
            continue
        if name == "size":
            value = f"{value} ({human_size(value)})"
        if isinstance(value, datetime):
            value = value.isoformat()
        ctx.out.data_line(f"{_LABELS.get(name, name) + ':':<16} {value}")
    for key, value in sorted(data.get("meta_data", {}).items()):
        ctx.out.data_line(f"{'Metadata:':<16} {key}={value}")
    for key, value in sorted(data["extra"].items()):
        if key in data:
            continue
        shown = value.isoformat() if isinstance(value, datetime) else value
        ctx.out.data_line(f"{'Extra:':<16} {key}={shown}")
    return EXIT_OK


def cmd_presign(ctx: Context) -> int:
    loc = _store(ctx, ctx.args.url, "presign")
    expires: int = ctx.args.expires
    if expires > MAX_PRESIGN_SECONDS:
        raise UsageError(f"--expires must be at most {MAX_PRESIGN_SECONDS} seconds (7 days)")
    if not loc.key or loc.key.endswith("/"):
        raise UsageError(f"{loc.text!r} names no object")
    driver = loc.driver()
    container = Container(loc.need_container(), {}, driver)
    obj = Object(loc.key, 0, None, {}, {}, container, driver)
    presign: Callable[..., str] = driver.get_object_cdn_url
    params = inspect.signature(presign).parameters
    if "expires" in params:  # seconds
        url = presign(obj, expires=expires)
    elif "ex_expiry" in params:  # libcloud's: hours
        url = presign(obj, ex_expiry=expires / 3600)
    else:
        url = presign(obj)  # raises NotSupportedError where there are no URLs at all
    expires_at = datetime.now(UTC) + timedelta(seconds=expires)
    if ctx.out.json:
        ctx.out.record(
            {
                "action": "presign",
                "url": loc.url(),
                "presigned_url": url,
                "expires_in": expires,
                "expires_at": expires_at,
            }
        )
    else:
        ctx.out.data_line(url)
    return EXIT_OK
