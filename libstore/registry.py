"""The driver registry: ``get_driver``, ``set_driver`` and entry-point discovery.

Bundled drivers are registered as lazy ``"package.module:Class"`` strings, so a
driver's module (and its dependencies) is imported only when first asked for.
Other packages add drivers without patching libstore, either at run time with
:func:`set_driver` or by declaring an entry point in the ``libstore.drivers``
group::

    [options.entry_points]
    libstore.drivers =
        mystore = mypackage.driver:MyStoreDriver

Registration never silently replaces an existing name: pass ``clobber=True``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, overload

from libstore.providers import BUNDLED_PRESET_NAMES, driver_class_name
from libstore.types import LibstoreError, Provider

if TYPE_CHECKING:
    from libstore.base import StorageDriver
    from libstore.drivers.local import LocalStorageDriver
    from libstore.drivers.s3 import MinIOStorageDriver, S3StorageDriver, SeaweedFSStorageDriver
    from libstore.providers import S3ProviderName

__all__ = ["ENTRY_POINT_GROUP", "get_driver", "registered_drivers", "set_driver"]

#: The entry-point group scanned for third-party drivers.
ENTRY_POINT_GROUP = "libstore.drivers"

# internal, mutable: provider name -> "module:Class" string or the class once imported
_registry: dict[str, str | type[StorageDriver]] = {
    Provider.S3: "libstore.drivers.s3:S3StorageDriver",
    Provider.MINIO: "libstore.drivers.s3:MinIOStorageDriver",
    Provider.SEAWEEDFS: "libstore.drivers.s3:SeaweedFSStorageDriver",
    Provider.LOCAL: "libstore.drivers.local:LocalStorageDriver",
}
# Every other S3-compatible provider (and per-region alias) is a preset of the S3 driver,
# bound by a thin class that libstore.drivers.s3_family makes on first use.
for _name in sorted(BUNDLED_PRESET_NAMES):
    _registry.setdefault(_name, f"libstore.drivers.s3_family:{driver_class_name(_name)}")
del _name
_lock = threading.RLock()
_entry_points_loaded = False

#: external, immutable view of the registry.
registry: Mapping[str, str | type[StorageDriver]] = MappingProxyType(_registry)


def registered_drivers() -> Mapping[str, str | type[StorageDriver]]:
    """Return a read-only view of every registered provider name, entry points included."""
    _load_entry_points()
    return registry


def _load_entry_points() -> None:
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            # Explicit registrations and bundled drivers win over discovered ones.
            _registry.setdefault(ep.name, ep.value)


def set_driver(
    provider: str,
    module: str | type[StorageDriver],
    klass: str | None = None,
    *,
    clobber: bool = False,
) -> None:
    """Register a driver under ``provider``.

    Accepts the class itself, a ``"package.module:Class"`` string, or libcloud's
    spelling ``set_driver(provider, "package.module", "Class")``.

    Args:
        provider: The name users pass to :func:`get_driver`.
        module: The driver class, or where to import it from.
        klass: The class name, when ``module`` is a module path.
        clobber: Replace an existing registration instead of refusing.

    Raises:
        LibstoreError: ``provider`` is registered already and ``clobber`` is false.
        TypeError: ``module`` is a class that is not a :class:`StorageDriver`.
    """
    from libstore.base import StorageDriver

    target: str | type[StorageDriver]
    if isinstance(module, str):
        target = f"{module}:{klass}" if klass else module
        if ":" not in target:
            raise ValueError(f"{target!r} is not of the form 'package.module:Class'")
    elif isinstance(module, type) and issubclass(module, StorageDriver):
        target = module
    else:
        raise TypeError(f"{module!r} is not a StorageDriver subclass or an import path")
    _load_entry_points()
    with _lock:
        if provider in _registry and not clobber:
            raise LibstoreError(
                f"a driver is already registered as {provider!r}; pass clobber=True to replace it"
            )
        _registry[provider] = target


@overload
def get_driver(provider: Literal["s3"]) -> type[S3StorageDriver]: ...
@overload
def get_driver(provider: Literal["minio"]) -> type[MinIOStorageDriver]: ...
@overload
def get_driver(provider: Literal["seaweedfs"]) -> type[SeaweedFSStorageDriver]: ...
@overload
def get_driver(provider: Literal["local"]) -> type[LocalStorageDriver]: ...
@overload
def get_driver(provider: S3ProviderName) -> type[S3StorageDriver]: ...
@overload
def get_driver(provider: str) -> type[StorageDriver]: ...


def get_driver(provider: str) -> type[StorageDriver]:
    """Return the driver class registered as ``provider``.

    Raises:
        LibstoreError: No driver is registered under that name, or its module
            could not be imported (the message says which package to install).
    """
    from libstore.base import StorageDriver

    _load_entry_points()
    with _lock:
        target = _registry.get(provider)
    if target is None:
        known = ", ".join(sorted(_registry))
        raise LibstoreError(f"no driver registered for provider {provider!r}; known: {known}")
    if isinstance(target, type):
        return target
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        top = module_name.split(".")[0]
        raise LibstoreError(
            f"driver {provider!r} needs module {module_name!r}, which failed to import "
            f"({exc}); is the package providing it ({top!r}) installed?"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, StorageDriver)):
        raise LibstoreError(f"{target!r} (provider {provider!r}) is not a StorageDriver class")
    with _lock:
        if _registry.get(provider) == target:
            _registry[provider] = cls
    return cls
