"""Decorators that turn driver methods into tracked, logged high-level operations.

A driver marks its operations with :func:`observed`::

    class MyDriver(StorageDriver):
        @observed("upload")
        def upload_object(self, file_path, container, object_name, ...): ...

        @observed("download")
        def _read_object(self, obj, start_bytes, end_bytes): ...  # a generator

Each call then runs as a transfer (:func:`libstore.http.events.track_transfer`):
its requests and retries are counted, one INFO line is logged on the driver's
logger (``libstore.drivers.<module>``) when it ends, a ``transfer_finished``
event goes to the driver's ``hooks``, and :func:`~libstore.http.events.last_transfer_stats`
returns its statistics. Calls made while another operation is in progress (a
download inside a copy, parts inside an upload) join that operation.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar, cast

from libstore.http.events import (
    _CURRENT,
    EventHooks,
    TransferStats,
    _current,
    _report_finished,
    _Transfer,
    track_transfer,
)
from libstore.http.logs import get_logger

__all__ = ["OPERATIONS", "observed"]

#: The high-level operations drivers report.
OPERATIONS = frozenset({"upload", "download", "delete", "copy"})

_F = TypeVar("_F", bound=Callable[..., Any])
_LOGGERS: dict[type, logging.Logger] = {}


def _logger_for(driver: object) -> logging.Logger:
    cls = type(driver)
    found = _LOGGERS.get(cls)
    if found is None:
        module = cls.__module__
        name = module if module.startswith("libstore.") else f"libstore.drivers.{module}"
        found = _LOGGERS[cls] = get_logger(name)
    return found


_DESCRIBED = ("obj", "container", "object_name", "start_bytes", "start", "end_bytes", "end")


def _argument_reader(
    signature: inspect.Signature,
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """A function picking the arguments :func:`_describe` reads out of a call.

    Built once per decorated method (``Signature.bind`` on every call costs more
    than a small request's own work): positions and defaults come from the signature.
    """
    where: list[tuple[str, int | None, Any]] = []
    for index, (name, parameter) in enumerate(signature.parameters.items()):
        if name not in _DESCRIBED:
            continue
        positional = parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        where.append((name, index if positional else None, default))

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, index, default in where:
            if name in kwargs:
                found[name] = kwargs[name]
            elif index is not None and index < len(args):
                found[name] = args[index]
            else:
                found[name] = default
        return found

    return read


def _describe(
    reader: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[str | None, str | None, int | None]:
    """(container, object name, size to move) from a driver method's arguments."""
    bound = reader(args, kwargs)
    obj = bound.get("obj")
    if obj is not None and hasattr(obj, "container"):
        size = getattr(obj, "size", None)
        start = bound.get("start_bytes", bound.get("start"))
        end = bound.get("end_bytes", bound.get("end"))
        if isinstance(size, int) and isinstance(start, int):
            size = (end if isinstance(end, int) else size) - start
        container = getattr(obj.container, "name", None)
        return container, getattr(obj, "name", None), size if isinstance(size, int) else None
    container_arg = bound.get("container")
    container = getattr(container_arg, "name", container_arg)
    name = bound.get("object_name")
    return (
        container if isinstance(container, str) else None,
        name if isinstance(name, str) else None,
        None,
    )


def observed(operation: str, *, stream: bool = False) -> Callable[[_F], _F]:
    """Make a driver method a tracked operation (see the module docstring).

    Works on plain methods and on methods returning an iterator of chunks
    (generators, or ``stream=True``): the operation then ends when the iterator
    is exhausted or closed, and every chunk's length counts as bytes moved. When
    a successful plain operation counted no bytes itself, an upload or copy
    counts the size of the object it returns and a download the size of the
    range it was asked for.

    Args:
        operation: One of :data:`OPERATIONS`.
        stream: The method returns an iterator of byte chunks to track.

    Returns:
        The decorator.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(OPERATIONS)}")

    def decorate(fn: _F) -> _F:
        signature = _argument_reader(inspect.signature(fn))

        if stream or inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
                if _current() is not None:
                    return cast(Iterator[Any], fn(self, *args, **kwargs))
                container, name, size = _describe(signature, (self, *args), kwargs)
                return _tracked_iterator(
                    fn(self, *args, **kwargs),
                    TransferStats(operation, container, name, size),
                    getattr(self, "hooks", None),
                    getattr(self, "name", None),
                    _logger_for(self),
                )

            return cast(_F, generator)

        @functools.wraps(fn)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _current() is not None:
                return fn(self, *args, **kwargs)
            container, name, size = _describe(signature, (self, *args), kwargs)
            with track_transfer(
                operation,
                container=container,
                object_name=name,
                bytes_total=size if operation != "delete" else None,
                hooks=getattr(self, "hooks", None),
                driver=getattr(self, "name", None),
                logger=_logger_for(self),
            ) as stats:
                result = fn(self, *args, **kwargs)
                if stats.bytes_transferred == 0:
                    moved = getattr(result, "size", None) if operation != "download" else size
                    if operation != "delete" and isinstance(moved, int):
                        stats.add_bytes(moved)
                return result

        return cast(_F, method)

    return decorate


def _tracked_iterator(
    inner: Iterator[Any],
    stats: TransferStats,
    hooks: EventHooks | None,
    driver: str | None,
    logger: logging.Logger,
) -> Generator[Any, None, None]:
    """Run ``inner`` as the current transfer only while it computes each item.

    The context variable is set around each step and reset before the item is
    yielded, so a suspended download never leaks into the caller's context.
    """
    transfer = _Transfer(stats, hooks, driver)
    failure: BaseException | None = None
    try:
        while True:
            token = _CURRENT.set(transfer)
            try:
                item = next(inner)
            except StopIteration:
                return
            finally:
                _CURRENT.reset(token)
            size = len(item) if isinstance(item, bytes | bytearray | memoryview) else 0
            if size:
                stats.add_bytes(size)
            yield item
    except BaseException as exc:
        failure = None if isinstance(exc, GeneratorExit) else exc
        raise
    finally:
        token = _CURRENT.set(transfer)
        try:
            close = getattr(inner, "close", None)
            if close is not None:
                close()
        finally:
            _CURRENT.reset(token)
        total = stats.bytes_total
        if failure is None and total is not None and stats.bytes_transferred < total:
            failure = _Abandoned(stats.bytes_transferred, total)
        stats.finish(failure)
        _report_finished(stats, hooks, driver, logger)


class _Abandoned(Exception):
    """A streamed download closed before its last byte."""

    def __init__(self, received: int, expected: int) -> None:
        super().__init__(f"the stream was closed after {received} of {expected} bytes")
