"""OpenTelemetry metrics and traces from libstore's event hooks (an example adapter).

libstore does not depend on OpenTelemetry: this file shows how its event hooks
(:class:`libstore.EventHooks`) feed any metrics or tracing system. Copy it into
your application, or use it from here::

    from opentelemetry import metrics, trace
    from libstore import ClientOptions, EventHooks, get_driver, Provider
    from otel_hooks import OpenTelemetryHooks

    hooks = EventHooks()
    OpenTelemetryHooks(trace.get_tracer("libstore"), metrics.get_meter("libstore")).install(hooks)
    driver = get_driver(Provider.S3)(key, secret, options=ClientOptions(hooks=hooks))

What it records (names follow OpenTelemetry's HTTP semantic conventions where
they exist):

* ``http.client.request.duration`` (histogram, seconds): one value per HTTP
  attempt, with ``http.request.method``, ``http.response.status_code`` (or
  ``error.type`` for attempts that got no reply), ``server.address`` and
  ``libstore.operation``;
* ``libstore.http.retries`` (counter): retries scheduled, by method and reason
  (the status code, or ``transport``);
* ``libstore.transfer.bytes`` (counter, bytes) and ``libstore.transfer.duration``
  (histogram, seconds): per finished upload, download, delete or copy, with
  ``libstore.operation`` and ``libstore.outcome`` (``ok``/``error``);
* ``libstore.transfer.parts`` (counter): parts completed by multipart transfers;
* a ``CLIENT`` span per HTTP attempt (``HTTP PUT``…) and an ``INTERNAL`` span per
  finished operation (``libstore upload``…), both created when they end, from
  the event's duration, as children of the span current in the calling code.

URLs on events are already redacted by libstore, so no signature or token
reaches a span attribute; the adapter records only the scheme, host and path.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from libstore.http.events import Event, EventHooks

__all__ = ["OpenTelemetryHooks"]


def _ns_ago(seconds: float | None, now_ns: int) -> int:
    return now_ns - int((seconds or 0.0) * 1e9)


class OpenTelemetryHooks:
    """Turns libstore events into OpenTelemetry metrics and spans.

    Args:
        tracer: An ``opentelemetry.trace.Tracer``, or ``None`` for no spans.
        meter: An ``opentelemetry.metrics.Meter``, or ``None`` for no metrics.
    """

    def __init__(self, tracer: Any = None, meter: Any = None) -> None:
        self.tracer = tracer
        self.meter = meter
        if meter is not None:
            self.request_duration = meter.create_histogram(
                "http.client.request.duration", unit="s", description="HTTP attempts by libstore"
            )
            self.retries = meter.create_counter(
                "libstore.http.retries", unit="{retry}", description="Retries scheduled"
            )
            self.transfer_bytes = meter.create_counter(
                "libstore.transfer.bytes", unit="By", description="Payload bytes moved"
            )
            self.transfer_duration = meter.create_histogram(
                "libstore.transfer.duration", unit="s", description="Duration of operations"
            )
            self.parts = meter.create_counter(
                "libstore.transfer.parts", unit="{part}", description="Parts completed"
            )

    def install(self, hooks: EventHooks) -> OpenTelemetryHooks:
        """Register the adapter's callbacks on ``hooks``; returns ``self``."""
        hooks.register(["response_received", "request_failed"], self._attempt)
        hooks.register("retry_scheduled", self._retry)
        hooks.register("part_completed", self._part)
        hooks.register("transfer_finished", self._transfer)
        return self

    # -- callbacks ----------------------------------------------------------------------------

    def _attempt(self, event: Event) -> None:
        parts = urlsplit(event.url)
        attributes: dict[str, Any] = {
            "http.request.method": event.method,
            "server.address": parts.hostname or "",
        }
        if parts.port:
            attributes["server.port"] = parts.port
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.kind == "request_failed":
            attributes["error.type"] = (event.error or "error").split(":", 1)[0]
        elif event.status is not None and event.status >= 400:
            attributes["error.type"] = str(event.status)
        if event.operation:
            attributes["libstore.operation"] = event.operation
        if self.meter is not None and event.duration is not None:
            self.request_duration.record(event.duration, attributes)
        if self.tracer is not None:
            span_attributes = dict(attributes)
            span_attributes["url.full"] = f"{parts.scheme}://{parts.netloc}{parts.path}"
            span_attributes["http.request.resend_count"] = event.attempt - 1
            if event.request_id:
                span_attributes["aws.request_id"] = event.request_id
            self._span(f"HTTP {event.method}", event, span_attributes, client=True)

    def _retry(self, event: Event) -> None:
        if self.meter is not None:
            reason = str(event.status) if event.status is not None else "transport"
            self.retries.add(1, {"http.request.method": event.method, "libstore.reason": reason})

    def _part(self, event: Event) -> None:
        if self.meter is not None:
            self.parts.add(1, {"libstore.operation": event.operation or ""})

    def _transfer(self, event: Event) -> None:
        attributes = {
            "libstore.operation": event.operation or "",
            "libstore.outcome": "ok" if event.error is None else "error",
        }
        if self.meter is not None:
            self.transfer_bytes.add(event.bytes or 0, attributes)
            if event.duration is not None:
                self.transfer_duration.record(event.duration, attributes)
        if self.tracer is not None:
            span_attributes: dict[str, Any] = dict(attributes)
            span_attributes["libstore.bytes"] = event.bytes or 0
            if event.container:
                span_attributes["libstore.container"] = event.container
            if event.object_name:
                span_attributes["libstore.object"] = event.object_name
            if event.stats is not None:
                span_attributes["libstore.requests"] = event.stats.requests
                span_attributes["libstore.retries"] = event.stats.retries
                span_attributes["libstore.parts"] = event.stats.parts
            self._span(f"libstore {event.operation}", event, span_attributes, client=False)

    def _span(self, name: str, event: Event, attributes: dict[str, Any], *, client: bool) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        now = time.time_ns()
        span = self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
            start_time=_ns_ago(event.duration, now),
            attributes=attributes,
        )
        failed = event.error is not None and event.kind != "response_received"
        if failed or "error.type" in attributes:
            span.set_status(Status(StatusCode.ERROR, event.error or attributes.get("error.type")))
        span.end(end_time=now)
