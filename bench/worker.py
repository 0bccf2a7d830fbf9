"""Run one client on one scenario, in a process of its own, and print what it measured.

Invoked by ``bench/run.py`` as ``python bench/worker.py`` with a JSON spec on stdin;
prints one ``RESULT {json}`` line on stdout. Wall time is taken around the operation
only (imports, client construction and bucket lookups happen before the clock
starts); CPU time is user+sys of this process (every thread, Rust ones included)
over the same interval; peak RSS is the process's high-water mark. For ``curl``, CPU
and peak RSS are those of the curl process (``wait4``).

This process never verifies its own uploads: the runner reads back what the
server holds with an independent client. It does compare small GET bodies with
the expected bytes, and reports the key names it listed.
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import json
import os
import pstats
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import ADAPTERS, Adapter, Unsupported

MiB = 1024 * 1024


def small_body(key: str, size: int) -> bytes:
    """The deterministic body of small object ``key`` (distinct per key, incompressible)."""
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def file_chunks(path: str, chunk: int) -> Iterator[bytes]:
    """The w1 source: ``chunk``-byte pieces of the file; the client never learns the length."""
    with open(path, "rb", buffering=0) as handle:
        for _ in range(os.path.getsize(path) // chunk + 2):
            block = handle.read(chunk)
            if not block:
                return
            yield block


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_now_mib() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / MiB
    except (OSError, ValueError, IndexError):
        return float("nan")


class AllThreadsProfile:
    """cProfile of the calling thread and of every thread started while it runs."""

    def __init__(self, clock: str = "cpu") -> None:
        self._profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        # thread_time: CPU of the calling thread only, so each thread's profile is its own.
        self._timer = time.thread_time if clock == "cpu" else time.perf_counter

    def _new(self) -> cProfile.Profile:
        return cProfile.Profile(self._timer)

    def _bootstrap(self, frame: Any, event: str, arg: Any) -> None:
        profile = self._new()
        with self._lock:
            self._profiles.append(profile)
        sys.setprofile(None)
        profile.enable()  # replaces this hook for the new thread

    def __enter__(self) -> AllThreadsProfile:
        threading.setprofile(self._bootstrap)
        self._main = self._new()
        with self._lock:
            self._profiles.append(self._main)
        self._main.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self._main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]

    def dump(self, path: str) -> None:
        with self._lock:
            profiles = list(self._profiles)
        stats = pstats.Stats(profiles[0])
        for extra in profiles[1:]:
            try:
                stats.add(extra)
            except (TypeError, ValueError):  # a thread that never made a call
                continue
        stats.dump_stats(path)


class Timer:
    """Wall and CPU time of named phases; optional profiling around each."""

    def __init__(self, profile: AllThreadsProfile | None) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self.profile = profile

    def run(self, name: str, fn: Callable[[], Any], **counts: float) -> Any:
        cpu0, t0 = _cpu(), time.perf_counter()
        if self.profile is not None:
            with self.profile:
                result = fn()
        else:
            result = fn()
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        self.phases[name] = {"wall": wall, "cpu": cpu, **counts}
        return result


def run(spec: dict[str, Any]) -> dict[str, Any]:
    client_name = spec["client"]
    scenario = spec["scenario"]
    out: dict[str, Any] = {"ok": False, "client": client_name, "scenario": scenario}
    profile = AllThreadsProfile(spec.get("profile_clock", "cpu")) if spec.get("profile") else None
    timer = Timer(profile)
    adapter: Adapter | None = None
    try:
        adapter = ADAPTERS[client_name](spec["endpoint"], spec.get("variant") or {})
        out["info"] = adapter.describe()
        bucket = spec["bucket"]
        prepare = getattr(adapter, "prepare", None)
        if callable(prepare):
            prepare(bucket)
        out["rss_before_mib"] = _rss_now_mib()
        if scenario == "w1":
            chunks = file_chunks(spec["path"], spec["chunk"])
            timer.run(
                "upload",
                lambda: adapter.stream_upload(bucket, spec["key"], chunks),
                bytes=spec["size"],
            )
        elif scenario == "w2" and client_name == "curl":
            curl = adapter
            timer.run(
                "upload",
                lambda: curl.file_upload_curl(  # type: ignore[attr-defined]
                    bucket, spec["key"], Path(spec["path"]), spec["sha256"]
                ),
                bytes=spec["size"],
            )
            usage = curl.child_rusage  # type: ignore[attr-defined]
            timer.phases["upload"]["cpu"] = usage.ru_utime + usage.ru_stime
            out["rss_peak_mib"] = usage.ru_maxrss / 1024
            out["rss_of"] = "curl process"
        elif scenario == "w2":
            timer.run(
                "upload",
                lambda: adapter.file_upload(bucket, spec["key"], Path(spec["path"])),
                bytes=spec["size"],
            )
        elif scenario in ("w3", "w3c"):
            timer.run(
                "download",
                lambda: adapter.download(bucket, spec["key"], Path(spec["path"])),
                bytes=spec["size"],
            )
        elif scenario == "w4":
            out["verify"] = small_ops(adapter, timer, spec)
        elif scenario == "w5":
            out["verify"] = listing(adapter, timer, spec)
        else:
            raise ValueError(f"unknown scenario {scenario!r}")
        out["ok"] = True
    except Unsupported as exc:
        out["skipped"] = str(exc)
    except BaseException as exc:  # reported, never swallowed silently
        out["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        out["traceback"] = traceback.format_exc()[-6000:]
    finally:
        if adapter is not None:
            with contextlib.suppress(Exception):  # closing is not measured
                adapter.close()
    out["phases"] = timer.phases
    if "rss_peak_mib" not in out:
        out["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["rss_of"] = "worker process"
    if profile is not None and timer.phases:
        profile.dump(spec["profile"])
        out["profile"] = spec["profile"]
    return out


def small_ops(adapter: Adapter, timer: Timer, spec: dict[str, Any]) -> dict[str, Any]:
    bucket, n, size, prefix = spec["bucket"], spec["n_ops"], spec["small_size"], spec["prefix"]
    keys = [f"{prefix}{i:05d}" for i in range(n)]
    bodies = [small_body(key, size) for key in keys]

    def puts() -> list[Any]:
        return [
            adapter.put_small(bucket, key, body) for key, body in zip(keys, bodies, strict=True)
        ]

    handles = timer.run("put", puts, ops=n)

    def gets() -> list[bytes]:
        return [adapter.get_small(bucket, key, h) for key, h in zip(keys, handles, strict=True)]

    got = timer.run("get", gets, ops=n)

    def heads() -> list[int]:
        return [adapter.head_small(bucket, key, h) for key, h in zip(keys, handles, strict=True)]

    sizes = timer.run("head", heads, ops=n)
    return {
        "get_mismatches": sum(1 for a, b in zip(got, bodies, strict=True) if a != b),
        "head_mismatches": sum(1 for s in sizes if s != size),
        "keys": n,
    }


def listing(adapter: Adapter, timer: Timer, spec: dict[str, Any]) -> dict[str, Any]:
    bucket, prefix, repeats = spec["bucket"], spec["list_prefix"], spec["list_repeats"]
    digests, counts, walls, cpus = [], [], [], []
    for i in range(repeats):
        names = timer.run(f"list{i}", lambda: adapter.list_keys(bucket, prefix))
        walls.append(timer.phases[f"list{i}"]["wall"])
        cpus.append(timer.phases[f"list{i}"]["cpu"])
        counts.append(len(names))
        digests.append(hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest())
    walls_sorted = sorted(walls)
    timer.phases["list"] = {
        "wall": walls_sorted[len(walls_sorted) // 2],
        "cpu": sum(cpus) / len(cpus),
        "ops": counts[0],
    }
    return {"counts": counts, "digests": digests}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    result = run(spec)
    sys.stdout.write("RESULT " + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
