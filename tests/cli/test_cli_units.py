"""Small pieces of the CLI that are easier to check directly than through a subprocess."""

from __future__ import annotations

import os

import pytest

from libstore import InvalidObjectNameError
from libstore.cli._entries import Filters, local_target
from libstore.cli._errors import classify, describe
from libstore.cli._urls import FileLoc, Resolver, Settings, StdioLoc, StoreLoc


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "..", "a/..", "x\x00y", "/", ""])
def test_object_names_never_leave_the_destination(tmp_path: object, name: str) -> None:
    with pytest.raises(InvalidObjectNameError):
        local_target(str(tmp_path), name)


def test_object_names_map_below_the_destination() -> None:
    assert local_target("/r", "a/b.txt") == os.path.join("/r", "a", "b.txt")
    assert local_target("/r", "/abs//x/./y") == os.path.join("/r", "abs", "x", "y")


def test_filters_last_match_wins() -> None:
    rules = Filters([("exclude", "*"), ("include", "*.gz"), ("exclude", "old/*")])
    assert rules.allows("a.gz") and rules.allows("logs/b.gz")
    assert not rules.allows("a.txt") and not rules.allows("old/c.gz")
    assert Filters(None).allows("anything")


def test_parse_locations() -> None:
    resolver = Resolver(Settings(), environ={})
    assert resolver.parse("-") == StdioLoc()
    loc = resolver.parse("s3://bucket/dir/key with space")
    assert isinstance(loc, StoreLoc)
    assert (loc.scheme, loc.container, loc.key) == ("s3", "bucket", "dir/key with space")
    assert resolver.parse("file:///tmp/a%20b/") == FileLoc("file:///tmp/a%20b/", "/tmp/a b/", True)
    assert resolver.parse("plain:name") == FileLoc("plain:name", "plain:name", False)
    assert resolver.parse("C:\\x").path == "C:\\x"


def test_every_exception_has_a_code_and_one_line() -> None:
    for exc, code in [
        (FileNotFoundError(2, "No such file", "x"), 3),
        (PermissionError(13, "Permission denied", "x"), 4),
        (NotADirectoryError(20, "Not a directory", "x"), 2),
        (KeyboardInterrupt(), 130),
        (RuntimeError("boom\nsecond line"), 1),
    ]:
        assert classify(exc) == code
        assert "\n" not in describe(exc)
