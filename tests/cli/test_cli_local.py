"""The command line itself: help, completion, terminals, signals, settings, local paths."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clikit import (
    CLI,
    Cli,
    MiB,
    Store,
    assert_error,
    iter_json_lines,
    run_in_pty,
    tree_digest,
    write_tree,
)

from libstore.cli._parser import COMMANDS

# -- help, version, entry points --------------------------------------------------------------


def test_help_on_every_command_has_examples(cli: Cli) -> None:
    top = cli.ok("--help").stdout
    for name in COMMANDS:
        assert name in top
    assert "exit codes:" in top and "examples:" in top
    for name in COMMANDS:
        result = cli.ok(name, "--help")
        assert "examples:" in result.stdout, name
        assert f"libstore {name}" in result.stdout, name
    assert cli.ok("--version").stdout.startswith("libstore ")
    assert_error(cli.run(), 2, "no command")


def test_console_script_and_module_entry_points(cli: Cli) -> None:
    script = shutil.which("libstore", path=os.path.dirname(sys.executable))
    assert script, "the libstore console script is not installed (pip install -e .)"
    proc = subprocess.run([script, "--version"], capture_output=True, timeout=60, env=cli.env)
    assert proc.returncode == 0 and proc.stdout.startswith(b"libstore ")
    from libstore.cli import main

    assert main(["--version"]) == 0


def test_bash_and_zsh_completion(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "libstore.bash"
    script.write_text(cli.ok("completion", "bash").stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        proc = subprocess.run(
            [
                "bash",
                "-c",
                f'source "{script}"; COMP_WORDS=(libstore {line}); '
                f"COMP_CWORD={len(words)}; _libstore; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=cli.cwd,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert set(complete("c")) == {"cp", "cat", "completion"}
    assert "--delete" in complete("sync", "--d") and "--dry-run" in complete("sync", "--d")
    assert "--checksum" not in complete("cp", "--c")
    assert "s3://" in complete("--region", "eu-west-1", "ls", "s")
    assert complete("completion", "z") == ["zsh"]
    zsh = cli.ok("completion", "zsh").stdout
    assert zsh.startswith("#compdef libstore") and "bashcompinit" in zsh
    assert subprocess.run(["bash", "-n", str(script)], timeout=30).returncode == 0


# -- terminals --------------------------------------------------------------------------------


def test_progress_bars_on_a_terminal(store: Store) -> None:
    cli = store.cli
    big = cli.cwd / "big.bin"
    with big.open("wb") as handle:
        for _ in range(96):
            handle.write(os.urandom(MiB))
    code, output = run_in_pty(cli, ["cp", "big.bin", store.url("big.bin")])
    assert code == 0, output
    assert "\x1b[" in output  # drawn and redrawn in place
    bars = [line for line in re.split(r"[\r\n]|\x1b\[[0-9;]*[A-Za-z]", output) if "ETA" in line]
    assert bars, output
    bar = re.compile(r"\[[#-]+\]\s+\d+\.\d% \S+ \S+/96\.0 MiB \S+ \S+/s ETA (--:--|\d\d:\d\d)")
    assert any(bar.search(b) for b in bars), bars
    assert any(b.startswith("Total") for b in bars), bars
    assert f"upload: big.bin to {store.url('big.bin')}" in output
    # several transfers: one line each plus the total
    for i in range(3):
        shutil.copy(big, cli.cwd / f"copy{i}.bin")
    code, output = run_in_pty(cli, ["cp", "-r", "--jobs", "3", str(cli.cwd), store.url("r/")])
    assert code == 0, output
    assert re.search(r"Total \d/4 files", output), output
    # --quiet and --json: no bars even on a terminal; a pipe: no bars either
    code, output = run_in_pty(cli, ["cp", "--quiet", "big.bin", store.url("q.bin")])
    assert code == 0 and output.strip() == "", output
    code, output = run_in_pty(cli, ["cp", "--json", "big.bin", store.url("j.bin")])
    assert code == 0 and "ETA" not in output and '"status": "ok"' in output
    result = cli.ok("cp", "big.bin", store.url("p.bin"))
    assert result.stderr == "" and "\x1b" not in result.stdout


def test_recursive_rm_asks_on_a_terminal(store: Store) -> None:
    cli = store.cli
    for key in ("d/a", "d/b"):
        cli.ok("cp", "-", store.url(key), input=b"x")
    code, output = run_in_pty(
        cli, ["rm", "-r", store.url("d/")], answer=b"n\n", answer_after=b"[y/N]"
    )
    assert code == 1 and "delete 2 object(s)" in output and "nothing was deleted" in output
    assert store.keys() == ["d/a", "d/b"]
    code, output = run_in_pty(
        cli, ["rm", "-r", store.url("d/")], answer=b"y\n", answer_after=b"[y/N]"
    )
    assert code == 0, output
    assert store.keys() == []
    cli.ok("cp", "-", store.url("d/c"), input=b"x")
    code, output = run_in_pty(cli, ["rm", "-r", "--force", store.url("d/")])
    assert code == 0 and "[y/N]" not in output


# -- signals ----------------------------------------------------------------------------------


def test_sigterm_stops_cleanly(store: Store) -> None:
    cli = store.cli
    src = cli.cwd / "src"
    write_tree(src, {f"f{i}.bin": os.urandom(6 * MiB) for i in range(12)})
    proc = subprocess.Popen(
        [*CLI, "sync", "--json", "-j", "1", str(src), store.url("t/")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cli.cwd,
        env=cli.env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    next(iter_json_lines(proc.stdout, time.monotonic() + 120))
    proc.send_signal(signal.SIGTERM)
    proc.stdout.read()
    assert proc.wait(timeout=60) == 143
    assert "interrupted" in proc.stderr.read()
    assert [
        p
        for p in (Path(cli.env["LIBSTORE_LOCAL_ROOT"]) / "bucket").rglob("*")
        if p.is_file() and p.stat().st_size != 6 * MiB
    ] == []


# -- settings and paths -----------------------------------------------------------------------


def test_local_root_flag_config_environment(cli: Cli, tmp_path: Path) -> None:
    roots = {name: tmp_path / name for name in ("flag", "config", "env")}
    for name, root in roots.items():
        root.mkdir()
        cli.ok("mb", f"local://from-{name}", "--local-root", str(root))
    config = tmp_path / "config.toml"
    config.write_text(f'[default]\nlocal_root = "{roots["config"]}"\n[other]\nregion = "x"\n')
    env = {"LIBSTORE_LOCAL_ROOT": str(roots["env"])}
    assert "from-env" in cli.ok("ls", "local://", env=env).stdout
    with_config = {**env, "LIBSTORE_CONFIG": str(config)}
    assert "from-config" in cli.ok("ls", "local://", env=with_config).stdout
    listing = cli.ok("ls", "local://", "--local-root", str(roots["flag"]), env=with_config).stdout
    assert "from-flag" in listing
    # config files live in the XDG place by default
    xdg = Path(cli.env["HOME"]) / ".config" / "libstore"
    xdg.mkdir(parents=True)
    shutil.copy(config, xdg / "config.toml")
    assert "from-config" in cli.ok("ls", "local://", env=env).stdout
    (xdg / "config.toml").unlink()
    # --profile names a table of the config file, or else an AWS profile (for S3 URLs)
    assert_error(cli.run("ls", "s3://bucket", "--profile", "missing", env=env), 2, "missing")
    config.write_text("[default]\nbogus = 1\n")  # the SDK's configuration checks the keys
    assert_error(cli.run("ls", "s3://bucket", env=with_config), 2, "bogus")
    config.write_text("not toml [")
    assert_error(cli.run("ls", "local://", env=with_config), 2, "TOML")
    assert_error(cli.run("ls", "local://", "--config", str(tmp_path / "none.toml")), 3)
    no_root = {k: v for k, v in cli.env.items() if k != "LIBSTORE_LOCAL_ROOT"}
    result = Cli(no_root, cli.cwd).run("ls", "local://")
    assert_error(result, 2, "--local-root")
    assert_error(cli.run("ls", "local://", "--local-root", str(tmp_path / "nowhere")), 3)


def test_file_urls_local_copies_and_stdin(cli: Cli, store: Store, tmp_path: Path) -> None:
    src = tmp_path / "with space"
    write_tree(src, {"a.txt": b"alpha", "sub/b.txt": b"beta"})
    url = "file://" + str(src).replace(" ", "%20")
    cli.ok("cp", f"{url}/a.txt", store.url("a.txt"))
    assert cli.ok("cat", store.url("a.txt")).stdout == "alpha"
    cli.ok("cp", "-r", url, str(tmp_path / "copy"))  # directory to directory
    assert tree_digest(tmp_path / "copy") == tree_digest(src)
    cli.ok("cp", "-", str(tmp_path / "from-stdin.txt"), input=b"piped")
    assert (tmp_path / "from-stdin.txt").read_bytes() == b"piped"
    assert cli.ok("cp", str(src / "a.txt"), "-").stdout == "alpha"
    assert cli.ok("cat", str(src / "sub/b.txt")).stdout == "beta"
    assert_error(cli.run("cp", "file://host/x", store.url("x")), 2, "file://")
    listing = cli.ok("ls", "-r", str(src)).stdout
    assert "a.txt" in listing and "sub/b.txt" in listing


def test_debug_tracebacks_only_with_debug(store: Store) -> None:
    cli = store.cli
    plain = cli.run("cat", store.url("missing"))
    assert_error(plain, 3)
    debug = cli.run("--debug", "cat", store.url("missing"))
    assert debug.code == 3 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("libstore: not found:")


@pytest.mark.parametrize("position", ["before", "after"])
def test_global_options_before_or_after_the_command(store: Store, position: str) -> None:
    store.cli.ok("cp", "-", store.url("x"), input=b"x")
    args = ["--json", "ls", store.url()] if position == "before" else ["ls", store.url(), "--json"]
    assert store.cli.ok(*args).records()[0]["key"] == "x"
