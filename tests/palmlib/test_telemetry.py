"""Tracing is exported only when the standard OpenTelemetry variables ask for it."""

from __future__ import annotations

import pytest

from palmlib.telemetry import configure_tracing, tracing_requested


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, True),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"},
            False,
        ),
        ({"OTEL_SERVICE_NAME": "billing"}, False),
    ],
)
def test_export_only_when_an_otlp_endpoint_is_set(environ: dict[str, str], requested: bool) -> None:
    assert tracing_requested(environ) is requested


def test_nothing_is_installed_by_default() -> None:
    assert configure_tracing("edge", {}) is False
