"""contrib/otel_hooks.py with the real OpenTelemetry SDK (in-memory exporters)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is a test extra")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contrib"))

from otel_hooks import OpenTelemetryHooks

from libstore.http.events import Event, EventHooks, TransferStats

SIGNED = "https://s3.example.com/bkt/key?X-Amz-Signature=<redacted>&partNumber=1"


def _setup() -> tuple[EventHooks, InMemorySpanExporter, InMemoryMetricReader]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    hooks = EventHooks(raise_errors=True)
    OpenTelemetryHooks(
        tracer_provider.get_tracer("libstore-test"), meter_provider.get_meter("libstore-test")
    ).install(hooks)
    return hooks, exporter, reader


def _metrics(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = list(metric.data.data_points)
    return found


def test_requests_retries_and_transfers_become_metrics_and_spans() -> None:
    hooks, exporter, reader = _setup()
    stats = TransferStats("upload", "bkt", "key", bytes_transferred=10, requests=3, retries=1)
    stats.finish()
    for event in (
        Event("request_sent", method="PUT", url=SIGNED, bytes=10),
        Event("response_received", method="PUT", url=SIGNED, status=503, duration=0.02),
        Event("retry_scheduled", method="PUT", url=SIGNED, status=503, delay=0.1),
        Event(
            "request_failed",
            method="PUT",
            url=SIGNED,
            attempt=2,
            duration=0.01,
            error="TransportError: PUT ... failed: ConnectionError",
        ),
        Event("retry_scheduled", method="PUT", url=SIGNED, attempt=2, error="ConnectionError"),
        Event(
            "response_received",
            method="PUT",
            url=SIGNED,
            status=200,
            attempt=3,
            duration=0.03,
            request_id="REQ",
            operation="upload",
        ),
        Event("part_completed", bytes=10, part_number=1, operation="upload"),
        Event(
            "transfer_finished",
            bytes=10,
            duration=0.2,
            operation="upload",
            container="bkt",
            object_name="key",
            stats=stats,
        ),
    ):
        hooks.emit(event)

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["HTTP PUT", "HTTP PUT", "HTTP PUT", "libstore upload"]
    first, failed, ok, transfer = spans
    assert first.kind == SpanKind.CLIENT and transfer.kind == SpanKind.INTERNAL
    assert first.attributes is not None and ok.attributes is not None
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code == StatusCode.ERROR
    assert failed.status.status_code == StatusCode.ERROR
    assert ok.status.status_code == StatusCode.UNSET
    assert ok.attributes["url.full"] == "https://s3.example.com/bkt/key"  # no query at all
    assert ok.attributes["http.request.resend_count"] == 2
    assert ok.attributes["aws.request_id"] == "REQ"
    assert ok.end_time is not None and ok.start_time is not None
    assert abs((ok.end_time - ok.start_time) / 1e9 - 0.03) < 0.01
    assert transfer.attributes is not None and transfer.attributes["libstore.retries"] == 1

    metrics = _metrics(reader)
    assert sum(p.count for p in metrics["http.client.request.duration"]) == 3
    assert sum(p.value for p in metrics["libstore.http.retries"]) == 2
    reasons = {p.attributes["libstore.reason"] for p in metrics["libstore.http.retries"]}
    assert reasons == {"503", "transport"}
    assert sum(p.value for p in metrics["libstore.transfer.bytes"]) == 10
    assert sum(p.value for p in metrics["libstore.transfer.parts"]) == 1
    assert [p.attributes["libstore.outcome"] for p in metrics["libstore.transfer.duration"]] == [
        "ok"
    ]
