"""Driver conformance kit: one behavioural test suite for every storage driver.

libstore's bundled drivers (local disk, S3 on several servers) all run the
scenarios below, and a third-party driver gets the same checks by subclassing
:class:`StorageDriverConformance` in one of its test modules. The subclass
provides a ``driver`` fixture returning a ready driver and declares the
limitations of the store behind it with the class attributes ("knobs")
documented on the class::

    import pytest

    from libstore import StorageDriver
    from libstore.testing import StorageDriverConformance
    from mystore import MyStoreDriver


    class TestMyStoreConformance(StorageDriverConformance):
        # MyStore lists 100 objects per page: crossing one page is enough.
        listing_count = 150

        @pytest.fixture
        def driver(self) -> StorageDriver:
            return MyStoreDriver("key", "secret", host="127.0.0.1", port=9000)

        def key_round_trips(self, key: str) -> bool:
            # MyStore drops a leading '/' from object names.
            return not key.startswith("/")

Run it with ``pytest``: every ``test_*`` method of the base class runs against
the driver. Each test works in a fresh container named ``libstore-conf-<hex>``
(a valid S3 bucket name) that is emptied and deleted afterwards, even when the
test fails. Local files are written only below pytest's temporary directory.

The kit needs ``pytest`` (a test-time dependency); ``import libstore`` never
imports it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import random
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libstore import (
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
    StorageDriver,
)

__all__ = ["INVALID_CONTAINER_NAMES", "TRICKY_KEYS", "StorageDriverConformance"]

_MIB = 1024 * 1024


def _long_key(total_bytes: int = 1024, segment_bytes: int = 190) -> str:
    """Build a key of exactly ``total_bytes`` UTF-8 bytes mixing 1- to 4-byte characters.

    The key is split into ``/``-separated segments of at most ``segment_bytes``
    bytes so that stores mapping segments to file names (255-byte limit) can keep it.
    """
    alphabet = "aé日😀"
    segments: list[str] = []
    used = len(b"long/")
    while used < total_bytes:
        room = min(segment_bytes, total_bytes - used - (1 if segments else 0))
        segment = ""
        index = 0
        while len(segment.encode()) < room:
            char = alphabet[index % len(alphabet)]
            if len((segment + char).encode()) > room:
                char = "b"
            segment += char
            index += 1
        used += len(segment.encode()) + (1 if segments else 0)
        segments.append(segment)
    key = "long/" + "/".join(segments)
    if len(key.encode()) != total_bytes:  # pragma: no cover - construction bug
        raise AssertionError(f"long key is {len(key.encode())} bytes, not {total_bytes}")
    return key


#: Object names that stress URL encoding, XML escaping and path mapping, as
#: ``(test id, key)`` pairs. Each is uploaded, fetched, listed, downloaded and
#: deleted under exactly that name unless ``key_round_trips`` declares otherwise.
#: Control characters are deliberately left out.
TRICKY_KEYS: tuple[tuple[str, str], ...] = (
    ("plain", "plain.txt"),
    ("space", "with space.txt"),
    ("edge-spaces", " leading and trailing "),
    ("plus", "a+b c+d"),
    ("percent", "100%"),
    ("percent-2F", "a%2Fb"),
    ("percent-20", "a%20b"),
    ("hash", "a#b"),
    ("question", "a?b=c"),
    ("tilde", "~user/file~"),
    ("query-like", "k=v&x=y"),
    ("quotes", 'it\'s "quoted"'),
    ("star-bang", "*!"),
    ("parens", "(1) (2)"),
    ("semicolon-colon", "a;b:c"),
    ("at-comma-dollar", "a@b,c$d"),
    ("brackets-braces", "[x]{y}"),
    ("backslash", "a\\b"),
    ("caret-pipe-backtick", "a^b|c`d"),
    ("angle-brackets", "<tag>"),
    ("xml-entity-text", "&amp;&lt;&#65;"),
    ("accent", "café"),
    ("nfd", "cafe\u0301"),
    ("cjk", "日本語/ファイル.txt"),
    ("emoji", "emoji-😀"),
    ("hidden", ".hidden"),
    ("three-dots", "..."),
    ("trailing-dot", "name."),
    ("nested", "a/b/c/d.txt"),
    ("leading-slash", "/leading"),
    ("trailing-slash", "dir-marker/"),
    ("double-slash", "a//b"),
    ("dot-segment", "a/./b"),
    ("dotdot-segment", "a/../b"),
    ("dotdot-leading", "../up"),
    ("dot-only", "."),
    ("dotdot-only", ".."),
    ("long-1024-bytes", _long_key()),
)

#: Container names every store must refuse with ``InvalidContainerNameError``.
INVALID_CONTAINER_NAMES: tuple[tuple[str, str], ...] = (
    ("empty", ""),
    ("slash", "a/b"),
    ("dot", "."),
    ("dotdot", ".."),
    ("too-long", "x" * 300),
    ("nul", "a\x00b"),
)

#: Upload ``extra`` values every driver must refuse with ``InvalidArgumentError``.
_INVALID_EXTRAS: tuple[tuple[str, Any], ...] = (
    ("unknown-key", {"colour": "blue"}),
    ("bad-acl", {"acl": "world-writable"}),
    ("non-ascii-meta-value", {"meta_data": {"owner": "zoë"}}),
    ("non-ascii-meta-name", {"meta_data": {"ownér": "x"}}),
    ("meta-name-with-space", {"meta_data": {"bad name": "x"}}),
    ("meta-not-a-dict", {"meta_data": "owner=alice"}),
    ("meta-too-large", {"meta_data": {"big": "x" * 3000}}),
    ("header-injection", {"cache_control": "max-age=1\r\nx-amz-acl: public-read"}),
    ("content-type-not-media-type", {"content_type": "text"}),
    ("bad-storage-class", {"storage_class": "FROZEN"}),
    ("extra-not-a-dict", ["content_type"]),
)

_RANGE_DATA_SIZE = 1000

#: ``(test id, start_bytes, end_bytes)``, checked against ``data[start:end]``.
_VALID_RANGES: tuple[tuple[str, int, int | None], ...] = (
    ("first-byte", 0, 1),
    ("from-5-to-end", 5, None),
    ("last-byte", _RANGE_DATA_SIZE - 1, None),
    ("last-byte-explicit-end", _RANGE_DATA_SIZE - 1, _RANGE_DATA_SIZE),
    ("whole", 0, None),
    ("whole-explicit-end", 0, _RANGE_DATA_SIZE),
    ("middle", 3, 10),
    ("end-past-size", 2, _RANGE_DATA_SIZE + 50),
)

_INVALID_RANGES: tuple[tuple[str, int, int | None], ...] = (
    ("negative-start", -1, None),
    ("negative-start-with-end", -5, 3),
    ("empty", 5, 5),
    ("reversed", 5, 4),
    ("start-at-size", _RANGE_DATA_SIZE, None),
    ("start-past-size", _RANGE_DATA_SIZE + 500, None),
    ("start-at-size-with-end", _RANGE_DATA_SIZE, _RANGE_DATA_SIZE + 1),
)

_EXTRA = {
    "content_type": "application/x-libstore-test",
    "meta_data": {"owner": "alice", "x-y": "1"},
    "cache_control": "max-age=60",
    "content_disposition": 'attachment; filename="report.txt"',
    "content_language": "de-CH",
}


class _InjectedStreamError(RuntimeError):
    """Raised by the kit's failing upload iterators."""


def _payload(size: int, seed: int = 0) -> bytes:
    """Return ``size`` deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def _utf8_sorted(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: name.encode("utf-8"))


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` or an exception it was raised from/while handling is a ``kind``."""
    current: BaseException | None = exc
    for _ in range(32):
        if current is None:
            return False
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
    return False


def _files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file() or path.is_symlink())


class StorageDriverConformance:
    """Behavioural tests every :class:`~libstore.StorageDriver` must pass.

    Subclass it (with a name starting with ``Test``), provide a ``driver``
    fixture, and adjust the knobs below to the store's documented limits. The
    fixtures :meth:`container`, :meth:`new_container_name` and :meth:`work_dir`
    are available to the subclass's own tests too.

    Attributes:
        multipart_size: Object size from which the driver switches to a multipart
            (chunked) upload. The multipart scenarios upload ``2 * multipart_size``
            bytes and more, so at least three parts are sent.
        listing_count: Number of objects of the listing scenario; above 1000 it
            crosses a page boundary on S3. Lower it for slow stores whose page is
            smaller.
        upload_workers: Threads used to upload and clean up many objects at once.
        container_prefix: Prefix of the containers the kit creates; a random hex
            suffix is appended.
        accepts_file_like_streams: ``upload_object_via_stream`` accepts a binary
            file-like object (anything with ``read``) as well as an iterator.
        allows_object_and_prefix_with_same_name: Objects ``x`` and ``x/y`` can exist
            together (S3); stores mapping names to paths cannot have both.
        lists_in_utf8_order: Listings come sorted by the UTF-8 bytes of the names, as
            S3 promises (``a-b`` < ``a/b`` < ``a0``). Set it to ``False`` for stores
            that list otherwise (SeaweedFS lists a directory's children before its
            siblings); the names are then compared regardless of order.
        get_object_reports_missing_container: ``get_object`` in a missing container
            raises ``ContainerDoesNotExistError``; set to ``False`` for stores that
            cannot tell a missing container from a missing object on that call
            (then ``ObjectDoesNotExistError`` is accepted too).
    """

    multipart_size: int = 5 * _MIB
    listing_count: int = 1005
    upload_workers: int = 8
    container_prefix: str = "libstore-conf-"
    accepts_file_like_streams: bool = True
    allows_object_and_prefix_with_same_name: bool = True
    lists_in_utf8_order: bool = True
    get_object_reports_missing_container: bool = True

    def key_round_trips(self, key: str) -> bool:
        """Whether the store keeps ``key`` exactly as given.

        Override it to return ``False`` for keys the server alters or refuses (for
        instance SeaweedFS strips a leading ``/``, collapses ``//`` and rejects ``.``
        and ``..`` segments); their round-trip tests are then skipped with a reason.

        Args:
            key: An object name from :data:`TRICKY_KEYS` or another scenario.

        Returns:
            ``True`` (the default) when the key must round-trip unchanged.
        """
        return True

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def driver(self) -> StorageDriver:
        """The driver under test; subclasses must override this fixture."""
        pytest.fail(f"{type(self).__name__} must define a `driver` fixture returning the driver")

    @pytest.fixture
    def new_container_name(self, driver: StorageDriver) -> Iterator[Callable[[], str]]:
        """A factory of unique container names; any container created under them is removed."""
        names: list[str] = []

        def make() -> str:
            name = f"{self.container_prefix}{uuid.uuid4().hex[:16]}"
            names.append(name)
            return name

        yield make
        for name in names:
            self._remove_container(driver, name)

    @pytest.fixture
    def container(self, driver: StorageDriver, new_container_name: Callable[[], str]) -> Container:
        """A fresh, empty container, emptied and deleted after the test."""
        return driver.create_container(new_container_name())

    @pytest.fixture
    def work_dir(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """An empty local directory for the test's files, apart from any driver's own."""
        return tmp_path_factory.mktemp("libstore-conformance")

    # -- helpers --------------------------------------------------------------------------

    def _remove_container(self, driver: StorageDriver, name: str) -> None:
        """Delete every object of container ``name`` and then the container, ignoring errors."""
        for _ in range(3):
            try:
                container = driver.get_container(name)
            except ContainerDoesNotExistError:
                return
            except Exception:  # noqa: S112 - cleanup is best effort
                continue
            with contextlib.suppress(Exception):
                objects = driver.list_container_objects(container)
                self._parallel(driver.delete_object, objects, ignore_errors=True)
            with contextlib.suppress(Exception):
                driver.delete_container(container)
                return
        warnings.warn(
            f"libstore conformance kit: could not remove container {name!r}",
            RuntimeWarning,
            stacklevel=2,
        )

    def _parallel(
        self, func: Callable[[Any], Any], items: list[Any], *, ignore_errors: bool = False
    ) -> list[Any]:
        """Run ``func`` over ``items`` on ``upload_workers`` threads; return results in order."""
        if len(items) <= 2:
            results = []
            for item in items:
                try:
                    results.append(func(item))
                except Exception:
                    if not ignore_errors:
                        raise
            return results
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.upload_workers) as pool:
            futures = [pool.submit(func, item) for item in items]
            results = []
            for future in futures:
                try:
                    results.append(future.result())
                except Exception:
                    if not ignore_errors:
                        for other in futures:
                            other.cancel()
                        raise
            return results

    @staticmethod
    def _upload_bytes(
        driver: StorageDriver,
        container: Container,
        name: str,
        data: bytes,
        extra: dict[str, Any] | None = None,
    ) -> Object:
        return driver.upload_object_via_stream(iter([data]), container, name, extra=extra)

    @staticmethod
    def _read(driver: StorageDriver, obj: Object) -> bytes:
        return b"".join(driver.download_object_as_stream(obj))

    @staticmethod
    def _names(objects: Iterable[Object]) -> list[str]:
        return [obj.name for obj in objects]

    def _assert_names(self, objects: Iterable[Object], expected: Iterable[str]) -> None:
        """Assert that ``objects`` are named exactly ``expected``, in UTF-8 byte order.

        When the store does not list in that order (``lists_in_utf8_order`` is false)
        only the names are compared, each of them exactly once.
        """
        actual = self._names(objects)
        if not self.lists_in_utf8_order:
            actual = _utf8_sorted(actual)
        assert actual == _utf8_sorted(expected)

    def _assert_absent(self, driver: StorageDriver, container: Container, name: str) -> None:
        with pytest.raises(ObjectDoesNotExistError):
            driver.get_object(container.name, name)
        assert name not in self._names(driver.list_container_objects(container))

    # -- containers -----------------------------------------------------------------------

    def test_create_get_and_list_container(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """A new container can be fetched and appears in both container listings."""
        name = new_container_name()
        created = driver.create_container(name)
        assert isinstance(created, Container)
        assert created.name == name
        assert created.driver is driver

        fetched = driver.get_container(name)
        assert fetched.name == name
        assert fetched == created

        assert name in [c.name for c in driver.list_containers()]
        iterator = driver.iterate_containers()
        assert isinstance(iterator, Iterator)
        assert name in [c.name for c in iterator]

    def test_create_existing_container_fails(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """Creating an existing container raises ``ContainerAlreadyExistsError``."""
        with pytest.raises(ContainerAlreadyExistsError) as info:
            driver.create_container(container.name)
        assert info.value.container_name == container.name

    def test_get_missing_container_fails(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """Fetching a missing container raises ``ContainerDoesNotExistError``."""
        name = new_container_name()
        with pytest.raises(ContainerDoesNotExistError) as info:
            driver.get_container(name)
        assert info.value.container_name == name
        assert name not in [c.name for c in driver.list_containers()]

    def test_delete_non_empty_container_fails(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """A container holding an object is kept and raises ``ContainerIsNotEmptyError``."""
        self._upload_bytes(driver, container, "keep.txt", b"keep")
        with pytest.raises(ContainerIsNotEmptyError) as info:
            driver.delete_container(container)
        assert info.value.container_name == container.name
        assert driver.get_container(container.name).name == container.name
        assert self._read(driver, driver.get_object(container.name, "keep.txt")) == b"keep"

    def test_delete_empty_container(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """Deleting an emptied container returns ``True`` and removes it."""
        container = driver.create_container(new_container_name())
        obj = self._upload_bytes(driver, container, "gone-soon", b"x")
        assert driver.delete_object(obj) is True

        assert driver.delete_container(container) is True
        with pytest.raises(ContainerDoesNotExistError):
            driver.get_container(container.name)
        assert container.name not in [c.name for c in driver.list_containers()]

    def test_delete_missing_container_fails(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """Deleting a missing container raises ``ContainerDoesNotExistError``."""
        name = new_container_name()
        with pytest.raises(ContainerDoesNotExistError) as info:
            driver.delete_container(Container(name, None, driver))
        assert info.value.container_name == name

    @pytest.mark.parametrize(
        "name", [n for _, n in INVALID_CONTAINER_NAMES], ids=[i for i, _ in INVALID_CONTAINER_NAMES]
    )
    def test_invalid_container_name_rejected(self, driver: StorageDriver, name: str) -> None:
        """Names no store allows raise ``InvalidContainerNameError`` (a ``ValueError``)."""
        with pytest.raises(InvalidContainerNameError) as info:
            driver.create_container(name)
        assert isinstance(info.value, ValueError)
        assert name not in [c.name for c in driver.list_containers()]

    # -- uploads from files ---------------------------------------------------------------

    def _upload_size(self, size_id: str) -> int:
        sizes = {"0-bytes": 0, "1-byte": 1, "1000-bytes": 1000}
        return sizes.get(size_id, self.multipart_size * 2 + 123)

    @pytest.mark.parametrize("size_id", ["0-bytes", "1-byte", "1000-bytes", "multipart"])
    def test_upload_file_round_trip(
        self, driver: StorageDriver, container: Container, work_dir: Path, size_id: str
    ) -> None:
        """A file of 0, 1, 1000 or multipart size uploads and downloads byte for byte."""
        size = self._upload_size(size_id)
        data = _payload(size, seed=size)
        source = work_dir / "source.bin"
        source.write_bytes(data)

        obj = driver.upload_object(source, container, "uploaded/file.bin", verify_hash=True)
        assert isinstance(obj, Object)
        assert obj.name == "uploaded/file.bin"
        assert obj.size == size
        assert obj.container.name == container.name
        assert self._read(driver, obj) == data  # the returned Object is usable as is

        fetched = driver.get_object(container.name, "uploaded/file.bin")
        assert fetched.name == "uploaded/file.bin"
        assert fetched.size == size

        destination = work_dir / "downloaded.bin"
        assert driver.download_object(fetched, destination) is True
        assert destination.read_bytes() == data
        assert self._read(driver, fetched) == data
        assert source.read_bytes() == data  # the source file is left alone

    def test_upload_file_without_hash_verification(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """``verify_hash=False`` uploads the same bytes."""
        data = _payload(4321, seed=7)
        source = work_dir / "source.bin"
        source.write_bytes(data)
        obj = driver.upload_object(str(source), container, "unverified", verify_hash=False)
        assert obj.size == len(data)
        assert self._read(driver, driver.get_object(container.name, "unverified")) == data

    def test_upload_replaces_existing_object(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """Uploading to an existing name replaces the object."""
        source = work_dir / "v1.bin"
        source.write_bytes(_payload(1000, seed=1))
        driver.upload_object(source, container, "versioned")
        self._upload_bytes(driver, container, "versioned", b"version two")

        obj = driver.get_object(container.name, "versioned")
        assert obj.size == len(b"version two")
        assert self._read(driver, obj) == b"version two"
        self._assert_names(driver.list_container_objects(container), ["versioned"])

    def test_upload_to_missing_container_fails(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """Uploading to or listing a missing container raises ``ContainerDoesNotExistError``."""
        missing = Container(new_container_name(), None, driver)
        with pytest.raises(ContainerDoesNotExistError):
            self._upload_bytes(driver, missing, "orphan", b"data")
        with pytest.raises(ContainerDoesNotExistError):
            driver.list_container_objects(missing)

    def test_upload_missing_file_fails(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """Uploading a file that does not exist raises a ``LibstoreError`` and stores nothing."""
        with pytest.raises(LibstoreError):
            driver.upload_object(work_dir / "no-such-file", container, "from-missing-file")
        with pytest.raises(ObjectDoesNotExistError):
            driver.get_object(container.name, "from-missing-file")

    def test_empty_object_name_rejected(self, driver: StorageDriver, container: Container) -> None:
        """An empty object name raises ``InvalidObjectNameError`` (a ``ValueError``)."""
        with pytest.raises(InvalidObjectNameError) as info:
            self._upload_bytes(driver, container, "", b"data")
        assert isinstance(info.value, ValueError)
        assert driver.list_container_objects(container) == []

    # -- uploads from streams -------------------------------------------------------------

    def test_stream_upload_uneven_chunks(self, driver: StorageDriver, container: Container) -> None:
        """Uneven chunks, empty ones included, totalling over two parts upload intact."""
        pattern = [1, 0, 3 * _MIB, 7, 0, 65536, 1, 0]
        target = 2 * self.multipart_size + 1
        sizes: list[int] = []
        for _ in range(target // (3 * _MIB) + 2):
            if sum(sizes) > target:
                break
            sizes.extend(pattern)
        assert sum(sizes) > target
        data = _payload(sum(sizes), seed=11)
        chunks: list[bytes] = []
        offset = 0
        for size in sizes:
            chunks.append(data[offset : offset + size])
            offset += size

        obj = driver.upload_object_via_stream(iter(chunks), container, "stream/uneven")
        assert obj.name == "stream/uneven"
        assert obj.size == len(data)
        assert self._read(driver, obj) == data
        fetched = driver.get_object(container.name, "stream/uneven")
        assert fetched.size == len(data)
        assert self._read(driver, fetched) == data

    @pytest.mark.parametrize(
        "chunks", [[], [b""], [b"", b"", b""]], ids=["no-chunks", "one-empty", "three-empty"]
    )
    def test_stream_upload_empty(
        self, driver: StorageDriver, container: Container, chunks: list[bytes]
    ) -> None:
        """A stream with no data, or only empty chunks, stores an empty object."""
        obj = driver.upload_object_via_stream(iter(chunks), container, "empty")
        assert obj.size == 0
        fetched = driver.get_object(container.name, "empty")
        assert fetched.size == 0
        assert list(driver.download_object_as_stream(fetched)) == []
        self._assert_names(driver.list_container_objects(container), ["empty"])

    def test_stream_upload_from_generator(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """A generator is accepted as the stream."""
        parts = [_payload(100 + i, seed=i) for i in range(5)]

        def generate() -> Iterator[bytes]:
            yield from parts

        container.upload_object_via_stream(generate(), "generated")
        obj = driver.get_object(container.name, "generated")
        assert obj.size == sum(len(p) for p in parts)
        assert self._read(driver, obj) == b"".join(parts)

    def test_stream_upload_from_file_like(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """A binary file-like object is accepted as the stream."""
        if not self.accepts_file_like_streams:
            pytest.skip("the driver does not accept file-like objects as streams")
        data = _payload(150_001, seed=3)
        obj = driver.upload_object_via_stream(io.BytesIO(data), container, "file-like")
        assert obj.size == len(data)
        assert self._read(driver, driver.get_object(container.name, "file-like")) == data

    @pytest.mark.parametrize("previous", ["fresh-name", "existing-object"])
    @pytest.mark.parametrize("when", ["early", "after-a-part"])
    def test_stream_failure_leaves_nothing(
        self, driver: StorageDriver, container: Container, previous: str, when: str
    ) -> None:
        """A stream that raises propagates its error and leaves no new object behind.

        Checked before and after the first part could have been sent, for a fresh
        name and for a name whose previous object must keep its bytes."""
        name = "stream/failing"
        old = b"the old bytes"
        if previous == "existing-object":
            self._upload_bytes(driver, container, name, old)
        self._upload_bytes(driver, container, "bystander", b"b")
        sent_before_error = 1024 if when == "early" else self.multipart_size + _MIB

        def failing() -> Iterator[bytes]:
            remaining = sent_before_error
            while remaining > 0:
                size = min(remaining, _MIB)
                yield _payload(size, seed=remaining)
                remaining -= size
            raise _InjectedStreamError("injected failure midway through the stream")

        with pytest.raises(Exception) as info:  # the type is checked below
            driver.upload_object_via_stream(failing(), container, name)
        assert isinstance(info.value, (_InjectedStreamError, LibstoreError)), info.value
        assert _caused_by(info.value, _InjectedStreamError), info.value

        if previous == "existing-object":
            obj = driver.get_object(container.name, name)
            assert obj.size == len(old)
            assert self._read(driver, obj) == old
            expected = ["bystander", name]
        else:
            with pytest.raises(ObjectDoesNotExistError):
                driver.get_object(container.name, name)
            expected = ["bystander"]
        self._assert_names(driver.list_container_objects(container), expected)

    # -- extra ------------------------------------------------------------------------------

    @pytest.mark.parametrize("method", ["upload_object", "upload_object_via_stream"])
    def test_extra_round_trip(
        self, driver: StorageDriver, container: Container, work_dir: Path, method: str
    ) -> None:
        """Content type, user metadata and stored attributes come back from ``get_object``."""
        data = b"<report/>"
        if method == "upload_object":
            source = work_dir / "report.xml"
            source.write_bytes(data)
            driver.upload_object(source, container, "report.xml", extra=dict(_EXTRA))
        else:
            self._upload_bytes(driver, container, "report.xml", data, extra=dict(_EXTRA))

        obj = driver.get_object(container.name, "report.xml")
        assert obj.size == len(data)
        assert obj.extra.get("content_type") == _EXTRA["content_type"]
        assert obj.meta_data == {"owner": "alice", "x-y": "1"}
        for key in ("cache_control", "content_disposition", "content_language"):
            assert obj.extra.get(key) == _EXTRA[key], key

        listed = driver.list_container_objects(container)
        assert [(o.name, o.size) for o in listed] == [("report.xml", len(data))]
        assert self._read(driver, obj) == data

    def test_meta_data_names_are_lower_cased(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """User metadata names come back lower-cased, values unchanged."""
        extra = {"meta_data": {"Owner": "Alice", "X-Trace-ID": "AbC-1"}}
        self._upload_bytes(driver, container, "meta", b"m", extra=extra)
        obj = driver.get_object(container.name, "meta")
        assert obj.meta_data == {"owner": "Alice", "x-trace-id": "AbC-1"}

    @pytest.mark.parametrize("method", ["upload_object", "upload_object_via_stream"])
    @pytest.mark.parametrize(
        "extra", [e for _, e in _INVALID_EXTRAS], ids=[i for i, _ in _INVALID_EXTRAS]
    )
    def test_invalid_extra_rejected(
        self,
        driver: StorageDriver,
        container: Container,
        work_dir: Path,
        extra: Any,
        method: str,
    ) -> None:
        """An invalid ``extra`` raises ``InvalidArgumentError`` before any data is read."""
        consumed: list[bytes] = []

        def chunks() -> Iterator[bytes]:
            consumed.append(b"data")
            yield b"data"

        with pytest.raises(InvalidArgumentError) as info:
            if method == "upload_object":
                source = work_dir / "source.bin"
                source.write_bytes(b"data")
                driver.upload_object(source, container, "invalid-extra", extra=extra)
            else:
                driver.upload_object_via_stream(chunks(), container, "invalid-extra", extra=extra)
        assert isinstance(info.value, ValueError)
        assert consumed == [], "the stream was read before the options were validated"
        with pytest.raises(ObjectDoesNotExistError):
            driver.get_object(container.name, "invalid-extra")
        assert driver.list_container_objects(container) == []

    # -- listing ----------------------------------------------------------------------------

    def test_list_many_objects(self, driver: StorageDriver, container: Container) -> None:
        """``listing_count`` objects list completely, in order, with prefixes, lazily."""
        special = [
            n
            for n in ("a-b", "a/b", "a0", "MiXeD", "mixed", "\uff01wide", "😀emoji", "é", "z")
            if self.key_round_trips(n)
        ]
        bulk = [f"bulk/{i:05d}" for i in range(max(self.listing_count - len(special), 1))]
        names = bulk + special

        def upload(name: str) -> Object:
            return self._upload_bytes(driver, container, name, name.encode())

        self._parallel(upload, names)

        listed = driver.list_container_objects(container)
        assert isinstance(listed, list)
        self._assert_names(listed, names)
        for obj in listed:
            assert obj.size == len(obj.name.encode()), obj.name
            assert obj.container.name == container.name

        self._assert_names(driver.list_container_objects(container, prefix="bulk/"), bulk)
        self._assert_names(container.list_objects(prefix="bulk/0000"), bulk[:10])
        self._assert_names(driver.list_container_objects(container, prefix="nothing/"), [])

        iterator = driver.iterate_container_objects(container)
        assert isinstance(iterator, Iterator)
        assert not isinstance(iterator, (list, tuple))
        first = next(iterator).name
        if self.lists_in_utf8_order:
            assert first == _utf8_sorted(names)[0]
        else:
            assert first in names
        assert 1 + sum(1 for _ in iterator) == len(names)

    def test_list_with_prefix(self, driver: StorageDriver, container: Container) -> None:
        """``prefix`` is a plain string prefix, not a directory name."""
        names = ["dir/a", "dir/sub/b", "dir-x", "directory", "other/dir/c", "top"]
        for name in names:
            self._upload_bytes(driver, container, name, b"p")

        def check(prefix: str | None, expected: list[str]) -> None:
            listed = driver.list_container_objects(container, prefix=prefix)
            self._assert_names(listed, expected)

        check(None, _utf8_sorted(names))
        check("dir/", ["dir/a", "dir/sub/b"])
        check("dir", ["dir-x", "dir/a", "dir/sub/b", "directory"])
        check("dir/su", ["dir/sub/b"])
        check("dir/sub/b", ["dir/sub/b"])
        check("nomatch/", [])
        check("t", ["top"])
        self._assert_names(container.iterate_objects(prefix="other/"), ["other/dir/c"])

    def test_object_and_prefix_with_same_name(
        self, driver: StorageDriver, container: Container
    ) -> None:
        """Objects ``x`` and ``x/y`` can exist side by side."""
        if not self.allows_object_and_prefix_with_same_name:
            pytest.skip("the driver declares that 'x' and 'x/y' cannot both be objects")
        self._upload_bytes(driver, container, "x", b"file x")
        self._upload_bytes(driver, container, "x/y", b"file x/y")
        self._upload_bytes(driver, container, "p/q", b"file p/q")
        self._upload_bytes(driver, container, "p", b"file p")

        self._assert_names(driver.list_container_objects(container), ["p", "p/q", "x", "x/y"])
        self._assert_names(driver.list_container_objects(container, prefix="x/"), ["x/y"])
        assert self._read(driver, driver.get_object(container.name, "x")) == b"file x"
        assert self._read(driver, driver.get_object(container.name, "p/q")) == b"file p/q"

        assert driver.delete_object(driver.get_object(container.name, "x")) is True
        assert self._read(driver, driver.get_object(container.name, "x/y")) == b"file x/y"
        self._assert_names(driver.list_container_objects(container), ["p", "p/q", "x/y"])

    def test_list_empty_container(self, driver: StorageDriver, container: Container) -> None:
        """An empty container lists nothing."""
        assert driver.list_container_objects(container) == []
        assert list(driver.iterate_container_objects(container, prefix="x")) == []

    # -- key round trips --------------------------------------------------------------------

    @pytest.mark.parametrize("key", [k for _, k in TRICKY_KEYS], ids=[i for i, _ in TRICKY_KEYS])
    def test_key_round_trip(
        self, driver: StorageDriver, container: Container, work_dir: Path, key: str
    ) -> None:
        """A tricky key is stored, fetched, listed, read and deleted under exactly its name."""
        if not self.key_round_trips(key):
            pytest.skip(f"the driver declares that key {key!r} does not round-trip")
        data = key.encode("utf-8") + b"|" + _payload(37, seed=len(key))

        uploaded = self._upload_bytes(driver, container, key, data)
        assert uploaded.name == key
        assert uploaded.size == len(data)

        fetched = driver.get_object(container.name, key)
        assert fetched.name == key
        assert fetched.size == len(data)

        self._assert_names(driver.list_container_objects(container), [key])
        self._assert_names(driver.list_container_objects(container, prefix=key), [key])

        assert self._read(driver, fetched) == data
        destination = work_dir / "key.bin"
        assert driver.download_object(fetched, destination) is True
        assert destination.read_bytes() == data

        assert driver.delete_object(fetched) is True
        with pytest.raises(ObjectDoesNotExistError) as info:
            driver.get_object(container.name, key)
        assert info.value.object_name == key
        assert driver.list_container_objects(container) == []

    # -- downloads --------------------------------------------------------------------------

    def test_download_to_existing_file(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """An existing file is replaced only with ``overwrite_existing=True``."""
        obj = self._upload_bytes(driver, container, "doc.txt", b"new content")
        destination = work_dir / "doc.txt"
        destination.write_bytes(b"old")

        with pytest.raises(LibstoreError):
            driver.download_object(obj, destination)
        assert destination.read_bytes() == b"old"

        assert driver.download_object(obj, destination, overwrite_existing=True) is True
        assert destination.read_bytes() == b"new content"
        assert _files_under(work_dir) == [destination]

    def test_download_into_directory(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """A directory destination gets the object under its name, subdirectories made."""
        data = _payload(2048, seed=5)
        obj = self._upload_bytes(driver, container, "nested/dir/file.bin", data)

        with_sep = work_dir / "with-sep"
        with_sep.mkdir()
        assert driver.download_object(obj, str(with_sep) + os.sep) is True
        assert (with_sep / "nested" / "dir" / "file.bin").read_bytes() == data

        existing = work_dir / "existing"
        existing.mkdir()
        assert driver.download_object(obj, existing) is True
        assert (existing / "nested" / "dir" / "file.bin").read_bytes() == data

        missing = work_dir / "missing"
        with pytest.raises(LibstoreError):
            driver.download_object(obj, str(missing) + os.sep)
        assert not missing.exists()

    @pytest.mark.parametrize(
        "template",
        [
            "../escape-{tag}.txt",
            "../../escape-{tag}.txt",
            "inner/../../../escape-{tag}.txt",
            "/libstore-conf-abs-{tag}/x.txt",
        ],
        ids=["parent", "grandparent", "nested-parent", "absolute"],
    )
    def test_download_never_escapes_directory(
        self, driver: StorageDriver, container: Container, work_dir: Path, template: str
    ) -> None:
        """An object named with ``..`` or ``/`` never lands outside the destination."""
        tag = uuid.uuid4().hex[:12]
        name = template.format(tag=tag)
        if not self.key_round_trips(name):
            pytest.skip(f"the driver declares that key {name!r} does not round-trip")
        try:
            obj = self._upload_bytes(driver, container, name, b"payload")
        except InvalidObjectNameError:
            pytest.skip(f"the driver refuses to store {name!r}")

        target = work_dir / "a" / "b" / "target"
        target.mkdir(parents=True)
        with contextlib.suppress(InvalidObjectNameError):
            driver.download_object(obj, str(target) + os.sep)
        for path in _files_under(work_dir):
            assert path.is_relative_to(target), path
        assert not Path(f"/libstore-conf-abs-{tag}").exists()

    @pytest.mark.parametrize("chunk_size", [1, 7, 65536, 10 * _MIB])
    def test_download_as_stream_chunking(
        self, driver: StorageDriver, container: Container, chunk_size: int
    ) -> None:
        """Streamed chunks are never empty nor over ``chunk_size`` and join up exactly."""
        data = _payload(100_003, seed=chunk_size)
        obj = self._upload_bytes(driver, container, "chunked", data)
        chunks = list(driver.download_object_as_stream(obj, chunk_size=chunk_size))
        assert all(isinstance(chunk, bytes) for chunk in chunks)
        assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
        assert b"".join(chunks) == data

    @pytest.mark.parametrize("chunk_size", [0, -1])
    def test_invalid_chunk_size_rejected(
        self, driver: StorageDriver, container: Container, chunk_size: int
    ) -> None:
        """A chunk size of 0 or below raises ``ValueError``."""
        obj = self._upload_bytes(driver, container, "chunked", b"0123456789")
        with pytest.raises(ValueError):
            list(driver.download_object_as_stream(obj, chunk_size=chunk_size))
        with pytest.raises(ValueError):
            list(driver.download_object_range_as_stream(obj, 0, 5, chunk_size=chunk_size))

    @pytest.mark.parametrize(
        ("start", "end"),
        [(s, e) for _, s, e in _VALID_RANGES],
        ids=[i for i, _, _ in _VALID_RANGES],
    )
    def test_download_range(
        self,
        driver: StorageDriver,
        container: Container,
        work_dir: Path,
        start: int,
        end: int | None,
    ) -> None:
        """Ranges (end exclusive) match slices of the data, to a file and as a stream."""
        data = _payload(_RANGE_DATA_SIZE, seed=99)
        obj = self._upload_bytes(driver, container, "ranged", data)
        expected = data[start:end]

        destination = work_dir / "range.bin"
        assert driver.download_object_range(obj, destination, start, end) is True
        assert destination.read_bytes() == expected

        chunks = list(driver.download_object_range_as_stream(obj, start, end, chunk_size=7))
        assert all(0 < len(chunk) <= 7 for chunk in chunks)
        assert b"".join(chunks) == expected

    @pytest.mark.parametrize(
        ("start", "end"),
        [(s, e) for _, s, e in _INVALID_RANGES],
        ids=[i for i, _, _ in _INVALID_RANGES],
    )
    def test_invalid_range_rejected(
        self,
        driver: StorageDriver,
        container: Container,
        work_dir: Path,
        start: int,
        end: int | None,
    ) -> None:
        """Invalid ranges raise ``InvalidRangeError`` (a ``ValueError``), writing no file."""
        obj = self._upload_bytes(driver, container, "ranged", _payload(_RANGE_DATA_SIZE))
        destination = work_dir / "range.bin"
        with pytest.raises(InvalidRangeError) as info:
            driver.download_object_range(obj, destination, start, end)
        assert isinstance(info.value, ValueError)
        assert _files_under(work_dir) == []
        with pytest.raises(InvalidRangeError):
            list(driver.download_object_range_as_stream(obj, start, end))

    def test_range_of_empty_object(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """The only valid range of an empty object is its (empty) whole."""
        obj = self._upload_bytes(driver, container, "empty", b"")
        assert list(driver.download_object_range_as_stream(obj, 0)) == []
        destination = work_dir / "empty.bin"
        assert driver.download_object_range(obj, destination, 0) is True
        assert destination.read_bytes() == b""
        with pytest.raises(InvalidRangeError):
            list(driver.download_object_range_as_stream(obj, 1))

    def test_download_deleted_object_fails_cleanly(
        self, driver: StorageDriver, container: Container, work_dir: Path
    ) -> None:
        """Downloading a deleted object raises ``ObjectDoesNotExistError``, leaving no file."""
        obj = self._upload_bytes(driver, container, "vanishing", b"soon gone")
        assert driver.delete_object(obj) is True

        with pytest.raises(ObjectDoesNotExistError):
            list(driver.download_object_as_stream(obj))
        with pytest.raises(ObjectDoesNotExistError):
            driver.download_object(obj, work_dir / "vanishing")
        assert _files_under(work_dir) == []

    # -- get and delete -------------------------------------------------------------------

    def test_get_missing_object_fails(self, driver: StorageDriver, container: Container) -> None:
        """A missing object (or a mere prefix) raises ``ObjectDoesNotExistError`` with its names."""
        with pytest.raises(ObjectDoesNotExistError) as info:
            driver.get_object(container.name, "no/such/object")
        assert info.value.object_name == "no/such/object"
        assert info.value.container_name == container.name

        # A prefix of existing names is not an object.
        self._upload_bytes(driver, container, "pre/fix/object", b"data")
        for name in ("pre", "pre/fix", "pre/fix/obj"):
            with pytest.raises(ObjectDoesNotExistError) as info:
                driver.get_object(container.name, name)
            assert info.value.object_name == name

    def test_get_object_in_missing_container_fails(
        self, driver: StorageDriver, new_container_name: Callable[[], str]
    ) -> None:
        """``get_object`` in a missing container raises ``ContainerDoesNotExistError``."""
        name = new_container_name()
        expected: tuple[type[LibstoreError], ...] = (ContainerDoesNotExistError,)
        if not self.get_object_reports_missing_container:
            expected += (ObjectDoesNotExistError,)
        with pytest.raises(expected) as info:
            driver.get_object(name, "anything")
        assert info.value.container_name == name

    def test_get_object_attributes(self, driver: StorageDriver, container: Container) -> None:
        """``get_object`` returns an ``Object`` with the expected attributes."""
        data = _payload(321, seed=2)
        self._upload_bytes(driver, container, "attrs/obj", data)
        obj = driver.get_object(container.name, "attrs/obj")
        assert isinstance(obj, Object)
        assert obj.name == "attrs/obj"
        assert obj.size == len(data)
        assert obj.container.name == container.name
        assert obj.driver is driver
        assert obj.hash is None or isinstance(obj.hash, str)
        assert isinstance(obj.extra, dict)
        assert isinstance(obj.meta_data, dict)

    def test_delete_object(self, driver: StorageDriver, container: Container) -> None:
        """A deleted object is gone from ``get_object`` and the listing; others stay."""
        doomed = self._upload_bytes(driver, container, "doomed", b"1")
        self._upload_bytes(driver, container, "survivor", b"2")
        assert driver.delete_object(doomed) is True
        self._assert_absent(driver, container, "doomed")
        self._assert_names(driver.list_container_objects(container), ["survivor"])

    def test_delete_missing_object(self, driver: StorageDriver, container: Container) -> None:
        """Deleting a missing name returns ``True`` or raises; objects below it stay."""
        self._upload_bytes(driver, container, "ghost/child", b"child")
        # "ghost" is only a prefix of another object; deleting it must not touch that one.
        for name in ("ghost", "ghost/", "ghost/chi"):
            ghost = Object(name, 0, None, None, None, container, driver)
            try:
                result = driver.delete_object(ghost)
            except (ObjectDoesNotExistError, InvalidObjectNameError) as exc:
                assert exc.object_name == name
            else:
                assert result is True
        self._assert_names(driver.list_container_objects(container), ["ghost/child"])
        assert self._read(driver, driver.get_object(container.name, "ghost/child")) == b"child"

    # -- convenience methods ----------------------------------------------------------------

    def test_container_and_object_methods(
        self, driver: StorageDriver, new_container_name: Callable[[], str], work_dir: Path
    ) -> None:
        """The ``Container`` and ``Object`` convenience methods work end to end."""
        container = driver.create_container(new_container_name())
        data = _payload(5000, seed=8)
        source = work_dir / "source.bin"
        source.write_bytes(data)

        obj = container.upload_object(source, "via/container")
        assert obj.name == "via/container"
        assert obj.size == len(data)
        streamed = container.upload_object_via_stream(iter([b"abc", b"def"]), "via/stream")
        assert streamed.size == 6

        self._assert_names(container.list_objects(), ["via/container", "via/stream"])
        self._assert_names(container.list_objects(prefix="via/s"), ["via/stream"])
        self._assert_names(container.iterate_objects(), ["via/container", "via/stream"])

        fetched = container.get_object("via/container")
        assert fetched.size == len(data)
        destination = work_dir / "dest.bin"
        assert fetched.download(destination) is True
        assert destination.read_bytes() == data
        assert fetched.download(destination, overwrite_existing=True) is True
        assert b"".join(fetched.as_stream(chunk_size=999)) == data
        assert b"".join(fetched.range_as_stream(2, 5)) == data[2:5]
        ranged = work_dir / "ranged.bin"
        assert fetched.download_range(ranged, 10, 20) is True
        assert ranged.read_bytes() == data[10:20]
        assert b"".join(container.download_object_as_stream(fetched, 4096)) == data
        assert b"".join(container.download_object_range_as_stream(fetched, 4990)) == data[4990:]

        assert fetched.delete() is True
        assert container.delete_object(container.get_object("via/stream")) is True
        assert container.list_objects() == []
        assert container.delete() is True
        with pytest.raises(ContainerDoesNotExistError):
            driver.get_container(container.name)
