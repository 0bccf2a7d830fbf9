"""Tests of the local-filesystem driver, through ``get_driver(Provider.LOCAL)``."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libstore import (
    AccessDeniedError,
    Container,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidObjectNameError,
    InvalidRangeError,
    LibstoreError,
    Object,
    ObjectDoesNotExistError,
    ObjectHashMismatchError,
    PreconditionFailedError,
    Provider,
    StorageDriver,
    get_driver,
)

MiB = 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def snapshot(root: Path, skip: str | None = None) -> dict[str, bytes | None]:
    """Every entry under ``root``: files map to their bytes, directories to None."""
    result: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if skip is not None and (rel == skip or rel.startswith(skip + "/")):
            continue
        if path.is_symlink():
            result[rel] = b"<symlink>"
        elif path.is_dir():
            result[rel] = None
        else:
            result[rel] = path.read_bytes()
    return result


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def driver(base: Path) -> StorageDriver:
    return get_driver(Provider.LOCAL)(str(base))


@pytest.fixture
def container(driver: StorageDriver) -> Container:
    return driver.create_container("box")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store that nothing may ever touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_bytes(b"top secret")
    return path


def temp_files(base: Path) -> list[str]:
    tmp = base / ".libstore" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def sidecars(base: Path) -> list[Path]:
    meta = base / ".libstore" / "meta"
    return sorted(meta.rglob("*.json")) if meta.exists() else []


def read_all(driver: StorageDriver, obj: Object, chunk_size: int | None = None) -> bytes:
    return b"".join(driver.download_object_as_stream(obj, chunk_size))


# -- constructor --------------------------------------------------------------------------------


def test_driver_is_registered_and_repr_shows_base(base: Path) -> None:
    cls = get_driver(Provider.LOCAL)
    assert cls.__name__ == "LocalStorageDriver"
    driver = cls(str(base))
    assert driver.name == "Local Storage"
    assert repr(driver) == f"<LocalStorageDriver: base_path={str(base.resolve())!r}>"


def test_libcloud_positional_arguments_and_pathlike_are_accepted(base: Path) -> None:
    cls = get_driver(Provider.LOCAL)
    driver = cls(base, "ignored-secret", False, "ignored-host", 1234)
    driver.create_container("c")
    assert (base / "c").is_dir()


def test_missing_base_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LibstoreError, match="does not exist"):
        get_driver(Provider.LOCAL)(str(tmp_path / "nope"))


def test_base_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LibstoreError, match="not a directory"):
        get_driver(Provider.LOCAL)(str(tmp_path / "file"))


@pytest.mark.parametrize("key", [b"/tmp", 42, ""])
def test_base_must_be_a_text_path(key: Any) -> None:
    with pytest.raises(LibstoreError):
        get_driver(Provider.LOCAL)(key)


# -- containers ---------------------------------------------------------------------------------


def test_container_crud_round_trip(driver: StorageDriver, base: Path) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    created = driver.create_container("photos")
    assert created.name == "photos"
    assert (base / "photos").is_dir()
    fetched = driver.get_container("photos")
    assert fetched == created
    stamp = fetched.extra["creation_time"]
    assert stamp.tzinfo is not None
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=5)
    assert [c.name for c in driver.list_containers()] == ["photos"]
    assert driver.delete_container(fetched) is True
    assert not (base / "photos").exists()
    assert driver.list_containers() == []


def test_list_containers_sorted_and_skips_non_containers(
    driver: StorageDriver, base: Path, outside: Path
) -> None:
    for name in ["zeta", "Alpha", "é-accent", "beta"]:
        driver.create_container(name)
    (base / ".hidden").mkdir()
    (base / "a-file").write_bytes(b"x")
    (base / "linked").symlink_to(outside)
    names = [c.name for c in driver.iterate_containers()]
    assert names == sorted(["zeta", "Alpha", "é-accent", "beta"], key=lambda n: n.encode())
    assert names == ["Alpha", "beta", "zeta", "é-accent"]


def test_create_existing_container_raises(driver: StorageDriver) -> None:
    driver.create_container("dup")
    with pytest.raises(ContainerAlreadyExistsError) as info:
        driver.create_container("dup")
    assert info.value.container_name == "dup"


def test_name_taken_by_a_file_is_not_a_container(driver: StorageDriver, base: Path) -> None:
    (base / "plain").write_bytes(b"data")
    with pytest.raises(ContainerDoesNotExistError, match="not a directory"):
        driver.get_container("plain")
    with pytest.raises(ContainerAlreadyExistsError, match="not a container"):
        driver.create_container("plain")
    assert (base / "plain").read_bytes() == b"data"


def test_missing_container_errors(driver: StorageDriver) -> None:
    with pytest.raises(ContainerDoesNotExistError) as info:
        driver.get_container("ghost")
    assert info.value.container_name == "ghost"
    with pytest.raises(ContainerDoesNotExistError):
        driver.delete_container(Container("ghost", None, driver))
    with pytest.raises(ContainerDoesNotExistError):
        driver.list_container_objects(Container("ghost", None, driver))
    with pytest.raises(ContainerDoesNotExistError):
        driver.upload_object_via_stream([b"x"], Container("ghost", None, driver), "k")
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_object("ghost", "k")


def test_delete_non_empty_container_refused(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"x"], "deep/er/file")
    with pytest.raises(ContainerIsNotEmptyError) as info:
        driver.delete_container(container)
    assert info.value.container_name == "box"
    assert "deep/er/file" in str(info.value)
    assert (base / "box" / "deep" / "er" / "file").read_bytes() == b"x"
    container.get_object("deep/er/file").delete()
    assert driver.delete_container(container) is True
    assert not (base / "box").exists()
    assert sidecars(base) == []


def test_container_with_only_empty_directories_can_be_deleted(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    (base / "box" / "a" / "b").mkdir(parents=True)
    (base / "box" / "c").mkdir()
    assert driver.delete_container(container) is True
    assert not (base / "box").exists()


def test_hand_made_file_keeps_container(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    (base / "box" / "notes.txt").write_bytes(b"mine")
    with pytest.raises(ContainerIsNotEmptyError):
        driver.delete_container(container)
    assert (base / "box" / "notes.txt").read_bytes() == b"mine"


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        ".hidden",
        ".libstore",
        "a/b",
        "a\\b",
        "a\x00b",
        "x" * 256,
        "é" * 128,
        "\udc80",
    ],
)
def test_invalid_container_names(driver: StorageDriver, base: Path, name: str) -> None:
    before = snapshot(base.parent)
    with pytest.raises(InvalidContainerNameError) as info:
        driver.create_container(name)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidContainerNameError):
        driver.get_container(name)
    with pytest.raises(InvalidContainerNameError):
        driver.upload_object_via_stream([b"x"], Container(name, None, driver), "k")
    with pytest.raises(InvalidContainerNameError):
        driver.get_object(name, "k")
    assert snapshot(base.parent) == before


def test_container_name_type_is_checked(driver: StorageDriver) -> None:
    with pytest.raises(InvalidContainerNameError, match="must be a str"):
        driver.create_container(42)  # type: ignore[arg-type]


def test_longest_container_name_is_accepted(driver: StorageDriver, base: Path) -> None:
    name = "é" * 127 + "x"  # 255 bytes of UTF-8
    driver.create_container(name)
    assert (base / name).is_dir()
    assert driver.get_container(name).name == name


# -- uploads ------------------------------------------------------------------------------------


def test_upload_object_from_file(
    driver: StorageDriver, container: Container, base: Path, tmp_path: Path
) -> None:
    data = os.urandom(MiB + 333)  # more than one copy chunk
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    obj = driver.upload_object(str(source), container, "backups/2026/notes.txt")
    assert obj.name == "backups/2026/notes.txt"
    assert obj.size == len(data)
    assert obj.hash == md5(data)
    assert obj.extra["etag"] == obj.extra["md5"] == md5(data)
    assert obj.extra["content_type"] == "text/plain"
    assert obj.extra["last_modified"].tzinfo is not None
    assert obj.container.name == "box"
    # The backup is a plain file a user can see with ls.
    assert (base / "box" / "backups" / "2026" / "notes.txt").read_bytes() == data
    assert temp_files(base) == []


def test_upload_object_accepts_pathlike_and_verify_hash_false(
    container: Container, tmp_path: Path
) -> None:
    source = tmp_path / "s.bin"
    source.write_bytes(b"abc")
    obj = container.upload_object(source, "s.bin", verify_hash=False)
    assert obj.hash == md5(b"abc")
    assert obj.extra["content_type"] == "application/octet-stream"


def test_upload_object_source_must_be_a_file(container: Container, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot upload"):
        container.upload_object(tmp_path / "missing", "k")
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        container.upload_object(tmp_path, "k")
    assert container.list_objects() == []


def test_metadata_round_trip(driver: StorageDriver, container: Container) -> None:
    extra = {
        "content_type": "application/x-custom",
        "meta_data": {"Owner": "alice", "purpose": "test"},
        "cache_control": "max-age=60",
        "content_disposition": 'attachment; filename="r.csv"',
        "content_encoding": "gzip",
        "content_language": "en",
        "expires": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        "acl": "private",
        "storage_class": "standard",
    }
    uploaded = container.upload_object_via_stream(
        [b"payload"], "r.csv", extra=extra, headers={"X-Ignored": "1"}
    )
    for obj in (uploaded, driver.get_object("box", "r.csv"), container.list_objects()[0]):
        assert obj.meta_data == {"owner": "alice", "purpose": "test"}
        assert obj.extra["content_type"] == "application/x-custom"
        assert obj.extra["cache_control"] == "max-age=60"
        assert obj.extra["content_disposition"] == 'attachment; filename="r.csv"'
        assert obj.extra["content_encoding"] == "gzip"
        assert obj.extra["content_language"] == "en"
        assert obj.extra["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert "acl" not in obj.extra
        assert "storage_class" not in obj.extra
        assert obj.hash == md5(b"payload")


def test_content_type_is_guessed_from_the_name(container: Container) -> None:
    assert container.upload_object_via_stream([b"{}"], "d/x.json").extra["content_type"] == (
        "application/json"
    )
    assert container.upload_object_via_stream([b"?"], "noext").extra["content_type"] == (
        "application/octet-stream"
    )


def test_overwrite_replaces_data_and_metadata(driver: StorageDriver, container: Container) -> None:
    container.upload_object_via_stream([b"old"], "k", extra={"meta_data": {"v": "1"}})
    container.upload_object_via_stream(
        [b"newer"], "k", extra={"content_type": "text/x-new", "meta_data": {"w": "2"}}
    )
    obj = driver.get_object("box", "k")
    assert read_all(driver, obj) == b"newer"
    assert obj.size == 5
    assert obj.hash == md5(b"newer")
    assert obj.meta_data == {"w": "2"}
    assert obj.extra["content_type"] == "text/x-new"
    assert [o.name for o in container.list_objects()] == ["k"]


def test_stream_with_uneven_empty_and_bytes_like_chunks(
    driver: StorageDriver, container: Container
) -> None:
    parts = [b"a", b"", bytearray(b"bcd"), memoryview(b"efghij"), b"", os.urandom(MiB + 5), b"z"]
    expected = b"".join(bytes(p) for p in parts)
    obj = container.upload_object_via_stream(iter(parts), "mixed.bin")
    assert obj.size == len(expected)
    assert obj.hash == md5(expected)
    assert read_all(driver, driver.get_object("box", "mixed.bin")) == expected


def test_empty_iterator_stores_an_empty_object(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    obj = container.upload_object_via_stream(iter([]), "empty")
    assert obj.size == 0
    assert obj.hash == md5(b"")
    assert (base / "box" / "empty").read_bytes() == b""
    assert read_all(driver, obj) == b""


def test_stream_from_file_like_object(driver: StorageDriver, container: Container) -> None:
    data = os.urandom(2 * MiB + 17)
    obj = container.upload_object_via_stream(io.BytesIO(data), "file-like")
    assert obj.hash == md5(data)
    assert read_all(driver, obj) == data


def test_stream_from_single_bytes_value(driver: StorageDriver, container: Container) -> None:
    obj = container.upload_object_via_stream(b"one shot", "single")
    assert read_all(driver, obj) == b"one shot"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(lambda: iter([b"ok", "text"]), id="str-chunk"),
        pytest.param(lambda: iter([b"ok", 7]), id="int-chunk"),
        pytest.param(lambda: "plain text", id="str-stream"),
        pytest.param(lambda: 42, id="not-iterable"),
        pytest.param(lambda: io.StringIO("text mode"), id="text-file"),
    ],
)
def test_non_bytes_stream_is_refused_and_nothing_committed(
    container: Container, base: Path, source: Any
) -> None:
    container.upload_object_via_stream([b"previous"], "k")
    before = snapshot(base)
    with pytest.raises(InvalidArgumentError) as info:
        container.upload_object_via_stream(source(), "k")
    assert isinstance(info.value, ValueError)
    assert snapshot(base) == before
    assert temp_files(base) == []


class Tracking:
    """An iterator that records whether anybody read from it."""

    def __init__(self) -> None:
        self.read = False

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        yield b"data"


@pytest.mark.parametrize(
    ("container_name", "name", "extra", "error"),
    [
        ("box", "../escape", None, InvalidObjectNameError),
        ("box", "fine", {"bogus": 1}, InvalidArgumentError),
        ("box", "fine", {"meta_data": {"bad name": "v"}}, InvalidArgumentError),
        ("box", "fine", {"content_type": "nonsense"}, InvalidArgumentError),
        ("box", "fine", {"acl": "everyone"}, InvalidArgumentError),
        ("ghost", "fine", None, ContainerDoesNotExistError),
    ],
)
def test_name_extra_and_container_checked_before_reading(
    driver: StorageDriver,
    container: Container,
    base: Path,
    container_name: str,
    name: str,
    extra: Any,
    error: type[Exception],
) -> None:
    before = snapshot(base)
    stream = Tracking()
    with pytest.raises(error):
        driver.upload_object_via_stream(
            stream, Container(container_name, None, driver), name, extra
        )
    assert stream.read is False
    assert snapshot(base) == before


class Boom(Exception):
    pass


def failing_stream(chunks: int) -> Iterator[bytes]:
    for _ in range(chunks):
        yield os.urandom(300 * 1024)
    raise Boom("source died")


def test_failure_mid_stream_leaves_no_new_object(
    driver: StorageDriver, container: Container, base: Path, tmp_path: Path
) -> None:
    container.upload_object_via_stream([b"other"], "other")  # internal dirs now exist
    before = snapshot(tmp_path)
    with pytest.raises(Boom):
        container.upload_object_via_stream(failing_stream(5), "new/deep/name.bin")
    assert snapshot(tmp_path) == before
    assert not (base / "box" / "new").exists()
    assert temp_files(base) == []
    with pytest.raises(ObjectDoesNotExistError):
        driver.get_object("box", "new/deep/name.bin")


def test_failure_mid_stream_keeps_previous_object(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"version one"], "k", extra={"meta_data": {"v": "1"}})
    before = snapshot(base)
    with pytest.raises(Boom):
        container.upload_object_via_stream(failing_stream(3), "k", {"meta_data": {"v": "2"}})
    assert snapshot(base) == before
    obj = driver.get_object("box", "k")
    assert obj.meta_data == {"v": "1"}
    assert read_all(driver, obj) == b"version one"


def test_object_file_directory_conflicts(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"file"], "a")
    container.upload_object_via_stream([b"nested"], "d/e")
    before = snapshot(base)
    with pytest.raises(InvalidObjectNameError, match="'a' is an object") as info:
        container.upload_object_via_stream([b"x"], "a/b")
    assert info.value.object_name == "a/b"
    assert info.value.container_name == "box"
    with pytest.raises(InvalidObjectNameError, match="directory holding other objects"):
        container.upload_object_via_stream([b"x"], "d")
    with pytest.raises(ObjectDoesNotExistError, match="directory"):
        driver.get_object("box", "d")
    assert snapshot(base) == before


def test_sidecars_of_tricky_neighbours_do_not_clash(
    driver: StorageDriver, container: Container
) -> None:
    # A naive "<name>.json" sidecar layout would need x.json as both file and directory.
    container.upload_object_via_stream([b"x"], "x", extra={"meta_data": {"n": "x"}})
    container.upload_object_via_stream([b"y"], "x.json/y", extra={"meta_data": {"n": "y"}})
    container.upload_object_via_stream([b"z"], "x.json.json", extra={"meta_data": {"n": "z"}})
    assert driver.get_object("box", "x").meta_data == {"n": "x"}
    assert driver.get_object("box", "x.json/y").meta_data == {"n": "y"}
    assert driver.get_object("box", "x.json.json").meta_data == {"n": "z"}


def test_partial_upload_is_invisible_to_readers(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow() -> Iterator[bytes]:
        yield b"first half "
        started.set()
        assert release.wait(30)
        yield b"second half"

    def run() -> None:
        try:
            container.upload_object_via_stream(slow(), "dir/slow.txt")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert started.wait(30)
        assert container.list_objects() == []
        with pytest.raises(ObjectDoesNotExistError):
            driver.get_object("box", "dir/slow.txt")
        assert not (base / "box" / "dir").exists()
        assert len(temp_files(base)) == 1
    finally:
        release.set()
        thread.join(30)
    assert not thread.is_alive()
    assert errors == []
    assert read_all(driver, driver.get_object("box", "dir/slow.txt")) == b"first half second half"
    assert temp_files(base) == []


# -- listing ------------------------------------------------------------------------------------


LISTED = ["b", "a-c", "a/b/c", "a/b0", "a0", "B", "é", "~", "a/é", "a/z", "Z/1", "a b"]


def test_listing_is_sorted_by_utf8_bytes(container: Container) -> None:
    for name in LISTED:
        container.upload_object_via_stream([name.encode()], name)
    names = [o.name for o in container.iterate_objects()]
    assert names == sorted(LISTED, key=lambda n: n.encode("utf-8"))
    assert names[:4] == ["B", "Z/1", "a b", "a-c"]
    assert names.index("a-c") < names.index("a/b/c") < names.index("a0")


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a/", ["a/b/c", "a/b0", "a/z", "a/é"]),
        ("a/b", ["a/b/c", "a/b0"]),
        ("a/b/", ["a/b/c"]),
        ("a", ["a b", "a-c", "a/b/c", "a/b0", "a/z", "a/é", "a0"]),
        ("é", ["é"]),
        ("zz", []),
        ("", sorted(LISTED, key=lambda n: n.encode("utf-8"))),
        (None, sorted(LISTED, key=lambda n: n.encode("utf-8"))),
    ],
)
def test_listing_prefix(container: Container, prefix: str | None, expected: list[str]) -> None:
    for name in LISTED:
        container.upload_object_via_stream([name.encode()], name)
    assert [o.name for o in container.list_objects(prefix=prefix)] == expected


def test_listing_prunes_directories_outside_the_prefix(
    container: Container, base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ["keep/1", "keep/2", "other/deep/3", "other/x"]:
        container.upload_object_via_stream([b"."], name)
    scanned: list[str] = []
    real_scandir = os.scandir

    def spy(path: Any) -> Any:
        scanned.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    assert [o.name for o in container.list_objects(prefix="keep/")] == ["keep/1", "keep/2"]
    box = str(base / "box")
    assert scanned == [box, os.path.join(box, "keep")]


def test_listing_skips_empty_dirs_symlinks_and_unnameable_files(
    driver: StorageDriver, container: Container, base: Path, outside: Path
) -> None:
    box = base / "box"
    (box / "empty" / "deeper").mkdir(parents=True)
    (box / "link-dir").symlink_to(outside)
    (box / "link-file").symlink_to(outside / "secret.txt")
    with open(os.path.join(os.fsencode(box), b"bad-\xff-name"), "wb") as handle:
        handle.write(b"not utf-8")
    container.upload_object_via_stream([b"real"], "real")
    assert [o.name for o in container.list_objects()] == ["real"]


def test_hand_written_files_are_objects(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    (base / "box" / "hand" / "made").mkdir(parents=True)
    (base / "box" / "hand" / "made" / "page.html").write_bytes(b"<p>hi</p>")
    (listed,) = container.list_objects()
    obj = driver.get_object("box", "hand/made/page.html")
    for item in (listed, obj):
        assert item.name == "hand/made/page.html"
        assert item.size == 9
        assert item.hash is None
        assert item.extra["content_type"] == "text/html"
        assert item.extra["etag"] is None
        assert item.meta_data == {}
    assert read_all(driver, obj) == b"<p>hi</p>"
    assert obj.delete() is True
    assert not (base / "box" / "hand").exists()


def test_malformed_sidecar_is_ignored(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"data"], "k.txt", extra={"meta_data": {"a": "b"}})
    (sidecar,) = sidecars(base)
    sidecar.write_bytes(b"{not json")
    obj = driver.get_object("box", "k.txt")
    assert obj.hash is None
    assert obj.meta_data == {}
    assert obj.extra["content_type"] == "text/plain"
    assert read_all(driver, obj) == b"data"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: {**d, "version": 99}, id="version"),
        pytest.param(lambda d: {**d, "name": "other"}, id="name"),
        pytest.param(lambda d: {**d, "md5": "not-hex"}, id="md5"),
        pytest.param(lambda d: {**d, "size": True}, id="size"),
        pytest.param(lambda d: {**d, "meta_data": ["a"]}, id="meta"),
        pytest.param(lambda d: {**d, "attributes": {"x_evil": "1"}}, id="attributes"),
        pytest.param(lambda d: [d], id="not-an-object"),
    ],
)
def test_invalid_sidecar_fields_are_ignored(
    driver: StorageDriver, container: Container, base: Path, mutate: Any
) -> None:
    container.upload_object_via_stream([b"data"], "k.bin", extra={"meta_data": {"a": "b"}})
    (sidecar,) = sidecars(base)
    sidecar.write_text(json.dumps(mutate(json.loads(sidecar.read_text()))))
    obj = driver.get_object("box", "k.bin")
    assert (obj.hash, obj.meta_data) == (None, {})
    assert obj.extra["content_type"] == "application/octet-stream"


def test_recreated_container_ignores_stale_sidecars(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"original"], "k", extra={"meta_data": {"old": "1"}})
    (base / "box" / "k").unlink()
    (base / "box").rmdir()  # removed by hand: the sidecar stays behind
    assert len(sidecars(base)) == 1
    driver.create_container("box")
    (base / "box" / "k").write_bytes(b"by hand")
    obj = driver.get_object("box", "k")
    assert obj.hash is None
    assert obj.meta_data == {}
    assert read_all(driver, obj) == b"by hand"


def test_prefix_must_be_text(container: Container) -> None:
    with pytest.raises(InvalidArgumentError, match="prefix"):
        container.list_objects(prefix=b"a")  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_container_is_not_an_object(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    os.mkfifo(base / "box" / "pipe")
    assert container.list_objects() == []
    with pytest.raises(ObjectDoesNotExistError):
        driver.get_object("box", "pipe")
    with pytest.raises(InvalidObjectNameError, match="not a regular file"):
        container.upload_object_via_stream([b"x"], "pipe")
    forged = Object("pipe", 1, None, None, None, container, driver)
    with pytest.raises(ObjectDoesNotExistError, match="not a regular file"):
        read_all(driver, forged)  # opened non-blocking: returns instead of hanging


class NonBlockingReader:
    def read(self, size: int = -1) -> bytes | None:
        return None


def test_file_like_returning_none_is_refused(container: Container, base: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="returned None"):
        container.upload_object_via_stream(NonBlockingReader(), "k")
    assert container.list_objects() == []
    assert temp_files(base) == []


def test_os_error_at_commit_is_translated_and_cleaned_up(
    container: Container, base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container.upload_object_via_stream([b"warm"], "warm")
    before = snapshot(base)

    def full_disk(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", os.fspath(dst))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(LibstoreError, match="No space left") as info:
        container.upload_object_via_stream([b"data"], "new/dir/k")
    assert not isinstance(info.value, OSError)
    assert info.value.object_name == "new/dir/k"
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    assert snapshot(base) == before  # no directories created, no temporary files


def test_failed_data_rename_keeps_previous_object_whole(
    driver: StorageDriver, container: Container, base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container.upload_object_via_stream([b"old"], "k", extra={"meta_data": {"v": "1"}})
    before = snapshot(base)
    target = str(base / "box" / "k")
    real_replace = os.replace

    def fail_on_data(src: Any, dst: Any) -> None:
        if os.fspath(dst) == target:
            raise OSError(errno.EIO, "Input/output error", target)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_data)
    with pytest.raises(LibstoreError, match="Input/output error"):
        container.upload_object_via_stream([b"new"], "k", extra={"meta_data": {"v": "2"}})
    monkeypatch.undo()
    assert snapshot(base) == before
    obj = driver.get_object("box", "k")
    assert (obj.meta_data, obj.hash) == ({"v": "1"}, md5(b"old"))


def test_permission_error_becomes_access_denied(
    driver: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: Any, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    monkeypatch.setattr(os, "mkdir", denied)
    with pytest.raises(AccessDeniedError) as info:
        driver.create_container("nope")
    assert info.value.container_name == "nope"


# -- get and delete -----------------------------------------------------------------------------


def test_get_missing_object(driver: StorageDriver, container: Container) -> None:
    with pytest.raises(ObjectDoesNotExistError) as info:
        driver.get_object("box", "nope/nothing")
    assert info.value.object_name == "nope/nothing"
    assert info.value.container_name == "box"


def test_delete_object_removes_sidecar_and_prunes_empty_dirs(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"1"], "a/b/c/one")
    container.upload_object_via_stream([b"2"], "a/two")
    obj = driver.get_object("box", "a/b/c/one")
    assert driver.delete_object(obj) is True
    assert not (base / "box" / "a" / "b").exists()
    assert (base / "box" / "a" / "two").read_bytes() == b"2"
    assert len(sidecars(base)) == 1
    driver.get_object("box", "a/two").delete()
    assert (base / "box").is_dir()
    assert list((base / "box").iterdir()) == []
    assert sidecars(base) == []
    with pytest.raises(ObjectDoesNotExistError):
        driver.delete_object(obj)


# -- downloads ----------------------------------------------------------------------------------


@pytest.fixture
def payload() -> bytes:
    return os.urandom(3 * MiB + 123)


@pytest.fixture
def stored(container: Container, payload: bytes) -> Object:
    return container.upload_object_via_stream(io.BytesIO(payload), "data/set/blob.bin")


def test_download_to_file(
    driver: StorageDriver, stored: Object, payload: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / "out.bin"
    assert driver.download_object(stored, str(dest)) is True
    assert dest.read_bytes() == payload


def test_download_into_directory_with_nested_name(
    stored: Object, payload: bytes, tmp_path: Path
) -> None:
    target = tmp_path / "dl"
    target.mkdir()
    assert stored.download(str(target)) is True
    assert (target / "data" / "set" / "blob.bin").read_bytes() == payload


def test_download_overwrite_rules(stored: Object, payload: bytes, tmp_path: Path) -> None:
    dest = tmp_path / "exists.bin"
    dest.write_bytes(b"keep me")
    with pytest.raises(LibstoreError, match="already exists"):
        stored.download(dest)
    assert dest.read_bytes() == b"keep me"
    assert stored.download(dest, overwrite_existing=True) is True
    assert dest.read_bytes() == payload


def test_range_downloads(
    driver: StorageDriver, stored: Object, payload: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / "range.bin"
    assert driver.download_object_range(stored, dest, 10, 20) is True
    assert dest.read_bytes() == payload[10:20]
    driver.download_object_range(stored, dest, MiB - 3, None, overwrite_existing=True)
    assert dest.read_bytes() == payload[MiB - 3 :]
    driver.download_object_range(stored, dest, 5, len(payload) + 100, overwrite_existing=True)
    assert dest.read_bytes() == payload[5:]
    with pytest.raises(InvalidRangeError):
        driver.download_object_range(stored, tmp_path / "bad", 20, 10)
    with pytest.raises(InvalidRangeError):
        driver.download_object_range(stored, tmp_path / "bad", len(payload) + 1)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("chunk_size", [1, 7, 65536, MiB, MiB + 1, 10 * MiB])
def test_range_stream_chunk_bounds(
    driver: StorageDriver, stored: Object, payload: bytes, chunk_size: int
) -> None:
    start, end = (100, 120) if chunk_size < 100 else (100, 2 * MiB + 500)
    chunks = list(driver.download_object_range_as_stream(stored, start, end, chunk_size))
    assert b"".join(chunks) == payload[start:end]
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert all(len(c) == chunk_size for c in chunks[:-1])


def test_whole_stream_chunk_bounds(driver: StorageDriver, stored: Object, payload: bytes) -> None:
    chunks = list(stored.as_stream(chunk_size=MiB + 7))
    assert [len(c) for c in chunks] == [MiB + 7, MiB + 7, MiB + 7, len(payload) - 3 * (MiB + 7)]
    assert b"".join(chunks) == payload
    with pytest.raises(ValueError):
        driver.download_object_as_stream(stored, 0)


def test_corrupted_file_fails_download_and_leaves_nothing(
    driver: StorageDriver, stored: Object, base: Path, tmp_path: Path
) -> None:
    path = base / "box" / "data" / "set" / "blob.bin"
    with open(path, "r+b") as handle:  # same size, flipped bytes: bit rot
        handle.seek(MiB)
        original = handle.read(4)
        handle.seek(MiB)
        handle.write(bytes(b ^ 0xFF for b in original))
    obj = driver.get_object("box", "data/set/blob.bin")
    assert obj.hash == stored.hash  # the recorded hash is of the uploaded content
    target = tmp_path / "dl"
    target.mkdir()
    with pytest.raises(ObjectHashMismatchError) as info:
        driver.download_object(obj, target / "blob.bin")
    assert info.value.object_name == "data/set/blob.bin"
    assert list(target.iterdir()) == []
    with pytest.raises(ObjectHashMismatchError):
        read_all(driver, obj)


def test_truncated_file_fails_download(
    driver: StorageDriver, stored: Object, base: Path, tmp_path: Path
) -> None:
    path = base / "box" / "data" / "set" / "blob.bin"
    with open(path, "r+b") as handle:
        handle.truncate(1000)
    obj = driver.get_object("box", "data/set/blob.bin")
    assert obj.size == 1000
    with pytest.raises(ObjectHashMismatchError):
        obj.download(tmp_path / "t.bin")
    assert not (tmp_path / "t.bin").exists()


def test_object_replaced_after_fetch_is_not_mixed(
    driver: StorageDriver, stored: Object, container: Container, tmp_path: Path
) -> None:
    container.upload_object_via_stream([b"replacement"], stored.name)
    with pytest.raises(PreconditionFailedError, match="get it again"):
        stored.download(tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()
    fresh = driver.get_object("box", stored.name)
    assert read_all(driver, fresh) == b"replacement"


def test_download_of_deleted_object(driver: StorageDriver, stored: Object, tmp_path: Path) -> None:
    stored.delete()
    with pytest.raises(ObjectDoesNotExistError):
        stored.download(tmp_path / "gone.bin")
    assert not (tmp_path / "gone.bin").exists()


def test_hand_constructed_object_is_verified_with_its_hash(
    driver: StorageDriver, container: Container, tmp_path: Path
) -> None:
    container.upload_object_via_stream([b"abc"], "k")
    wrong = Object("k", 3, md5(b"xyz"), None, None, container, driver)
    with pytest.raises(ObjectHashMismatchError):
        wrong.download(tmp_path / "k")
    right = Object("k", 3, md5(b"abc").upper(), None, None, container, driver)
    assert right.download(tmp_path / "k") is True
    assert (tmp_path / "k").read_bytes() == b"abc"


# -- escapes ------------------------------------------------------------------------------------


BAD_OBJECT_NAMES = [
    "../x",
    "/etc/passwd",
    "a/../../x",
    "a/..",
    "..",
    ".",
    "a/./b",
    "a//b",
    "a/",
    "",
    "x\x00y",
    "\udc80",
    "s" * 256,
    "/".join(["d" * 200] * 6),  # > 1024 bytes
]


@pytest.mark.parametrize("name", BAD_OBJECT_NAMES)
def test_escaping_object_names_are_refused(
    driver: StorageDriver, container: Container, base: Path, tmp_path: Path, name: str
) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"payload")
    container.upload_object_via_stream([b"keep"], "x")
    before = snapshot(tmp_path)
    with pytest.raises(InvalidObjectNameError) as info:
        container.upload_object_via_stream([b"evil"], name)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidObjectNameError):
        container.upload_object(source, name)
    with pytest.raises(InvalidObjectNameError):
        driver.get_object("box", name)
    forged = Object(name, 4, None, None, None, container, driver)
    with pytest.raises(InvalidObjectNameError):
        driver.delete_object(forged)
    with pytest.raises(InvalidObjectNameError):
        read_all(driver, forged)
    assert snapshot(tmp_path) == before


def test_object_name_type_is_checked(driver: StorageDriver, container: Container) -> None:
    with pytest.raises(InvalidObjectNameError, match="must be a str"):
        container.upload_object_via_stream([b"x"], 5)  # type: ignore[arg-type]


def test_longest_names_are_accepted(driver: StorageDriver, container: Container) -> None:
    segment = "s" * 255
    longest = "/".join([segment, segment, segment, "u" * 254, "t"])
    assert len(longest.encode()) == 1024
    for name in ("q" * 255, longest):
        container.upload_object_via_stream([b"ok"], name)
        assert read_all(driver, driver.get_object("box", name)) == b"ok"


@pytest.mark.skipif(os.sep != "/", reason="backslash is a separator on Windows")
def test_backslash_is_an_ordinary_character_on_posix(
    driver: StorageDriver, container: Container, base: Path
) -> None:
    container.upload_object_via_stream([b"1"], "a\\b")
    container.upload_object_via_stream([b"2"], "..\\..\\x")
    assert sorted(p.name for p in (base / "box").iterdir()) == ["..\\..\\x", "a\\b"]
    assert [o.name for o in container.list_objects()] == ["..\\..\\x", "a\\b"]


def test_dot_dot_container_cannot_reach_outside(
    driver: StorageDriver, base: Path, tmp_path: Path, outside: Path
) -> None:
    before = snapshot(tmp_path)
    for name in ["..", "../outside", "outside/.."]:
        with pytest.raises(InvalidContainerNameError):
            driver.upload_object_via_stream([b"x"], Container(name, None, driver), "secret.txt")
        with pytest.raises(InvalidContainerNameError):
            driver.get_object(name, "outside/secret.txt")
        with pytest.raises(InvalidContainerNameError):
            driver.delete_container(Container(name, None, driver))
    assert snapshot(tmp_path) == before


def test_symlinked_container_is_not_followed(
    driver: StorageDriver, base: Path, tmp_path: Path, outside: Path
) -> None:
    (base / "evil").symlink_to(outside)
    driver.create_container("warm")  # the lock file exists from here on
    before = snapshot(tmp_path)
    evil = Container("evil", None, driver)
    with pytest.raises(ContainerDoesNotExistError, match="symbolic link"):
        driver.get_container("evil")
    with pytest.raises(ContainerAlreadyExistsError):
        driver.create_container("evil")
    with pytest.raises(ContainerDoesNotExistError):
        driver.upload_object_via_stream([b"pwned"], evil, "secret.txt")
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_object("evil", "secret.txt")
    with pytest.raises(ContainerDoesNotExistError):
        driver.list_container_objects(evil)
    with pytest.raises(ContainerDoesNotExistError):
        read_all(driver, Object("secret.txt", 10, None, None, None, evil, driver))
    with pytest.raises(ContainerDoesNotExistError):
        driver.delete_container(evil)
    assert snapshot(tmp_path) == before


def test_symlinks_inside_a_container_are_not_followed(
    driver: StorageDriver, container: Container, base: Path, tmp_path: Path, outside: Path
) -> None:
    box = base / "box"
    (box / "dirlink").symlink_to(outside)
    (box / "filelink").symlink_to(outside / "secret.txt")
    (box / "real").mkdir()
    (box / "real" / "inner").symlink_to(outside)
    before = snapshot(tmp_path)
    for name in ["dirlink/secret.txt", "dirlink/new.txt", "filelink", "real/inner/x"]:
        with pytest.raises(InvalidObjectNameError, match="symbolic link"):
            container.upload_object_via_stream([b"pwned"], name)
        with pytest.raises(InvalidObjectNameError, match="symbolic link"):
            driver.get_object("box", name)
        forged = Object(name, 10, None, None, None, container, driver)
        with pytest.raises(InvalidObjectNameError):
            read_all(driver, forged)
        with pytest.raises(InvalidObjectNameError):
            driver.delete_object(forged)
    assert container.list_objects() == []
    assert snapshot(tmp_path) == before
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_symlinked_internal_directory_is_refused(
    driver: StorageDriver, base: Path, tmp_path: Path, outside: Path
) -> None:
    box = driver.create_container("box")
    box.upload_object_via_stream([b"first"], "first").delete()  # creates .libstore/tmp
    (base / ".libstore" / "tmp").rmdir()
    (base / ".libstore" / "tmp").symlink_to(outside)
    before = snapshot(outside)
    with pytest.raises(LibstoreError, match="symbolic link"):
        box.upload_object_via_stream([b"x"], "k")
    assert snapshot(outside) == before
    assert list((base / "box").iterdir()) == []


# -- threads ------------------------------------------------------------------------------------


def content_for(writer: str) -> bytes:
    return (writer.encode() + b";") * (1 + len(writer) * 37)


def test_concurrent_uploads_overwrites_and_reads(base: Path) -> None:
    threads_count, ops = 8, 50
    drivers = [get_driver(Provider.LOCAL)(str(base)) for _ in range(2)]  # share one lock
    drivers[0].create_container("box")
    errors: list[BaseException] = []
    stale_reads = [0]
    checked_reads = [0]
    counter_lock = threading.Lock()

    def check(driver: StorageDriver, name: str) -> None:
        try:
            obj = driver.get_object("box", name)
            data = read_all(driver, obj)
        except ObjectDoesNotExistError:
            return  # not written yet
        except PreconditionFailedError:
            with counter_lock:
                stale_reads[0] += 1  # replaced between get and read: refused, never mixed
            return
        # Data, size, hash and metadata always belong to the same upload.
        assert data == content_for(obj.meta_data["writer"])
        assert obj.hash == md5(data)
        assert obj.size == len(data)
        assert obj.extra["content_type"] == f"text/x-{obj.meta_data['writer']}"
        with counter_lock:
            checked_reads[0] += 1

    def worker(index: int) -> None:
        rnd = random.Random(index)
        driver = drivers[index % 2]
        box = driver.get_container("box")
        try:
            for op in range(ops):
                choice = rnd.random()
                shared = f"shared/{rnd.randrange(3)}"
                if choice < 0.35:
                    name = shared
                elif choice < 0.6:
                    name = f"own/{index}/{op % 5}"
                else:
                    check(driver, shared if choice < 0.9 else f"own/{index}/{op % 5}")
                    if choice > 0.95:
                        names = [o.name for o in box.list_objects()]
                        assert names == sorted(names)
                    continue
                writer = f"t{index}-{op}"
                extra = {"meta_data": {"writer": writer}, "content_type": f"text/x-{writer}"}
                data = content_for(writer)
                split = rnd.randrange(len(data))
                box.upload_object_via_stream(iter([data[:split], data[split:]]), name, extra)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in workers), "a worker hung"
    assert errors == []
    assert checked_reads[0] > 0
    final = drivers[0].list_container_objects(drivers[0].get_container("box"))
    assert len(final) == len({o.name for o in final})
    for obj in final:
        check(drivers[1], obj.name)
    assert temp_files(base) == []
    assert len(sidecars(base)) == len(final)


WRITER = """
import sys
from libstore import Provider, get_driver

base, tag, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
box = get_driver(Provider.LOCAL)(base).get_container("box")
for i in range(rounds):
    writer = f"{tag}-{i}"
    data = (writer.encode() + b";") * (1 + len(writer) * 37)
    extra = {"meta_data": {"writer": writer}, "content_type": f"text/x-{writer}"}
    box.upload_object_via_stream([data], "shared", extra=extra)
"""


def test_processes_sharing_a_store_never_mix_data_and_metadata(base: Path) -> None:
    driver = get_driver(Provider.LOCAL)(str(base))
    box = driver.create_container("box")
    box.upload_object_via_stream([content_for("seed")], "shared", {"meta_data": {"writer": "seed"}})
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(base), f"p{n}", "60"], cwd=root, env=env
        )
        for n in range(3)
    ]
    checked = 0
    deadline = time.monotonic() + 120
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            try:
                obj = driver.get_object("box", "shared")
                data = read_all(driver, obj)
            except PreconditionFailedError:
                continue
            assert data == content_for(obj.meta_data["writer"])
            assert obj.hash == md5(data)
            checked += 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert checked > 0
    obj = driver.get_object("box", "shared")
    assert read_all(driver, obj) == content_for(obj.meta_data["writer"])
    assert obj.meta_data["writer"].endswith("-59")
    assert temp_files(base) == []
