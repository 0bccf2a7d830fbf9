"""The documentation's code and the contrib example scripts stay runnable.

``tox -e docs`` executes every ``testcode`` block against the local driver (Sphinx's
doctest builder); the blocks shown but not run (``code-block:: python``, which need a
real S3 endpoint) are at least compiled here, so a syntax slip fails the tests too.
The example backup scripts run end to end against the local driver.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONTRIB = ROOT / "contrib"
# A block may sit in a list-table cell ("   * - .. code-block:: python").
_BLOCK = re.compile(r"^(?P<indent>[ *\-]*)\.\. (?:code-block:: python|testcode::)[^\n]*\n", re.M)


def _python_blocks() -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    for page in sorted(DOCS.rglob("*.rst")):
        if "_build" in page.parts:
            continue
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            indent = len(match["indent"])
            lines: list[str] = []
            for line in text[match.end() :].splitlines():
                if line.strip() and len(line) - len(line.lstrip()) <= indent:
                    break
                if not lines and line.strip().startswith(":"):
                    continue  # a directive option
                lines.append(line)
            code = textwrap.dedent("\n".join(lines)).strip("\n")
            line_no = text[: match.start()].count("\n") + 1
            blocks.append((f"{page.relative_to(DOCS)}:{line_no}", code))
    return blocks


BLOCKS = _python_blocks()


def test_the_docs_have_python_examples() -> None:
    assert len(BLOCKS) > 40


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_python_blocks_compile(where: str, code: str) -> None:
    assert code, f"empty code block at {where}"
    compile(code, where, "exec")


def test_every_guide_page_is_in_a_toctree() -> None:
    index = (DOCS / "guide" / "index.rst").read_text()
    for page in (DOCS / "guide").glob("*.rst"):
        if page.stem != "index":
            assert f"   {page.stem}\n" in index, page.stem


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CONTRIB / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_backup_sync_uploads_only_changes(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub" / "b.txt").write_text("beta")
    store = ["--store", str(tmp_path / "store")]

    first = _run("backup_sync.py", str(source), "bk", *store, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 uploaded" in first.stdout
    again = _run("backup_sync.py", str(source), "bk", *store, cwd=tmp_path)
    assert "0 uploaded (0 bytes), 2 unchanged" in again.stdout

    (source / "a.txt").unlink()
    (source / "sub" / "b.txt").write_text("beta, edited")
    third = _run("backup_sync.py", str(source), "bk", "--delete", *store, cwd=tmp_path)
    assert "1 uploaded" in third.stdout and "1 deleted" in third.stdout
    assert (tmp_path / "store" / "bk" / "sub" / "b.txt").read_text() == "beta, edited"
    assert not (tmp_path / "store" / "bk" / "a.txt").exists()


def test_backup_snapshots_retention_and_verified_restore(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "dump.sql").write_text("create table t;\n")
    store = ["--store", str(tmp_path / "store")]
    for _ in range(3):
        made = _run("backup_snapshots.py", "backup", str(source), "snaps", "--keep", "2",
                    *store, cwd=tmp_path)  # fmt: skip
        assert made.returncode == 0, made.stderr
    listed = _run("backup_snapshots.py", "list", "snaps", *store, cwd=tmp_path)
    assert len(listed.stdout.split()) == 2
    restored = _run("backup_snapshots.py", "restore", "snaps", str(tmp_path / "out"), *store,
                    cwd=tmp_path)  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (tmp_path / "out" / "dump.sql").read_text() == "create table t;\n"


def test_backup_snapshots_detects_a_corrupted_file(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.bin").write_bytes(b"original")
    store = ["--store", str(tmp_path / "store")]
    assert (
        _run("backup_snapshots.py", "backup", str(source), "s", *store, cwd=tmp_path).returncode
        == 0
    )
    # Swap the stored file for another of the same size behind libstore's back.
    for stored in (tmp_path / "store" / "s").rglob("f.bin"):
        stored.write_bytes(b"tampered")
    restored = _run("backup_snapshots.py", "restore", "s", str(tmp_path / "out"), *store,
                    cwd=tmp_path)  # fmt: skip
    assert restored.returncode != 0
