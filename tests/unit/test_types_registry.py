"""Tests for libstore.types (the exception tree) and libstore.registry (driver lookup)."""

from __future__ import annotations

import inspect
import pickle
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import libstore.registry as registry_module
import libstore.types as types_module
from libstore import get_driver, registered_drivers, set_driver
from libstore.base import StorageDriver
from libstore.drivers.local import LocalStorageDriver
from libstore.drivers.s3 import MinIOStorageDriver, S3StorageDriver, SeaweedFSStorageDriver
from libstore.types import (
    AccessDeniedError,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerError,
    ContainerIsNotEmptyError,
    InvalidArgumentError,
    InvalidContainerNameError,
    InvalidCredsError,
    InvalidObjectNameError,
    InvalidRangeError,
    LibstoreError,
    MultipartUploadError,
    NotModifiedError,
    NotSupportedError,
    ObjectDoesNotExistError,
    ObjectError,
    ObjectHashMismatchError,
    PreconditionFailedError,
    Provider,
    RateLimitReachedError,
    RequestTimeoutError,
    ResponseError,
    ServerError,
    TransportError,
)

# -- the exception tree --------------------------------------------------------------------

# Every class's direct bases, as the module docstring draws the tree.
TREE: dict[type[BaseException], tuple[type[BaseException], ...]] = {
    LibstoreError: (Exception,),
    TransportError: (LibstoreError,),
    RequestTimeoutError: (TransportError, TimeoutError),
    ResponseError: (LibstoreError,),
    AccessDeniedError: (LibstoreError,),
    InvalidCredsError: (AccessDeniedError,),
    RateLimitReachedError: (LibstoreError,),
    ServerError: (LibstoreError,),
    PreconditionFailedError: (LibstoreError,),
    NotModifiedError: (PreconditionFailedError,),
    NotSupportedError: (LibstoreError, NotImplementedError),
    InvalidRangeError: (LibstoreError, ValueError),
    InvalidArgumentError: (LibstoreError, ValueError),
    ContainerError: (LibstoreError,),
    ContainerDoesNotExistError: (ContainerError,),
    ContainerAlreadyExistsError: (ContainerError,),
    ContainerIsNotEmptyError: (ContainerError,),
    InvalidContainerNameError: (ContainerError, ValueError),
    ObjectError: (LibstoreError,),
    ObjectDoesNotExistError: (ObjectError,),
    ObjectHashMismatchError: (ObjectError,),
    InvalidObjectNameError: (ObjectError, ValueError),
    MultipartUploadError: (ObjectError,),
}

# The exception names libcloud's storage API users catch.
LIBCLOUD_NAMES = [
    "ContainerError",
    "ObjectError",
    "ContainerIsNotEmptyError",
    "ContainerAlreadyExistsError",
    "ContainerDoesNotExistError",
    "ObjectDoesNotExistError",
    "ObjectHashMismatchError",
    "InvalidContainerNameError",
    "InvalidCredsError",
    "RateLimitReachedError",
]


@pytest.mark.parametrize("cls", list(TREE), ids=lambda c: c.__name__)
def test_tree_matches_the_documented_bases(cls: type[BaseException]) -> None:
    assert cls.__bases__ == TREE[cls]


def test_every_exported_exception_is_in_the_tree() -> None:
    exported = {
        getattr(types_module, name)
        for name in types_module.__all__
        if isinstance(getattr(types_module, name), type)
        and issubclass(getattr(types_module, name), BaseException)
    }
    assert exported == set(TREE)
    defined = {
        obj
        for _, obj in inspect.getmembers(types_module, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == types_module.__name__
    }
    assert defined == set(TREE)


@pytest.mark.parametrize("name", LIBCLOUD_NAMES)
def test_libcloud_names_are_libstore_errors(name: str) -> None:
    cls = getattr(types_module, name)
    assert issubclass(cls, LibstoreError)
    import libstore

    assert getattr(libstore, name) is cls


def test_value_errors_and_builtin_bases() -> None:
    for cls in (
        InvalidContainerNameError,
        InvalidObjectNameError,
        InvalidArgumentError,
        InvalidRangeError,
    ):
        assert issubclass(cls, ValueError)
    assert issubclass(RequestTimeoutError, TimeoutError)
    assert issubclass(NotSupportedError, NotImplementedError)
    assert not issubclass(AccessDeniedError, ObjectDoesNotExistError)
    assert not issubclass(ObjectDoesNotExistError, AccessDeniedError)


def test_container_errors_take_libcloud_positional_order() -> None:
    driver = object()
    for cls in (
        ContainerError,
        ContainerDoesNotExistError,
        ContainerAlreadyExistsError,
        ContainerIsNotEmptyError,
        InvalidContainerNameError,
    ):
        exc = cls("gone", driver, "bkt")  # type: ignore[call-arg]
        assert (exc.value, exc.driver, exc.container_name) == ("gone", driver, "bkt")
        assert exc.object_name is None
        assert exc.args == ("gone",)


def test_object_errors_take_libcloud_positional_order() -> None:
    driver = object()
    for cls in (
        ObjectError,
        ObjectDoesNotExistError,
        ObjectHashMismatchError,
        InvalidObjectNameError,
        MultipartUploadError,
    ):
        exc = cls("bad", driver, "key")  # type: ignore[call-arg]
        assert (exc.value, exc.driver, exc.object_name) == ("bad", driver, "key")
        assert exc.container_name is None


def test_fields_default_to_none() -> None:
    exc = LibstoreError()
    assert exc.value == ""
    assert str(exc) == ""
    for name in (
        "driver",
        "container_name",
        "object_name",
        "http_status",
        "code",
        "request_id",
        "host_id",
    ):
        assert getattr(exc, name) is None


def test_other_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        LibstoreError("msg", None, "bkt")  # type: ignore[misc]
    with pytest.raises(TypeError):
        ContainerDoesNotExistError("msg", None, "bkt", "key")  # type: ignore[call-arg]


def test_str_includes_the_fields() -> None:
    exc = ObjectDoesNotExistError(
        "not found",
        None,
        "a/key",
        container_name="bkt",
        http_status=404,
        code="NoSuchKey",
        request_id="RID1",
        host_id="HID",
    )
    assert str(exc) == (
        "not found (container='bkt', object='a/key', status=404, code=NoSuchKey, request_id=RID1)"
    )
    assert repr(exc) == f"<ObjectDoesNotExistError: {exc}>"
    assert exc.error_type == "ObjectDoesNotExistError"
    assert exc.host_id == "HID"


def test_str_without_fields_is_the_message() -> None:
    assert str(ServerError("plain")) == "plain"
    assert repr(ServerError("plain")) == "<ServerError: plain>"


def test_str_shows_empty_names_but_not_empty_codes() -> None:
    exc = LibstoreError("m", container_name="", object_name="", code="", request_id="")
    assert str(exc) == "m (container='', object='')"


def test_multipart_error_fields() -> None:
    exc = MultipartUploadError(
        "failed", None, "big", upload_id="UP", part_number=7, http_status=500, code="InternalError"
    )
    assert (exc.upload_id, exc.part_number) == ("UP", 7)
    assert str(exc) == "failed (part=7, object='big', status=500, code=InternalError)"
    assert MultipartUploadError("x").part_number is None
    assert MultipartUploadError("x").upload_id is None


def test_exceptions_pickle_with_their_fields() -> None:
    exc = ContainerDoesNotExistError("gone", None, "bkt", http_status=404, code="NoSuchBucket")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is ContainerDoesNotExistError
    assert (back.value, back.container_name, back.http_status, back.code) == (
        "gone",
        "bkt",
        404,
        "NoSuchBucket",
    )
    assert str(back) == str(exc)
    multi = pickle.loads(pickle.dumps(MultipartUploadError("m", None, "k", part_number=2)))
    assert multi.part_number == 2


def test_provider_names() -> None:
    assert (Provider.S3, Provider.MINIO, Provider.SEAWEEDFS, Provider.LOCAL) == (
        "s3",
        "minio",
        "seaweedfs",
        "local",
    )


# -- the registry --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore the registry and the entry-point flag after each test."""
    saved = dict(registry_module._registry)
    loaded = registry_module._entry_points_loaded
    yield
    registry_module._registry.clear()
    registry_module._registry.update(saved)
    registry_module._entry_points_loaded = loaded


class DummyDriver(StorageDriver):
    name = "Dummy"

    def iterate_containers(self) -> Iterator[Any]:
        return iter(())

    def get_container(self, container_name: str) -> Any:
        raise NotImplementedError

    def create_container(self, container_name: str) -> Any:
        raise NotImplementedError

    def delete_container(self, container: Any) -> bool:
        raise NotImplementedError

    def iterate_container_objects(self, container: Any, prefix: str | None = None) -> Iterator[Any]:
        return iter(())

    def get_object(self, container_name: str, object_name: str) -> Any:
        raise NotImplementedError

    def upload_object(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def upload_object_via_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def delete_object(self, obj: Any) -> bool:
        raise NotImplementedError

    def _read_object(self, obj: Any, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
        return iter(())


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module ``libstore_test_plugin`` defining ``PluginDriver``."""
    name = "libstore_test_plugin"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from libstore.drivers.local import LocalStorageDriver

            class PluginDriver(LocalStorageDriver):
                name = "Plugin"

            NotADriver = dict
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    yield name
    sys.modules.pop(name, None)


def fake_entry_points(*eps: EntryPoint) -> Any:
    calls: list[str] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        calls.append(group)
        return [ep for ep in eps if ep.group == group]

    entry_points.calls = calls  # type: ignore[attr-defined]
    return entry_points


@pytest.mark.parametrize(
    ("provider", "cls"),
    [
        (Provider.S3, S3StorageDriver),
        (Provider.MINIO, MinIOStorageDriver),
        (Provider.SEAWEEDFS, SeaweedFSStorageDriver),
        (Provider.LOCAL, LocalStorageDriver),
    ],
)
def test_bundled_drivers(provider: str, cls: type) -> None:
    assert get_driver(provider) is cls
    assert get_driver(provider) is cls  # cached class, same answer
    assert registry_module._registry[provider] is cls


def test_unknown_provider_lists_known_names() -> None:
    with pytest.raises(LibstoreError) as info:
        get_driver("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in ("local", "minio", "s3", "seaweedfs"):
        assert name in message


def test_set_driver_with_a_class() -> None:
    set_driver("dummy", DummyDriver)
    assert get_driver("dummy") is DummyDriver
    assert registered_drivers()["dummy"] is DummyDriver


def test_set_driver_with_an_import_string(plugin_module: str) -> None:
    set_driver("plug", f"{plugin_module}:PluginDriver")
    assert registered_drivers()["plug"] == f"{plugin_module}:PluginDriver"
    assert plugin_module not in sys.modules  # lazy until asked for
    cls = get_driver("plug")
    assert cls.__name__ == "PluginDriver"
    assert cls.__module__ == plugin_module


def test_set_driver_libcloud_spelling(plugin_module: str) -> None:
    set_driver("plug", plugin_module, "PluginDriver")
    assert get_driver("plug").__name__ == "PluginDriver"


def test_set_driver_refuses_to_clobber() -> None:
    set_driver("dummy", DummyDriver)
    with pytest.raises(LibstoreError, match="clobber"):
        set_driver("dummy", "x.y:Z")
    assert get_driver("dummy") is DummyDriver
    with pytest.raises(LibstoreError):
        set_driver(Provider.S3, DummyDriver)
    assert get_driver(Provider.S3) is S3StorageDriver


def test_set_driver_clobber_replaces() -> None:
    set_driver(Provider.S3, DummyDriver, clobber=True)
    assert get_driver(Provider.S3) is DummyDriver


@pytest.mark.parametrize("bad", [dict, object(), 5, None, LibstoreError])
def test_set_driver_refuses_non_drivers(bad: Any) -> None:
    with pytest.raises(TypeError):
        set_driver("bad", bad)
    assert "bad" not in registered_drivers()


def test_set_driver_refuses_strings_without_a_class() -> None:
    with pytest.raises(ValueError):
        set_driver("bad", "just.a.module")
    assert "bad" not in registered_drivers()


def test_registered_drivers_is_read_only() -> None:
    view = registered_drivers()
    with pytest.raises(TypeError):
        view["x"] = DummyDriver  # type: ignore[index]
    assert set(view) >= {"s3", "minio", "seaweedfs", "local"}


def test_import_failure_names_the_module() -> None:
    set_driver("ghost", "no_such_package_xyz.drivers:Ghost")
    with pytest.raises(LibstoreError) as info:
        get_driver("ghost")
    message = str(info.value)
    assert "'no_such_package_xyz.drivers'" in message
    assert "'no_such_package_xyz'" in message
    assert "'ghost'" in message
    assert isinstance(info.value.__cause__, ImportError)


def test_missing_class_in_module(plugin_module: str) -> None:
    set_driver("half", f"{plugin_module}:Missing")
    with pytest.raises(LibstoreError, match="not a StorageDriver class"):
        get_driver("half")
    set_driver("wrong", f"{plugin_module}:NotADriver")
    with pytest.raises(LibstoreError, match="not a StorageDriver class"):
        get_driver("wrong")


def test_entry_point_discovery(monkeypatch: pytest.MonkeyPatch, plugin_module: str) -> None:
    fake = fake_entry_points(
        EntryPoint("plugged", f"{plugin_module}:PluginDriver", registry_module.ENTRY_POINT_GROUP),
        EntryPoint("other-group", f"{plugin_module}:PluginDriver", "something.else"),
    )
    monkeypatch.setattr(registry_module, "entry_points", fake)
    monkeypatch.setattr(registry_module, "_entry_points_loaded", False)

    assert registered_drivers()["plugged"] == f"{plugin_module}:PluginDriver"
    assert "other-group" not in registered_drivers()
    assert get_driver("plugged").__name__ == "PluginDriver"
    assert fake.calls == ["libstore.drivers"]  # scanned once only


def test_entry_points_never_override_bundled_drivers(
    monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    group = registry_module.ENTRY_POINT_GROUP
    fake = fake_entry_points(
        EntryPoint("s3", f"{plugin_module}:PluginDriver", group),
        EntryPoint("local", f"{plugin_module}:PluginDriver", group),
    )
    monkeypatch.setattr(registry_module, "entry_points", fake)
    monkeypatch.setattr(registry_module, "_entry_points_loaded", False)
    assert get_driver("s3") is S3StorageDriver
    assert get_driver("local") is LocalStorageDriver


def test_entry_point_name_then_set_driver_needs_clobber(
    monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    group = registry_module.ENTRY_POINT_GROUP
    fake = fake_entry_points(EntryPoint("plugged", f"{plugin_module}:PluginDriver", group))
    monkeypatch.setattr(registry_module, "entry_points", fake)
    monkeypatch.setattr(registry_module, "_entry_points_loaded", False)
    with pytest.raises(LibstoreError):
        set_driver("plugged", DummyDriver)
    set_driver("plugged", DummyDriver, clobber=True)
    assert get_driver("plugged") is DummyDriver


def test_broken_entry_point_fails_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    group = registry_module.ENTRY_POINT_GROUP
    fake = fake_entry_points(EntryPoint("broken", "missing_plugin_pkg.mod:Driver", group))
    monkeypatch.setattr(registry_module, "entry_points", fake)
    monkeypatch.setattr(registry_module, "_entry_points_loaded", False)
    assert get_driver(Provider.LOCAL) is LocalStorageDriver
    with pytest.raises(LibstoreError, match="missing_plugin_pkg"):
        get_driver("broken")
