"""Every command, end to end, as a user runs it.

These tests take a ``store`` fixture: a bucket of the local driver here, and of a
real SeaweedFS in ``tests/integration/test_cli_s3.py``, which runs them again.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from clikit import (
    CLI,
    MiB,
    Store,
    assert_error,
    iter_json_lines,
    partial_files,
    random_feed,
    run_measured,
    sample_files,
    tree_digest,
    write_tree,
)

# -- buckets and listing ----------------------------------------------------------------------


def test_mb_ls_rb(store: Store) -> None:
    cli, scheme = store.cli, store.scheme
    name = store.bucket + "-extra"
    assert cli.ok("mb", f"{scheme}://{name}").stdout.strip() == f"make_bucket: {scheme}://{name}"
    buckets = cli.ok("ls", "--json", f"{scheme}://").records()
    assert {"type": "bucket", "name": name}.items() <= next(
        r for r in buckets if r["name"] == name
    ).items()
    assert name in cli.ok("ls", f"{scheme}://").stdout
    assert_error(cli.run("mb", f"{scheme}://{name}"), 1, "already exists")
    assert cli.ok("mb", "--exist-ok", f"{scheme}://{name}").code == 0
    cli.ok("cp", "-", f"{scheme}://{name}/x", input=b"x")
    assert_error(cli.run("rb", f"{scheme}://{name}"), 1, "not empty")
    assert (
        cli.ok("rb", "--force", f"{scheme}://{name}")
        .stdout.strip()
        .endswith(f"remove_bucket: {scheme}://{name}")
    )
    assert_error(cli.run("ls", f"{scheme}://{name}"), 3, name)
    assert_error(cli.run("rb", f"{scheme}://{name}"), 3)


def test_ls_levels_recursive_long_summary(store: Store) -> None:
    cli = store.cli
    for key in ("top.txt", "dir/a.txt", "dir/sub/b.txt", "dirx.txt"):
        cli.ok("cp", "-", store.url(key), input=key.encode())
    lines = cli.ok("ls", store.url()).stdout.splitlines()
    assert [line.split()[-1] for line in lines] == ["dir/", "dirx.txt", "top.txt"]
    assert lines[0].split() == ["PRE", "dir/"]
    lines = cli.ok("ls", store.url("dir/")).stdout.splitlines()
    assert [line.split()[-1] for line in lines] == ["a.txt", "sub/"] or [
        line.split()[-1] for line in lines
    ] == ["sub/", "a.txt"]
    recursive = cli.ok("ls", "-r", "-l", "--summarize", store.url()).stdout
    md5 = hashlib.md5(b"dir/sub/b.txt").hexdigest()
    assert md5 in recursive and "dir/sub/b.txt" in recursive
    assert "Total Objects: 4" in recursive
    records = cli.ok("ls", "-r", "--json", store.url("dir")).records()
    assert [r["key"] for r in records] == ["dir/a.txt", "dir/sub/b.txt", "dirx.txt"]
    assert all(r["size"] == len(r["key"]) for r in records)
    assert_error(cli.run("ls", store.url("nothing-here")), 3, "no objects")


# -- cp, cat, stat, mv ------------------------------------------------------------------------


def test_cp_file_up_and_down(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    data = os.urandom(2 * MiB + 3)
    (cli.cwd / "report.bin").write_bytes(data)
    result = cli.ok("cp", "report.bin", store.url("2026/"))
    assert result.stdout.strip() == f"upload: report.bin to {store.url('2026/report.bin')}"
    assert result.stderr == ""  # no terminal: no progress display
    cli.ok(
        "cp",
        "--content-type",
        "application/x-test",
        "--metadata",
        "host=db1",
        "report.bin",
        store.url("2026/meta.bin"),
    )
    out = tmp_path / "down"
    out.mkdir()
    cli.ok("cp", store.url("2026/report.bin"), str(out))
    assert (out / "report.bin").read_bytes() == data
    cli.ok("cp", store.url("2026/report.bin"), str(out / "new" / "renamed.bin"))
    assert (out / "new" / "renamed.bin").read_bytes() == data
    code, stdout, stderr = cli.run_bytes("cat", store.url("2026/report.bin"))
    assert code == 0 and stdout == data and stderr == ""
    code, stdout, _ = cli.run_bytes("cp", store.url("2026/report.bin"), "-")
    assert code == 0 and stdout == data
    code, stdout, _ = cli.run_bytes("cat", store.url("2026/report.bin"), "report.bin")
    assert code == 0 and stdout == data + data
    info = cli.ok("stat", "--json", store.url("2026/meta.bin")).records()[0]
    assert info["size"] == len(data)
    assert info["content_type"] == "application/x-test"
    mtime = (cli.cwd / "report.bin").stat().st_mtime
    assert info["meta_data"]["host"] == "db1"
    assert abs(float(info["meta_data"]["mtime"]) - mtime) < 1e-5  # the file's time, recorded
    assert abs((out / "report.bin").stat().st_mtime - mtime) < 1e-5  # and restored
    assert info["key"] == "2026/meta.bin"
    human = cli.ok("stat", store.url("2026/meta.bin")).stdout
    assert "Metadata:" in human and "host=db1" in human and f"{len(data)}" in human
    assert cli.ok("stat", "--json", store.url()).records()[0]["type"] == "bucket"
    assert_error(cli.run("stat", store.url("2026/missing")), 3)


def test_store_to_store_copy_and_mv(store: Store) -> None:
    cli = store.cli
    data = os.urandom(6 * MiB + 5)  # several parts when streamed
    cli.ok("cp", "-", store.url("src/blob"), input=data)
    cli.ok("cp", store.url("src/blob"), store.url("copy/blob"))
    assert cli.run_bytes("cat", store.url("copy/blob"))[1] == data
    result = cli.ok("mv", "--json", store.url("copy/blob"), store.url("moved/"))
    record = result.records()[0]
    assert record["action"] == "move" and record["status"] == "ok"
    assert record["destination"] == store.url("moved/blob")
    assert store.keys() == ["moved/blob", "src/blob"]
    assert_error(cli.run("cp", store.url("src/blob"), store.url("src/blob")), 2, "same")
    # local files move too
    (cli.cwd / "f.txt").write_bytes(b"file")
    cli.ok("mv", "f.txt", store.url("files/"))
    assert not (cli.cwd / "f.txt").exists()
    assert cli.run_bytes("cat", store.url("files/f.txt"))[1] == b"file"


def test_cp_recursive_with_filters_and_back(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    src = tmp_path / "tree"
    files = sample_files()
    write_tree(src, files)
    result = cli.ok("cp", "-r", "--json", "--exclude", "*.tmp", str(src), store.url("t"))
    records = result.records()
    summary = records[-1]
    assert summary["action"] == "summary" and summary["failed"] == 0
    assert summary["done"] == len(files) - 1
    assert {r["destination"] for r in records[:-1]} == {
        store.url("t/" + name) for name in files if not name.endswith(".tmp")
    }
    back = tmp_path / "back"
    cli.ok("cp", "-r", store.url("t/"), str(back))
    expected = {k: v for k, v in tree_digest(src).items() if not k.endswith(".tmp")}
    assert tree_digest(back) == expected
    only = tmp_path / "only"
    cli.ok(
        "cp",
        "-r",
        "--include",
        "docs/*",
        "--exclude",
        "*",
        "--include",
        "docs/*",
        store.url("t"),
        str(only),
    )
    assert sorted(tree_digest(only)) == sorted(n for n in files if n.startswith("docs/"))


def test_rm_single_recursive_dry_run(store: Store) -> None:
    cli = store.cli
    for key in ("keep.txt", "logs/a.gz", "logs/b.gz", "logs/c.txt"):
        cli.ok("cp", "-", store.url(key), input=b"data")
    plan = cli.ok("rm", "-r", "--dry-run", "--json", store.url("logs/")).records()
    assert {r["source"] for r in plan} == {
        store.url(k) for k in ("logs/a.gz", "logs/b.gz", "logs/c.txt")
    }
    assert all(r["status"] == "dry-run" for r in plan)
    assert len(store.keys()) == 4
    cli.ok("rm", "-r", "--force", "--include", "*.gz", "--exclude", "*.txt", store.url("logs"))
    assert store.keys() == ["keep.txt", "logs/c.txt"]
    assert cli.ok("rm", store.url("keep.txt")).stdout.strip() == f"delete: {store.url('keep.txt')}"
    assert_error(cli.run("rm", store.url("keep.txt")), 3)
    assert_error(cli.run("rm", store.url()), 2, "rm -r")
    cli.ok("rm", "-r", store.url())  # not a terminal: no question asked
    assert store.keys() == []


def test_presign(store: Store) -> None:
    cli = store.cli
    cli.ok("cp", "-", store.url("p.txt"), input=b"presigned!")
    if store.scheme == "local":
        assert_error(cli.run("presign", store.url("p.txt")), 2, "not")
        return
    url = cli.ok("presign", "--expires", "120", store.url("p.txt")).stdout.strip()
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Expires=120" in url
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as reply:
        assert reply.read() == b"presigned!"
    record = cli.ok("presign", "--json", store.url("p.txt")).records()[0]
    assert record["expires_in"] == 3600 and record["presigned_url"].startswith("http://")
    assert_error(cli.run("presign", "--expires", "604801", store.url("p.txt")), 2, "7 days")


# -- streaming --------------------------------------------------------------------------------


def test_pipe_100_mib_bounded_memory(store: Store) -> None:
    """``head -c 100M /dev/urandom | libstore cp - URL`` and back, peak RSS < 150 MiB."""
    size = 100 * MiB
    up = run_measured(store.cli, ["cp", "-", store.url("pipe.bin")], feed=random_feed(size))
    assert up.code == 0, up.stderr
    assert up.size == size
    down = run_measured(store.cli, ["cp", store.url("pipe.bin"), "-"])
    assert down.code == 0, down.stderr
    assert (down.size, down.sha256) == (size, up.sha256)
    print(
        f"\n[{store.backend}] 100 MiB pipe: up {up.seconds:.1f}s"
        f" peak RSS {up.peak_rss_mib:.0f} MiB; down {down.seconds:.1f}s"
        f" peak RSS {down.peak_rss_mib:.0f} MiB"
    )
    assert up.peak_rss_mib < 150, up
    assert down.peak_rss_mib < 150, down


def test_broken_pipe_is_quiet(store: Store) -> None:
    store.cli.ok("cp", "-", store.url("big"), input=os.urandom(3 * MiB))
    proc = subprocess.run(
        f"{' '.join(CLI)} cat {store.url('big')} | head -c 10 > /dev/null; "
        'echo "${PIPESTATUS[0]}"',
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        cwd=store.cli.cwd,
        env=store.cli.env,
        timeout=60,
    )
    assert proc.stdout.decode().strip() == "141"
    assert proc.stderr == b""


# -- sync -------------------------------------------------------------------------------------


def _actions(records: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {
        (r["action"], r.get("reason"), str(r.get("destination") or r["source"]).rsplit("/", 1)[-1])
        for r in records
        if r.get("action") != "summary"
    }


def test_sync_additions_changes_deletions_and_dry_run(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    src = tmp_path / "src"
    write_tree(src, sample_files())
    first = cli.ok("sync", "--json", str(src), store.url("backup/")).records()
    assert first[-1]["transferred"] == len(sample_files()) and first[-1]["failed"] == 0
    again = cli.ok("sync", "--json", str(src), store.url("backup/")).records()
    assert again == [again[-1]] and again[-1]["transferred"] == 0  # nothing to do

    (src / "new.txt").write_bytes(b"new file\n")  # addition
    (src / "README.txt").write_bytes(b"changed, and longer than before\n")  # change
    (src / "empty.bin").unlink()  # deletion
    future = time.time() + 120  # same size, newer time: a change too
    (src / "odd/plus+percent%hash#.txt").write_bytes(b"ODD\n")
    os.utime(src / "odd/plus+percent%hash#.txt", (future, future))
    before = store.keys()

    plan = cli.ok("sync", "--json", "--dry-run", "--delete", str(src), store.url("backup/"))
    expected = {
        ("upload", "new", "new.txt"),
        ("upload", "size", "README.txt"),
        ("upload", "time", "plus+percent%hash#.txt"),
        ("delete", None, "empty.bin"),
    }
    assert _actions(plan.records()) == expected
    assert all(r["status"] == "dry-run" for r in plan.records())
    assert store.keys() == before  # the dry run changed nothing
    human = cli.ok("sync", "--dry-run", "--delete", str(src), store.url("backup/")).stdout
    assert human.count("(dry run) ") == 4

    applied = cli.ok("sync", "--json", "--delete", str(src), store.url("backup/")).records()
    assert _actions(applied) == expected
    assert applied[-1]["transferred"] == 3 and applied[-1]["deleted"] == 1
    assert (
        cli.ok("sync", "--json", "--delete", str(src), store.url("backup/")).records()[-1]["done"]
        == 0
    )

    restore = tmp_path / "restore"
    cli.ok("sync", store.url("backup/"), str(restore))
    assert tree_digest(restore) == tree_digest(src)
    # store -> directory: extra files go with --delete, changed ones come back
    (restore / "extra.txt").write_bytes(b"extra")
    (restore / "new.txt").write_bytes(b"locally modified!\n")
    back = cli.ok("sync", "--json", "--delete", store.url("backup/"), str(restore)).records()
    assert _actions(back) == {("download", "size", "new.txt"), ("delete", None, "extra.txt")}
    assert tree_digest(restore) == tree_digest(src)
    assert partial_files(restore) == []


def test_sync_checksum_and_size_only(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    src = tmp_path / "src"
    write_tree(src, {"a.txt": b"aaaa", "big.bin": os.urandom(12 * MiB + 1)})
    cli.ok("sync", str(src), store.url("c/"))
    # same sizes, content changed, times put back as they were: only --checksum sees it
    for name, data in (("a.txt", b"bbbb"), ("big.bin", None)):
        path = src / name
        st = path.stat()
        if data is None:
            raw = bytearray(path.read_bytes())
            raw[MiB] ^= 0xFF
            data = bytes(raw)
        path.write_bytes(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cli.ok("sync", "--json", str(src), store.url("c/")).records()[-1]["transferred"] == 0
    assert (
        cli.ok("sync", "--json", "--size-only", str(src), store.url("c/")).records()[-1][
            "transferred"
        ]
        == 0
    )
    records = cli.ok("sync", "--json", "--checksum", str(src), store.url("c/")).records()
    assert _actions(records) == {("upload", "checksum", "a.txt"), ("upload", "checksum", "big.bin")}
    again = cli.ok("sync", "--json", "--checksum", str(src), store.url("c/")).records()
    assert again[-1]["transferred"] == 0  # hashes (multipart ETags included) now agree
    out = tmp_path / "out"
    cli.ok("sync", "--checksum", store.url("c/"), str(out))
    assert tree_digest(out) == tree_digest(src)


def test_sync_jobs_and_store_to_store(store: Store, tmp_path: Path) -> None:
    cli = store.cli
    src = tmp_path / "src"
    write_tree(src, {f"f{i:02d}.bin": os.urandom(1000 + i) for i in range(24)})
    cli.ok("sync", "--jobs", "8", str(src), store.url("a/"))
    result = cli.ok("sync", "--json", "-j", "8", store.url("a/"), store.url("b/"))
    assert result.records()[-1]["transferred"] == 24
    assert all(r["action"] == "copy" for r in result.records()[:-1])
    out = tmp_path / "out"
    cli.ok("sync", store.url("b/"), str(out))
    assert tree_digest(out) == tree_digest(src)


def test_interrupted_sync_resumes(store: Store, tmp_path: Path) -> None:
    """SIGINT mid-sync: exit 130, one line, nothing partial; a rerun finishes the job."""
    cli = store.cli
    src = tmp_path / "src"
    count = 16
    write_tree(src, {f"part{i:02d}.bin": os.urandom(6 * MiB) for i in range(count)})
    proc = subprocess.Popen(
        [*CLI, "sync", "--json", "--jobs", "1", str(src), store.url("r/")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cli.cwd,
        env=cli.env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = next(iter_json_lines(proc.stdout, time.monotonic() + 120))
    assert first["status"] == "ok"
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    code = proc.wait(timeout=60)
    stderr = proc.stderr.read()
    assert code == 130, stderr
    assert stderr.strip().count("\n") == 0 and "interrupted" in stderr, stderr
    assert "Traceback" not in stderr
    done = store.keys("r/")
    assert 1 <= len(done) < count, (done, rest)
    for key in done:  # whatever is there under its final name is complete
        assert store.cli.run_bytes("cat", store.url(key))[1] == (src / key[2:]).read_bytes()
    summary = cli.ok("sync", "--json", str(src), store.url("r/")).records()[-1]
    assert summary["transferred"] == count - len(done) and summary["failed"] == 0
    out = tmp_path / "out"
    cli.ok("sync", store.url("r/"), str(out))
    assert tree_digest(out) == tree_digest(src)


def test_killed_download_leaves_nothing_partial(store: Store, tmp_path: Path) -> None:
    """SIGKILL mid-download: no file under its final name is partial; a rerun completes."""
    cli = store.cli
    src = tmp_path / "src"
    count = 10
    write_tree(src, {f"d{i:02d}.bin": os.urandom(8 * MiB) for i in range(count)})
    cli.ok("sync", "--jobs", "4", str(src), store.url("k/"))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*CLI, "sync", "--json", "--jobs", "2", store.url("k/"), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cli.cwd,
        env=cli.env,
    )
    assert proc.stdout is not None
    next(iter_json_lines(proc.stdout, time.monotonic() + 120))
    proc.kill()
    proc.wait(timeout=30)
    expected = tree_digest(src)
    finished = {k: v for k, v in tree_digest(out).items() if not k.endswith(".libstore-partial")}
    assert len(finished) < count
    for name, digest in finished.items():  # under a final name: complete, or not there
        assert digest == expected[name], name
    cli.ok("sync", "--delete", store.url("k/"), str(out))  # --delete also sweeps leftovers
    assert tree_digest(out) == expected
    assert partial_files(out) == []


# -- errors -----------------------------------------------------------------------------------


def test_bad_input_one_line_right_code_nothing_written(store: Store, tmp_path: Path) -> None:
    cli, scheme = store.cli, store.scheme
    (cli.cwd / "a.txt").write_bytes(b"a")
    cli.ok("cp", "-", store.url("obj"), input=b"object")
    before = store.keys()
    cases = [
        (["cp", "a.txt", f"{scheme}:/{store.bucket}/x"], 2, "malformed URL"),
        (["cp", "a.txt", f"{scheme}:{store.bucket}/x"], 2, "malformed URL"),
        (["cp", "a.txt", "ftp://bucket/x"], 2, "unknown URL scheme 'ftp'"),
        (["cp", "a.txt", f"{scheme}:///x"], 2, "no bucket"),
        (["cp", "a.txt", f"{scheme}://{store.bucket}-missing/x"], 3, "does not exist"),
        (["sync", str(cli.cwd), f"{scheme}://{store.bucket}-missing/"], 3, "does not exist"),
        (["ls", f"{scheme}://{store.bucket}-missing"], 3, "does not exist"),
        (["cp", "missing.txt", store.url("x")], 3, "missing.txt"),
        (["cp", store.url("missing"), "out.txt"], 3, "missing"),
        (["cp", "-r", store.url(), "a.txt"], 2, "is a file"),
        (["sync", store.url(), "a.txt"], 2, "is a file"),
        (["cp", store.url("obj"), "a.txt/inside"], 2, "is a file"),
        (["cp", store.url("obj"), "a.txt/"], 2, "is a file"),
        (["cp", str(cli.cwd), store.url("x")], 2, "-r"),
        (["cp", "-", "-"], 2, "both"),
        (["sync", "-", store.url()], 2, "'-'"),
        (["cp", "--jobs", "0", "a.txt", store.url("x")], 2, "at least 1"),
        (["cp", "a.txt"], 2, "required"),
        (["ls", "--bogus"], 2, "unrecognized"),
    ]
    for args, code, needle in cases:
        assert_error(cli.run(*args), code, needle)
    assert store.keys() == before
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["a.txt"]
    assert (cli.cwd / "a.txt").read_bytes() == b"a"
    json_error = cli.run("--json", "cp", store.url("missing"), "out.txt")
    assert json_error.code == 3
    record = json_error.records()[-1]
    assert record["status"] == "error" and record["error_kind"] == "not_found"
    assert record["exit_code"] == 3


def test_some_operations_failed_exit_1_with_summary(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_tree(src, {"good1.txt": b"1", "good2.txt": b"2"})
    bad = os.path.join(os.fsencode(src), b"bad-\xff.txt")  # not UTF-8: no object name
    with open(bad, "wb") as handle:
        handle.write(b"bad")
    result = store.cli.run("cp", "-r", "--json", str(src), store.url("p/"))
    assert result.code == 1, str(result)
    records = result.records()
    assert records[-1] == {**records[-1], "action": "summary", "done": 2, "failed": 1}
    errors = [r for r in records if r.get("status") == "error"]
    assert len(errors) == 1 and errors[0]["exit_code"] == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "1 of 3 operations failed" in lines[-1]
    assert store.keys("p/") == ["p/good1.txt", "p/good2.txt"]
