"""Driver classes of the S3-compatible providers: one thin subclass per preset, made on demand.

``get_driver(Provider.WASABI)`` returns ``WasabiStorageDriver`` from this module: an
:class:`~libstore.drivers.s3.S3StorageDriver` whose only difference is the name of
the :mod:`libstore.providers` preset it reads (and its ``name``/``website`` for
messages). Nothing else is specialised per vendor; the behaviour lives in the preset.

Classes are created on first access (``module.__getattr__``), for bundled presets and
for those added with :func:`libstore.providers.register_preset` alike, and cached::

    from libstore.drivers.s3_family import driver_for_preset

    R2 = driver_for_preset("cloudflare_r2")
    driver = R2("KEY", "SECRET", account="0123456789abcdef0123456789abcdef")
"""

from __future__ import annotations

import threading
from typing import ClassVar

from libstore.drivers.s3 import MinIOStorageDriver, S3StorageDriver, SeaweedFSStorageDriver
from libstore.providers import PRESETS, driver_class_name, get_preset

__all__ = ["driver_for_preset"]

# The classes that exist in libstore.drivers.s3 already, by preset name.
_DEFINED: dict[str, type[S3StorageDriver]] = {
    "s3": S3StorageDriver,
    "minio": MinIOStorageDriver,
    "seaweedfs": SeaweedFSStorageDriver,
}
_classes: dict[str, type[S3StorageDriver]] = {}
_lock = threading.Lock()


def driver_for_preset(name: str) -> type[S3StorageDriver]:
    """Return the driver class bound to the preset ``name`` (created once, then cached).

    Raises:
        InvalidArgumentError: No preset has that name.
    """
    if name in _DEFINED:
        return _DEFINED[name]
    preset = get_preset(name)
    with _lock:
        cls = _classes.get(name)
        if cls is None:
            cls = _make_class(name, preset.title, preset.website, preset.endpoint is None)
            _classes[name] = cls
    return cls


def _make_class(preset: str, title: str, site: str, host_required: bool) -> type[S3StorageDriver]:
    class_name = driver_class_name(preset)

    class _Bound(S3StorageDriver):
        preset_name: ClassVar[str] = preset
        name: ClassVar[str] = title
        website: ClassVar[str] = site
        requires_host: ClassVar[bool] = host_required

    _Bound.__name__ = _Bound.__qualname__ = class_name
    _Bound.__module__ = __name__
    _Bound.__doc__ = (
        f"{title}: the S3 driver bound to the ``{preset!r}`` preset of :mod:`libstore.providers`."
    )
    return _Bound


def __getattr__(attr: str) -> type[S3StorageDriver]:
    # "WasabiStorageDriver" -> the preset whose class name that is.
    for name in list(PRESETS):
        if driver_class_name(name) == attr:
            return driver_for_preset(name)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
