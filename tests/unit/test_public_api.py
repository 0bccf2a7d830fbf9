"""The public surface of ``import libstore``: ``__all__`` without drift, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import libstore


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user sees on the module, submodules excluded (they are reached as such)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_matches_what_is_exported() -> None:
    assert set(libstore.__all__) - {"__version__"} == _public_names(libstore)


def test_all_has_no_duplicates_and_is_sorted() -> None:
    assert len(libstore.__all__) == len(set(libstore.__all__))
    assert libstore.__all__ == sorted(libstore.__all__)


def test_every_name_in_all_resolves() -> None:
    for name in libstore.__all__:
        assert hasattr(libstore, name), name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from libstore import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(libstore.__all__)


def test_exported_objects_come_from_their_home_modules() -> None:
    from libstore import base, config, registry
    from libstore import types as types_module
    from libstore.http import events, options, retry

    for name in libstore.__all__:
        if name == "__version__":
            continue
        value = getattr(libstore, name)
        homes = [
            m
            for m in (base, config, registry, types_module, events, options, retry)
            if getattr(m, name, None) is value
        ]
        assert homes, name


def test_version_is_a_string() -> None:
    assert isinstance(libstore.__version__, str)
    assert libstore.__version__.count(".") >= 1


def test_all_exceptions_of_types_are_reexported() -> None:
    from libstore import types as types_module

    assert set(types_module.__all__) <= set(libstore.__all__)


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


def test_import_libstore_is_light() -> None:
    loaded = _modules_after("import libstore")
    assert "libstore" in loaded
    for heavy in (
        "libstore.drivers.s3",
        "libstore.drivers.local",
        "libstore.testing",
        "libstore.testing.conformance",
        "libstore.http.session",
        "pytest",
        "requests",
        "lxml",
    ):
        assert heavy not in loaded, heavy


def test_get_driver_imports_only_the_driver_asked_for() -> None:
    loaded = _modules_after("from libstore import get_driver, Provider\nget_driver(Provider.LOCAL)")
    assert "libstore.drivers.local" in loaded
    assert "libstore.drivers.s3" not in loaded
    assert "libstore.testing" not in loaded
    loaded = _modules_after("from libstore import get_driver, Provider\nget_driver(Provider.S3)")
    assert "libstore.drivers.s3" in loaded
    assert "libstore.testing" not in loaded
