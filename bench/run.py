"""libstore against boto3/s3transfer, apache-libcloud, minio-py, obstore (and curl) on SeaweedFS.

Run from the repository root, in a venv with the peers installed (see bench/README.rst)::

    python bench/run.py                 # the full run: 3 interleaved rounds, < 10 minutes
    python bench/run.py --quick         # small sizes, 1 round, for development
    python bench/run.py --only w1,w4 --clients libstore,obstore
    python bench/run.py --profile w1,w4 # cProfile libstore on those scenarios instead

Scenarios: w1 256 MiB upload from a generator of 64 KiB chunks (length unknown),
w2 256 MiB upload from a file (plus a single ``curl -T``, the server's ingest
ceiling), w3 256 MiB download to a file (object stored by a plain PUT, ETag = MD5),
w3c the same with an object that carries x-amz-checksum-crc32, w4 1000 small PUT,
then GET, then HEAD on one thread, w5 listing 5000 keys. Every client+scenario runs in a subprocess
of its own (bench/worker.py); every transfer is verified against an independent
reference client and a corrupt transfer is reported as FAILED, never timed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import pstats
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import s3ref  # noqa: E402

MiB = 1024 * 1024
WORKER = BENCH_DIR / "worker.py"

SCENARIOS = {
    "w1": "upload from a generator of {chunk_kib} KiB chunks (length unknown)",
    "w2": "upload from a file",
    "w3": "download to a file (object stored by one plain PUT: its ETag is its MD5)",
    "w3c": "download to a file (object stored with x-amz-checksum-crc32)",
    "w4": "small objects on one thread",
    "w5": "listing",
}

#: Base clients (Python packages) and the module that tells whether each is installed.
PACKAGES = {
    "libstore": "libstore",
    "boto3": "boto3",
    "libcloud": "libcloud",
    "minio": "minio",
    "obstore": "obstore",
}
PEERS = ("boto3", "libcloud", "minio", "obstore")
CURL_MIN = (7, 75)


@dataclass
class ClientSpec:
    """One measured configuration: a client id, its adapter, and adapter options."""

    id: str
    adapter: str
    variant: dict[str, Any] = field(default_factory=dict)
    scenarios: tuple[str, ...] = ("w1", "w2", "w3", "w3c", "w4", "w5")
    note: str = ""


@dataclass
class Settings:
    size: int
    chunk: int
    n_ops: int
    small_size: int
    list_keys: int
    list_repeats: int
    rounds: int
    timeout: float


# --------------------------------------------------------------------------- environment


def _python_env() -> dict[str, str]:
    servers = s3ref.load_servers()
    env = servers.clean_env()  # no proxies, no AWS_* (obstore and boto3 read those)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def _curl_version() -> tuple[tuple[int, ...] | None, str]:
    path = shutil.which("curl")
    if not path:
        return None, "curl not found on PATH"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        first = out.stdout.split("\n", 1)[0]
        version = tuple(int(x) for x in first.split()[1].split(".")[:3])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return None, f"cannot read curl's version: {exc}"
    return version, first


def _detect_libstore(env: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """Import libstore in a subprocess and list its concurrency options (None: unusable)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import clients, libstore; "
        "import inspect; from libstore import get_driver, Provider; "
        "params = list(inspect.signature(get_driver(Provider.S3)).parameters); "
        "print(json.dumps({'options': clients.libstore_options(), "
        "'init_parameters': params, "
        "'version': getattr(libstore, '__version__', '?')}))"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(BENCH_DIR)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=BENCH_DIR.parent,
        )
    except subprocess.TimeoutExpired:
        return None, "importing libstore timed out"
    if out.returncode != 0:
        tail = " | ".join(line.strip() for line in out.stderr.strip().splitlines()[-3:])
        return None, "importing libstore failed: " + tail[-400:]
    return json.loads(out.stdout.strip().splitlines()[-1]), ""


def libstore_fingerprint() -> str:
    """SHA-256 (first 12 hex digits) over libstore's sources: which code was measured."""
    spec = importlib.util.find_spec("libstore")
    if spec is None or not spec.submodule_search_locations:
        return "?"
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def plan_clients(
    wanted: Sequence[str] | None, concurrency: int, env: dict[str, str]
) -> tuple[list[ClientSpec], list[str]]:
    """The client configurations to measure, and notes on what was skipped and why."""
    notes: list[str] = []
    specs: list[ClientSpec] = []
    for name, module in PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            notes.append(f"{name}: SKIPPED, not installed (pip install -r bench/requirements.txt)")
            continue
        if name == "libstore":
            detected, why = _detect_libstore(env)
            if detected is None:
                notes.append(f"libstore: SKIPPED, {why}")
                continue
            specs.append(ClientSpec("libstore", "libstore", note="library defaults"))
            options = detected["options"]
            if options:
                notes.append(f"libstore concurrency options found: {json.dumps(options)}")
                specs.append(
                    ClientSpec(
                        f"libstore@c{concurrency}",
                        "libstore",
                        {"concurrency": concurrency},
                        ("w1", "w2", "w3", "w3c"),
                        note=f"concurrency={concurrency}",
                    )
                )
            if "payload_signing" in detected.get("init_parameters", ()):
                specs.append(
                    ClientSpec(
                        "libstore@unsigned",
                        "libstore",
                        {"payload_signing": "never"},
                        ("w1", "w2"),
                        note="payload_signing='never': UNSIGNED-PAYLOAD plus the CRC32 "
                        "over plain HTTP, as over HTTPS (no SHA-256 of the data)",
                    )
                )
            if not options:
                notes.append(
                    "libstore exposes no concurrency option (driver or call keyword): "
                    f"measured its defaults only; libstore@c{concurrency} not run"
                )
            continue
        specs.append(ClientSpec(name, name))
    specs.append(
        ClientSpec(
            "raw-http",
            "raw-http",
            scenarios=("w4",),
            note="http.client + SigV4, not an SDK: the pure-Python floor",
        )
    )
    version, text = _curl_version()
    if version is None:
        notes.append(f"curl: SKIPPED, {text}")
    elif version < CURL_MIN:
        notes.append(f"curl: SKIPPED, {text} lacks --aws-sigv4 (needs >= 7.75)")
    else:
        specs.append(ClientSpec("curl", "curl", {"payload": "signed"}, ("w2",), note=text))
        specs.append(
            ClientSpec("curl-unsigned", "curl", {"payload": "unsigned"}, ("w2",), note=text)
        )
    if wanted:
        unknown = (
            set(wanted)
            - {s.id for s in specs}
            - set(PACKAGES)
            - {"curl", "curl-unsigned", "raw-http"}
        )
        unknown = {w for w in unknown if not w.startswith("libstore@")}
        if unknown:
            raise SystemExit(f"unknown client(s): {', '.join(sorted(unknown))}")
        for missing in sorted(set(wanted) - {s.id for s in specs}):
            notes.append(f"{missing}: requested but not available (see above)")
        specs = [s for s in specs if s.id in wanted]
    return specs, notes


# --------------------------------------------------------------------------- running workers


_CURRENT_CHILD: subprocess.Popen[str] | None = None


def run_worker(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    global _CURRENT_CHILD
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=BENCH_DIR.parent,
        start_new_session=True,
    )
    _CURRENT_CHILD = proc
    try:
        stdout, stderr = proc.communicate(json.dumps(spec), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate(timeout=30)
        return {
            "ok": False,
            "error": f"timed out after {timeout:.0f} s (killed)",
            "stderr": stderr[-3000:],
        }
    except BaseException:  # Ctrl-C, SIGTERM: the worker is in its own session, stop it too
        _kill_group(proc)
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)
        raise
    finally:
        _CURRENT_CHILD = None
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            if stderr.strip():
                result["stderr"] = stderr[-3000:]
            result["process_seconds"] = time.monotonic() - started
            return result
    return {
        "ok": False,
        "error": f"worker exited with {proc.returncode} without a result",
        "stderr": stderr[-3000:],
    }


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _system_busy() -> float | None:
    """Seconds of non-idle CPU on the whole machine since boot (all cores)."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _HZ


def _process_cpu(pid: int | None) -> float | None:
    """user+sys seconds of process ``pid`` (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as handle:
            tail = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(tail[11]) + int(tail[12])) / _HZ


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rotated(items: Sequence[ClientSpec], by: int) -> list[ClientSpec]:
    if not items:
        return []
    by %= len(items)
    return list(items[by:]) + list(items[:by])


# --------------------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.s = settings
        self.env = _python_env()
        self.records: list[dict[str, Any]] = []
        self.work = Path(tempfile.mkdtemp(prefix="libstore-bench-"))
        self.endpoint: Any = None
        self.server: Any = None
        self.ref: s3ref.RefClient | None = None
        self.src = self.work / "source.bin"
        self.src_sha = ""
        self.listing_digest = ""
        self.run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.buckets = {"big": "bench-big", "small": "bench-small", "list": "bench-list"}

    # -- setup ------------------------------------------------------------------------------

    def start(self) -> None:
        servers = s3ref.load_servers()
        self.server = servers.SeaweedFSServer(
            self.work / "seaweedfs", volume_size_limit_mb=self.args.volume_size_mb
        )
        print(f"starting SeaweedFS in {self.work} ...", flush=True)
        self.endpoint = self.server.start()
        print(f"SeaweedFS S3 at {self.endpoint.url} (ready in {self.server.startup_seconds:.1f} s)")
        self.ref = s3ref.RefClient(self.endpoint)

    def seed(self, scenarios: Sequence[str]) -> None:
        assert self.ref is not None
        for bucket in self.buckets.values():
            self.ref.create_bucket(bucket)
        t0 = time.monotonic()
        with open(self.src, "wb") as handle:
            for _ in range(self.s.size // MiB):
                handle.write(os.urandom(MiB))
            handle.write(os.urandom(self.s.size % MiB))
        self.src_sha = s3ref.file_sha256(self.src)
        if {"w1", "w2", "w3", "w3c"} & set(scenarios):
            # Warm-up (not measured): grow the bucket's first volume, prime the page cache.
            self.ref.put_file(self.buckets["big"], "warmup.bin", self.src, self.src_sha)
            self.ref.delete(self.buckets["big"], "warmup.bin")
        if "w3" in scenarios:
            # The download source: one plain PUT, so its ETag is the content MD5.
            self.ref.put_file(self.buckets["big"], "download/source.bin", self.src, self.src_sha)
            stored = self.ref.stored_digest(self.buckets["big"], "download/source.bin")
            if stored != (self.s.size, self.src_sha):
                raise RuntimeError(f"seeding the download source failed: {stored}")
        if "w3c" in scenarios:
            # The same bytes stored with a CRC32 the server keeps (as libstore's uploads do).
            crc = s3ref.file_crc32_b64(self.src)
            self.ref.put_file(
                self.buckets["big"],
                "download/source-crc32.bin",
                self.src,
                self.src_sha,
                headers={"x-amz-checksum-crc32": crc},
            )
            stored = self.ref.stored_digest(self.buckets["big"], "download/source-crc32.bin")
            if stored != (self.s.size, self.src_sha):
                raise RuntimeError(f"seeding the CRC32 download source failed: {stored}")
        if "w5" in scenarios:
            keys = [f"listing/key-{i:06d}" for i in range(self.s.list_keys)]
            s3ref.parallel_put(
                self.endpoint, self.buckets["list"], keys, lambda k: k.encode(), threads=8
            )
            self.listing_digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
        print(f"seeded in {time.monotonic() - t0:.1f} s")

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.close()
        if self.server is not None:
            self.server.stop()
            print("SeaweedFS stopped")
        shutil.rmtree(self.work, ignore_errors=True)

    # -- one measurement --------------------------------------------------------------------

    def base_spec(self, client: ClientSpec, scenario: str, tag: str) -> dict[str, Any]:
        ep = self.endpoint
        spec: dict[str, Any] = {
            "client": client.adapter,
            "variant": client.variant,
            "scenario": scenario,
            "endpoint": {
                "host": ep.host,
                "port": ep.port,
                "access_key": ep.access_key,
                "secret_key": ep.secret_key,
                "region": ep.region,
            },
            "size": self.s.size,
            "chunk": self.s.chunk,
            "sha256": self.src_sha,
        }
        safe = client.id.replace("@", "-")
        if scenario in ("w1", "w2"):
            spec.update(
                bucket=self.buckets["big"],
                key=f"up/{scenario}/{safe}/{tag}.bin",
                path=str(self.src),
            )
        elif scenario in ("w3", "w3c"):
            key = "download/source.bin" if scenario == "w3" else "download/source-crc32.bin"
            spec.update(
                bucket=self.buckets["big"], key=key, path=str(self.work / f"down-{safe}-{tag}.bin")
            )
        elif scenario == "w4":
            spec.update(
                bucket=self.buckets["small"],
                n_ops=self.s.n_ops,
                small_size=self.s.small_size,
                prefix=f"small/{safe}/{tag}/",
            )
        elif scenario == "w5":
            spec.update(
                bucket=self.buckets["list"],
                list_prefix="listing/",
                list_repeats=self.s.list_repeats,
            )
        return spec

    def measure(
        self,
        client: ClientSpec,
        scenario: str,
        round_no: int,
        position: int,
        profile: str | None = None,
    ) -> dict[str, Any]:
        tag = f"r{round_no}"
        spec = self.base_spec(client, scenario, tag)
        if profile:
            spec["profile"] = profile
            spec["profile_clock"] = self.args.profile_clock
        if scenario in ("w3", "w3c"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spec["path"])
        server_pid = self.server.process.pid if self.server and self.server.process else None
        waited = self.wait_quiet(server_pid) if self.args.quiet_wait > 0 else None
        busy0, srv0, kids0 = _system_busy(), _process_cpu(server_pid), _children_cpu()
        load0 = os.getloadavg()[0]
        result = run_worker(spec, self.env, self.s.timeout)
        busy1, srv1, kids1 = _system_busy(), _process_cpu(server_pid), _children_cpu()
        result.update(client=client.id, scenario=scenario, round=round_no, position=position)
        # Where the machine's CPU went while the worker ran: the worker (whole process,
        # imports included), SeaweedFS, and anything else (other load on the machine).
        env: dict[str, Any] = {"load1_before": load0, "worker_process_cpu": kids1 - kids0}
        if waited is not None:
            env["quiet_wait_s"], env["quiet_before"] = waited
        if srv0 is not None and srv1 is not None:
            env["server_cpu"] = srv1 - srv0
        if busy0 is not None and busy1 is not None:
            env["machine_busy_cpu"] = busy1 - busy0
            if "server_cpu" in env:
                env["other_cpu"] = max(
                    0.0, env["machine_busy_cpu"] - env["server_cpu"] - env["worker_process_cpu"]
                )
        result["machine"] = env
        if result.get("ok"):
            problem = self.verify(spec, result)
            if problem:
                result["ok"] = False
                result["corrupt"] = True
                result["error"] = f"VERIFICATION FAILED: {problem}"
        self.cleanup(spec)
        self.records.append(result)
        return result

    def wait_quiet(self, server_pid: int | None) -> tuple[float, bool]:
        """Wait (at most --quiet-wait s) until other processes leave the CPU nearly idle.

        Returns the seconds waited and whether the machine was quiet at the end.
        """
        started = time.monotonic()
        limit = self.args.quiet_wait
        for _ in range(int(limit / 0.5) + 1):
            busy0, srv0 = _system_busy(), _process_cpu(server_pid)
            time.sleep(0.5)
            busy1, srv1 = _system_busy(), _process_cpu(server_pid)
            if busy0 is None or busy1 is None:
                return 0.0, False
            other = (busy1 - busy0) - ((srv1 or 0.0) - (srv0 or 0.0))
            if other < 0.5 * 0.15:  # under 15% of one core over the last half second
                return time.monotonic() - started, True
            if time.monotonic() - started >= limit:
                break
        return time.monotonic() - started, False

    def verify(self, spec: dict[str, Any], result: dict[str, Any]) -> str | None:
        assert self.ref is not None
        scenario = spec["scenario"]
        if scenario in ("w1", "w2"):
            stored = self.ref.stored_digest(spec["bucket"], spec["key"])
            if stored is None:
                return "no object on the server after the upload"
            if stored != (self.s.size, self.src_sha):
                return f"the server holds {stored[0]} bytes with sha256 {stored[1][:16]}…"
            result["verified"] = "server copy sha256 matches"
        elif scenario in ("w3", "w3c"):
            path = Path(spec["path"])
            if not path.is_file():
                return "no file was written"
            size = path.stat().st_size
            digest = s3ref.file_sha256(path)
            if (size, digest) != (self.s.size, self.src_sha):
                return f"the file has {size} bytes with sha256 {digest[:16]}…"
            result["verified"] = "downloaded file sha256 matches"
        elif scenario == "w4":
            v = result.get("verify", {})
            if v.get("get_mismatches") or v.get("head_mismatches"):
                return (
                    f"{v.get('get_mismatches')} GET bodies and {v.get('head_mismatches')} "
                    "HEAD sizes differ from what was PUT"
                )
            sys.path.insert(0, str(BENCH_DIR))
            from worker import small_body

            step = max(1, spec["n_ops"] // 25)
            for i in range(0, spec["n_ops"], step):  # an independent look at what was stored
                key = f"{spec['prefix']}{i:05d}"
                if self.ref.get_bytes(spec["bucket"], key) != small_body(key, spec["small_size"]):
                    return f"the server holds different bytes under {key}"
            result["verified"] = "GET bodies, HEAD sizes, and a reference read-back match"
        elif scenario == "w5":
            v = result.get("verify", {})
            if any(c != self.s.list_keys for c in v.get("counts", [])):
                return f"listed {v.get('counts')} keys, expected {self.s.list_keys}"
            if any(d != self.listing_digest for d in v.get("digests", [])):
                return "listed key names differ from the seeded ones"
            result["verified"] = "key names match"
        return None

    def cleanup(self, spec: dict[str, Any]) -> None:
        assert self.ref is not None
        if spec["scenario"] in ("w1", "w2"):
            with contextlib.suppress(Exception):
                self.ref.delete(spec["bucket"], spec["key"])
        elif spec["scenario"] in ("w3", "w3c"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spec["path"])
            for leftover in self.work.glob("*.libstore-partial"):
                leftover.unlink()
            for leftover in [*self.work.glob(".down-*"), *self.work.glob("down-*")]:
                with contextlib.suppress(OSError):
                    leftover.unlink()

    # -- the rounds -------------------------------------------------------------------------

    def run_rounds(self, clients: list[ClientSpec], scenarios: Sequence[str]) -> None:
        total = sum(1 for sc in scenarios for c in clients if sc in c.scenarios) * self.s.rounds
        done = 0
        started = time.monotonic()
        for round_no in range(1, self.s.rounds + 1):
            print(f"\n== round {round_no} of {self.s.rounds} ==", flush=True)
            for index, scenario in enumerate(scenarios):
                here = [c for c in clients if scenario in c.scenarios]
                for position, client in enumerate(rotated(here, round_no - 1 + index)):
                    result = self.measure(client, scenario, round_no, position)
                    done += 1
                    print(f"  [{done:3d}/{total}] {_one_line(result)}", flush=True)
        print(f"\nall measurements took {time.monotonic() - started:.0f} s")


def _one_line(r: dict[str, Any]) -> str:
    head = f"{r['scenario']:<4} {r['client']:<14}"
    if r.get("skipped"):
        return f"{head} SKIPPED: {r['skipped']}"
    if not r.get("ok"):
        return f"{head} FAILED: {str(r.get('error'))[:160]}"
    parts = []
    for name, ph in r.get("phases", {}).items():
        if name.startswith("list") and name != "list":
            continue
        parts.append(f"{name} {_rate(ph):.1f}{_unit(ph)} cpu {ph['cpu']:.2f}s")
    line = f"{head} " + ", ".join(parts) + f", rss {r.get('rss_peak_mib', 0):.0f} MiB"
    machine = r.get("machine", {})
    if "server_cpu" in machine:
        line += f", server cpu {machine['server_cpu']:.2f}s"
    if machine.get("other_cpu", 0) > 0.5:
        line += f", OTHER LOAD {machine['other_cpu']:.1f} cpu-s"
    return line


def _rate(phase: dict[str, float]) -> float:
    if "bytes" in phase:
        return phase["bytes"] / MiB / phase["wall"]
    return phase.get("ops", 0) / phase["wall"]


def _unit(phase: dict[str, float]) -> str:
    return " MiB/s" if "bytes" in phase else " ops/s"


# --------------------------------------------------------------------------- the report


ROWS = [  # (row id, scenario, phase, label)
    ("w1", "w1", "upload", "w1 upload {size} from a {chunk} KiB-chunk generator"),
    ("w2", "w2", "upload", "w2 upload {size} from a file"),
    ("w3", "w3", "download", "w3 download {size} to a file (plain-PUT object: ETag = MD5)"),
    ("w3c", "w3c", "download", "w3c download {size} to a file (object with x-amz-checksum-crc32)"),
    ("w4-put", "w4", "put", "w4 {n} small PUT ({small} B) on one thread"),
    ("w4-get", "w4", "get", "w4 {n} small GET on one thread"),
    ("w4-head", "w4", "head", "w4 {n} small HEAD on one thread"),
    ("w5", "w5", "list", "w5 list {keys} keys"),
]


def summarize(records: list[dict[str, Any]], clients: list[ClientSpec]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for row, scenario, phase, _ in ROWS:
        per_client: dict[str, Any] = {}
        for client in clients:
            runs = [r for r in records if r["client"] == client.id and r["scenario"] == scenario]
            if not runs:
                continue
            good = [r for r in runs if r.get("ok") and phase in r.get("phases", {})]
            entry: dict[str, Any] = {"runs": len(runs), "ok": len(good)}
            if any(r.get("corrupt") for r in runs):
                entry["status"] = "FAILED (corrupt data)"
                entry["errors"] = sorted({str(r.get("error")) for r in runs if r.get("corrupt")})
            elif any(r.get("skipped") for r in runs):
                entry["status"] = "SKIPPED"
                entry["errors"] = sorted({str(r.get("skipped")) for r in runs if r.get("skipped")})
            elif not good:
                entry["status"] = "FAILED"
                entry["errors"] = sorted({str(r.get("error"))[:300] for r in runs})
            else:
                entry["status"] = "ok" if len(good) == len(runs) else f"{len(good)}/{len(runs)} ok"
                if len(good) != len(runs):
                    entry["errors"] = sorted(
                        {str(r.get("error"))[:300] for r in runs if not r.get("ok")}
                    )
                rates = [_rate(r["phases"][phase]) for r in good]
                entry.update(
                    median=statistics.median(rates),
                    min=min(rates),
                    max=max(rates),
                    unit=_unit(good[0]["phases"][phase]).strip(),
                    cpu=statistics.median(r["phases"][phase]["cpu"] for r in good),
                    rss=statistics.median(r["rss_peak_mib"] for r in good),
                    server_cpu=_median_or_none(
                        [r.get("machine", {}).get("server_cpu") for r in good]
                    ),
                    values=rates,
                )
            per_client[client.id] = entry
        if per_client:
            summary[row] = per_client
    return summary


def _fmt_s(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt_ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    return f"{a / b:.2f}x"


def render(summary: dict[str, Any], clients: list[ClientSpec], s: Settings) -> str:
    size = f"{s.size // MiB} MiB" if s.size % MiB == 0 else f"{s.size} B"
    labels = {
        row: label.format(
            size=size, chunk=s.chunk // 1024, n=s.n_ops, small=s.small_size, keys=s.list_keys
        )
        for row, _, _, label in ROWS
    }
    libs = [c.id for c in clients if c.adapter == "libstore"]
    lines: list[str] = []
    for row, entries in summary.items():
        here = [lib for lib in libs if lib in entries]
        base = "libstore" if "libstore" in here else (here[0] if here else None)
        header = (
            f"{'client':<14} {'median':>9} {'unit':<6} {'min-max':>15} {'CPU s':>7} "
            f"{'peak RSS':>9} {'srv CPU':>7}"
        )
        if base:
            header += "   " + "  ".join(f"{lib + '÷':>13}" for lib in here)
            header += f"  {'CPU ' + base + '÷':>14} {'RSS ' + base + '÷':>14}"
        lines.append("")
        lines.append(labels[row])
        lines.append(header)
        lines.append("-" * len(header))
        for cid, e in entries.items():
            if "median" not in e:
                lines.append(f"{cid:<14} {e['status']}: {'; '.join(e.get('errors', []))[:150]}")
                continue
            unit = "keys/s" if row == "w5" else e["unit"]
            line = (
                f"{cid:<14} {e['median']:>9.1f} {unit:<6} "
                f"{e['min']:>7.1f}-{e['max']:<7.1f} {e['cpu']:>7.2f} {e['rss']:>5.0f} MiB "
                f"{_fmt_s(e.get('server_cpu')):>7}"
            )
            if base:
                ratios = []
                for lib in here:
                    mine = entries.get(lib, {}).get("median")
                    ratios.append(f"{_fmt_ratio(mine, e['median']) if cid != lib else '—':>13}")
                line += "   " + "  ".join(ratios)
                b = entries.get(base, {})
                if cid != base:
                    line += (
                        f"  {_fmt_ratio(b.get('cpu'), e['cpu']):>14}"
                        f" {_fmt_ratio(b.get('rss'), e['rss']):>14}"
                    )
            if e["status"] != "ok":
                line += f"   [{e['status']}: {'; '.join(e.get('errors', []))[:100]}]"
            lines.append(line)
    lines.append("")
    lines.extend(
        textwrap.wrap(
            "median/min-max over the rounds; MiB/s = 2^20 bytes per second of wall time; "
            "CPU s = user+sys of the client process during the operation (median); "
            "peak RSS = the client process's high-water mark (median); "
            "srv CPU = SeaweedFS CPU seconds while the client process ran (w4: all three phases). "
            "'X÷' columns = X's median throughput divided by this row's (>1: X is faster); "
            "'CPU/RSS X÷' = X's CPU seconds / peak RSS divided by this row's (<1: X uses less).",
            width=110,
        )
    )
    return "\n".join(lines)


def interference(records: list[dict[str, Any]]) -> str:
    """A line on CPU used by processes other than the client and SeaweedFS during the run."""
    other = [(r.get("machine", {}).get("other_cpu"), r) for r in records]
    other = [(v, r) for v, r in other if v is not None]
    if not other:
        return "other load: unknown (no /proc)"
    worst, rec = max(other, key=lambda item: item[0])
    total = sum(v for v, _ in other)
    loads = [r.get("machine", {}).get("load1_before", 0.0) for r in records]
    return (
        f"other processes used {total:.1f} CPU-s in total while workers ran (worst: "
        f"{worst:.1f} s during {rec['scenario']} {rec['client']} round {rec['round']}); "
        f"1-min load average before measurements: max {max(loads):.2f}. Near zero means "
        "a quiet machine; large values mean the figures are disturbed."
    )


# --------------------------------------------------------------------------- profiling


def show_profile(path: Path, top: int) -> str:
    stats = pstats.Stats(str(path))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0  # summed self time, all threads
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    out = [
        f"  self time summed over all threads: {total:.2f} s "
        "(profiled run; cProfile inflates call-heavy code)",
        f"  {'self %':>7} {'cum %':>7} {'calls':>9}  function",
    ]
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in rows:
        where = _short_path(filename)
        out.append(
            f"  {100 * tottime / total:6.1f}% {100 * cumtime / total:6.1f}% {ncalls:>9}  "
            f"{func} ({where}:{line})"
        )
    out.append("  -- self time by layer (generic C builtins charged to their Python caller) --")
    layers: dict[str, float] = {}
    for (filename, _, func), (_, _, tottime, _, callers) in raw.items():
        if filename == "~" and _c_category(func) is None and callers:
            for (cfile, _, cfunc), caller_entry in callers.items():
                layer = _layer(cfile, cfunc)
                layers[layer] = layers.get(layer, 0.0) + caller_entry[2]
            continue
        layer = _layer(filename, func)
        layers[layer] = layers.get(layer, 0.0) + tottime
    for layer, seconds in sorted(layers.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        if seconds / total >= 0.005:
            out.append(f"  {100 * seconds / total:6.1f}%  {layer}")
    libstore_rows = sorted(
        ((k, v) for k, v in raw.items() if "libstore" in k[0] and "/bench/" not in k[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:top]
    out.append("  -- libstore functions by cumulative time --")
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in libstore_rows:
        out.append(
            f"  {100 * tottime / total:6.1f}% {100 * cumtime / total:6.1f}% {ncalls:>9}  "
            f"{func} ({_short_path(filename)}:{line})"
        )
    return "\n".join(out)


_C_LAYERS = (  # first match wins; tokens are matched against cProfile's names of C functions
    (("'acquire'", "'wait'", "SimpleQueue", "sleep", "'release'"), "C: locks / queues / waits"),
    (("join' of 'bytes", "tobytes", "bytearray"), "C: memory copies (bytes.join, tobytes)"),
    (("_socket.socket", "select.poll", "select.select", "getaddrinfo"), "C: socket I/O"),
    (("_hashlib", "zlib.crc32", "_md5", "_sha", "hmac"), "C: hashing / CRC"),
    (
        ("_io.FileIO", "posix.pwrite", "posix.fsync", "posix.write", "posix.read", "truncate"),
        "C: file I/O",
    ),
    (("_io.Buffered",), "C: buffered reads/writes (files and sockets)"),
)


def _c_category(func: str) -> str | None:
    for names, layer in _C_LAYERS:
        if any(name in func for name in names):
            return layer
    return None


def _layer(filename: str, func: str) -> str:
    """Which layer a profiled function belongs to (for the share-by-layer listing)."""
    if filename == "~":  # a C function: classify by name
        return _c_category(func) or "C: other builtins"
    if "/bench/" in filename:
        return "bench harness (the data source)"
    if "/libstore/" in filename and "site-packages" not in filename:
        return "libstore/" + filename.split("/libstore/", 1)[1]
    for package in (
        "requests",
        "urllib3",
        "botocore",
        "boto3",
        "s3transfer",
        "minio",
        "libcloud",
        "lxml",
        "charset_normalizer",
        "idna",
        "certifi",
    ):
        if f"site-packages/{package}/" in filename:
            return package
    if "/http/client.py" in filename or "/email/" in filename:
        return "stdlib http.client + email (header parsing)"
    if "/concurrent/" in filename or "/threading.py" in filename or "/queue.py" in filename:
        return "stdlib threads / futures"
    if "/urllib/" in filename:
        return "stdlib urllib.parse"
    return "stdlib " + _short_path(filename).split(":")[0]


def _short_path(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if "/libstore/" in filename:
        return "libstore/" + filename.split("/libstore/", 1)[1]
    index = filename.find("/lib/python3")
    if index != -1:
        rest = filename[index + len("/lib/python3") :]
        return rest.split("/", 1)[1] if "/" in rest else rest
    return filename


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (32 MiB, 100 ops, 500 keys) and one round, for development",
    )
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick: 1)")
    p.add_argument("--only", help="comma-separated scenarios: w1,w2,w3,w3c,w4,w5 (default all)")
    p.add_argument(
        "--clients",
        help="comma-separated client ids: libstore,boto3,libcloud,minio,"
        "obstore,curl,curl-unsigned,libstore@cN (default all available)",
    )
    p.add_argument("--size-mib", type=int, help="size of w1/w2/w3 transfers (default 256)")
    p.add_argument("--chunk-kib", type=int, default=64, help="w1 generator chunk (default 64)")
    p.add_argument("--ops", type=int, help="w4 requests per phase (default 1000)")
    p.add_argument("--small-bytes", type=int, default=4096, help="w4 object size (default 4096)")
    p.add_argument("--list-keys", type=int, help="w5 keys (default 5000)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="concurrency of the extra libstore@cN variant, measured when the "
        "installed libstore exposes a concurrency option (default 8)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="per-worker timeout, s")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to leave the "
        "CPU idle (for shared machines; default 0: do not wait)",
    )
    p.add_argument(
        "--volume-size-mb",
        type=int,
        default=4096,
        help="SeaweedFS volume size limit (default 4096: few volume growths mid-run)",
    )
    p.add_argument(
        "--profile",
        metavar="SCENARIOS",
        help="instead of benchmarking, cProfile each --clients (default libstore) "
        "once on these scenarios and print the hot spots",
    )
    p.add_argument("--top", type=int, default=25, help="rows per profile listing")
    p.add_argument(
        "--profile-clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu (default): per-thread CPU time, the hot spots that burn cycles; "
        "wall: time including waits on the network and locks",
    )
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="JSON output directory")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    settings = Settings(
        size=(args.size_mib or (32 if quick else 256)) * MiB,
        chunk=args.chunk_kib * 1024,
        n_ops=args.ops or (100 if quick else 1000),
        small_size=args.small_bytes,
        list_keys=args.list_keys or (500 if quick else 5000),
        list_repeats=1 if quick else 3,
        rounds=args.rounds or (1 if quick else 3),
        timeout=args.timeout,
    )
    for name, value in (
        ("rounds", settings.rounds),
        ("ops", settings.n_ops),
        ("list keys", settings.list_keys),
        ("size", settings.size),
    ):
        if value < 1:
            raise SystemExit(f"{name} must be positive")
    if settings.rounds > 20 or settings.n_ops > 100_000 or settings.list_keys > 100_000:
        raise SystemExit("refusing an unbounded run: rounds <= 20, ops and keys <= 100000")
    scenarios = [s.strip() for s in (args.profile or args.only or ",".join(SCENARIOS)).split(",")]
    for scenario in scenarios:
        if scenario not in SCENARIOS:
            raise SystemExit(f"unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
    wanted = [c.strip() for c in args.clients.split(",")] if args.clients else None
    if args.profile and not wanted:
        wanted = ["libstore"]
    env = _python_env()
    clients, notes = plan_clients(wanted, args.concurrency, env)
    for note in notes:
        print(f"note: {note}")
    if not clients:
        print("nothing to measure")
        return 2

    # SIGTERM (and a second Ctrl-C) must still stop SeaweedFS: turn it into SystemExit.
    def on_term(signum: int, frame: Any) -> None:
        if _CURRENT_CHILD is not None:
            _kill_group(_CURRENT_CHILD)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)

    bench = Bench(args, settings)
    meta: dict[str, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "curl": _curl_version()[1],
        "libstore_source_sha256": libstore_fingerprint(),
        "settings": settings.__dict__,
        "scenarios": scenarios,
        "clients": [c.__dict__ for c in clients],
        "notes": notes,
    }
    print(
        f"libstore sources fingerprint {meta['libstore_source_sha256']}; "
        f"{settings.rounds} round(s); scenarios {','.join(scenarios)}; "
        f"clients {','.join(c.id for c in clients)}"
    )
    exit_code = 0
    try:
        bench.start()
        meta["seaweedfs"] = " ".join(bench.server.command[:1]) if bench.server else "?"
        bench.seed(scenarios)
        if args.profile:
            return profile_mode(bench, clients, scenarios, args)
        bench.run_rounds(clients, scenarios)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping SeaweedFS")
        exit_code = 130
    finally:
        bench.stop()
    if args.profile:
        return exit_code
    meta["libstore_source_sha256_at_end"] = libstore_fingerprint()
    if meta["libstore_source_sha256_at_end"] != meta["libstore_source_sha256"]:
        print(
            "\nWARNING: libstore's sources changed during the run "
            f"({meta['libstore_source_sha256']} -> {meta['libstore_source_sha256_at_end']}); "
            "the rounds may have measured different code"
        )
    summary = summarize(bench.records, clients)
    infos: dict[str, Any] = {}
    for record in bench.records:
        if record.get("info") and record["client"] not in infos:
            infos[record["client"]] = record["info"]
    print("\nmeasured configurations:")
    for cid, info in infos.items():
        print(f"  {cid}: {json.dumps(info, default=str)}")
    table = render(summary, clients, settings)
    table += "\n" + "\n".join(textwrap.wrap(interference(bench.records), width=110))
    for note in notes:
        table += "\n" + "\n".join(textwrap.wrap(f"note: {note}", width=110))
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    out_path = args.out / f"bench-{bench.run_id}{'-quick' if quick else ''}.json"
    meta["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    out_path.write_text(
        json.dumps(
            {
                "meta": meta,
                "configurations": infos,
                "summary": summary,
                "records": bench.records,
                "table": table,
            },
            indent=1,
            default=str,
        )
    )
    print(f"\nraw results: {out_path}")
    failed = [r for r in bench.records if not r.get("ok") and not r.get("skipped")]
    if failed:
        print(f"{len(failed)} measurement(s) FAILED; see the table and the JSON")
    return exit_code


def profile_mode(
    bench: Bench, clients: list[ClientSpec], scenarios: Sequence[str], args: argparse.Namespace
) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    for scenario in scenarios:
        for client in clients:
            if scenario not in client.scenarios:
                continue
            path = (
                args.out / f"profile-{client.id.replace('@', '-')}-{scenario}-{bench.run_id}.pstats"
            )
            result = bench.measure(client, scenario, 0, 0, profile=str(path))
            print(f"\n### {client.id} {scenario} ({args.profile_clock} clock): {_one_line(result)}")
            if path.exists():
                print(show_profile(path, args.top))
                print(f"  (full profile: {path}; open with python -m pstats or snakeviz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
