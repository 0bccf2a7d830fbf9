"""Helpers of the CLI tests: run ``libstore`` as a user does, in a subprocess.

Every run has a time bound; every loop here is bounded by count and by time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "libstore"]
MiB = 1024 * 1024

#: Environment variables never passed to the CLI under test.
_DROPPED_PREFIXES = ("AWS_", "LIBSTORE_")
_DROPPED = {
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "XDG_CONFIG_HOME",
}


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without AWS/libstore settings and proxies, with a private HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROPPED and not k.upper().startswith(_DROPPED_PREFIXES)
    }
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "100"
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never ask 169.254.169.254 for credentials
    env.update(extra or {})
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    args: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Standard output parsed as one JSON object per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (
            f"libstore {' '.join(self.args)} -> {self.code}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


class Cli:
    """Runs ``python -m libstore`` with a fixed environment and working directory."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        cwd.mkdir(parents=True, exist_ok=True)

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> Result:
        proc = subprocess.run(
            [*CLI, *args],
            input=input if input is not None else b"",
            capture_output=True,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            timeout=timeout,
        )
        return Result(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
            list(args),
        )

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.code == 0, str(result)
        return result

    def run_bytes(self, *args: str, timeout: float = 120) -> tuple[int, bytes, str]:
        proc = subprocess.run(
            [*CLI, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=self.cwd,
            env=self.env,
            timeout=timeout,
        )
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def assert_error(result: Result, code: int, *needles: str) -> str:
    """The command failed with ``code`` and exactly one clear line on stderr."""
    assert result.code == code, str(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line:\n{result}"
    line = lines[0]
    assert line.startswith("libstore: "), line
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


# -- trees ------------------------------------------------------------------------------------


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sample_files() -> dict[str, bytes]:
    return {
        "README.txt": b"libstore cli sample\n",
        "empty.bin": b"",
        "docs/notes with spaces.md": b"# notes\n" * 200,
        "docs/unicode-\u65e5\u672c.txt": "h\u00e9llo\n".encode() * 30,
        "data/random.bin": os.urandom(300_000),
        "deep/a/b/c/leaf.txt": b"leaf\n",
        "odd/plus+percent%hash#.txt": b"odd\n",
        "skip/me.tmp": b"temporary\n",
    }


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every regular file below ``root``."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def partial_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".libstore-partial")]


# -- pipes and resource use -------------------------------------------------------------------


@dataclass
class PipeRun:
    code: int
    peak_rss_mib: float
    seconds: float
    sha256: str
    size: int
    stderr: str


#: Runs the CLI as its child and writes the child's peak RSS (KiB) to argv[1]. A small
#: process in between matters: Linux carries the forking process's high-water mark
#: over ``exec`` into ``ru_maxrss``, so measuring a direct child of pytest would report
#: pytest's own size.
_RSS_WRAPPER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "os._exit(os.waitstatus_to_exitcode(status) & 0xFF)\n"
)


def run_measured(
    cli: Cli,
    args: list[str],
    *,
    feed: Callable[[Any], tuple[str, int]] | None = None,
    timeout: float = 240,
) -> PipeRun:
    """Run the CLI with stdin fed by ``feed`` (or stdout hashed); measure its peak RSS.

    ``feed(stdin)`` writes the input and returns its (sha256, size). Without it,
    standard output is read in bounded chunks and hashed.
    """
    started = time.monotonic()
    rss_file = cli.cwd / f".rss-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), *CLI, *args],
        stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if feed else subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cli.cwd,
        env=cli.env,
    )
    digest = hashlib.sha256()
    size = 0
    stderr_chunks: list[bytes] = []
    feeder_result: list[tuple[str, int]] = []

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for _ in range(100_000):
            data = proc.stderr.read(65536)
            if not data:
                return
            stderr_chunks.append(data)

    threads = [threading.Thread(target=drain_stderr, daemon=True)]
    if feed is not None:

        def run_feed() -> None:
            assert proc.stdin is not None
            try:
                feeder_result.append(feed(proc.stdin))
            except BrokenPipeError:
                feeder_result.append(("broken pipe", -1))
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()

        threads.append(threading.Thread(target=run_feed, daemon=True))
    for thread in threads:
        thread.start()
    deadline = started + timeout
    if feed is None:
        assert proc.stdout is not None
        for _ in range(10_000_000):
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("the CLI did not finish in time")
            data = proc.stdout.read(MiB)
            if not data:
                break
            digest.update(data)
            size += len(data)
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the CLI did not finish in time") from None
    seconds = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=30)
    if feed is not None:
        sha, size = feeder_result[0] if feeder_result else ("no input", -1)
    else:
        sha = digest.hexdigest()
    peak_kib = int(rss_file.read_text()) if rss_file.exists() else -1
    rss_file.unlink(missing_ok=True)
    return PipeRun(
        code,
        peak_kib / 1024,  # ru_maxrss is in KiB on Linux
        seconds,
        sha,
        size,
        b"".join(stderr_chunks).decode("utf-8", "replace"),
    )


def random_feed(total: int, chunk: int = MiB) -> Callable[[Any], tuple[str, int]]:
    """A feeder writing ``total`` random bytes, like ``head -c`` from ``/dev/urandom``."""

    def feed(stream: Any) -> tuple[str, int]:
        digest = hashlib.sha256()
        sent = 0
        for _ in range(total // chunk + 1):
            if sent >= total:
                break
            data = os.urandom(min(chunk, total - sent))
            stream.write(data)
            digest.update(data)
            sent += len(data)
        return digest.hexdigest(), sent

    return feed


# -- terminals --------------------------------------------------------------------------------


def run_in_pty(
    cli: Cli,
    args: list[str],
    *,
    answer: bytes | None = None,
    answer_after: bytes = b"",
    timeout: float = 120,
) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; return (code, output).

    When ``answer`` is given it is typed once ``answer_after`` appeared in the output.
    """
    master, slave = pty.openpty()
    with contextlib.suppress(OSError):
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [*CLI, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cli.cwd,
        env={**cli.env, "TERM": "xterm"},
        start_new_session=True,
    )
    os.close(slave)
    output = bytearray()
    answered = answer is None
    deadline = time.monotonic() + timeout
    try:
        for _ in range(1_000_000):
            if time.monotonic() > deadline:
                raise AssertionError(f"no exit in {timeout}s; output so far:\n{output.decode()}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                if not data and proc.poll() is not None:
                    break
                output += data
            elif proc.poll() is not None:
                # drain what is left
                with contextlib.suppress(OSError):
                    while select.select([master], [], [], 0.05)[0]:
                        data = os.read(master, 65536)
                        if not data:
                            break
                        output += data
                break
            if not answered and answer_after in output:
                assert answer is not None
                os.write(master, answer)
                answered = True
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        os.close(master)
    return code, output.decode("utf-8", "replace")


def iter_json_lines(stream: Any, deadline: float) -> Iterator[dict[str, Any]]:
    """JSON records read line by line from ``stream`` until EOF or the deadline."""
    for _ in range(1_000_000):
        if time.monotonic() > deadline:
            return
        line = stream.readline()
        if not line:
            return
        if line.strip():
            yield json.loads(line)


# -- stores -----------------------------------------------------------------------------------


@dataclass
class Store:
    """A bucket the tests may fill, on one backend, and a CLI configured for it."""

    backend: str
    scheme: str
    bucket: str
    cli: Cli
    tmp: Path

    def url(self, key: str = "") -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        result = self.cli.ok("ls", "-r", "--json", self.url(prefix))
        return sorted(r["key"] for r in result.records() if r.get("type") == "object")
