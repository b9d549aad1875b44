"""An in-memory span exporter for tests, installed once per test process.

OpenTelemetry allows one global tracer provider per process, so the tests that look at
spans share this one. Its sampler records only while a test module has switched it on
(`recording()`): the rest of the suite runs with spans dropped at once, as with tracing
off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult


class _Switch(Sampler):
    on = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (ALWAYS_ON if self.on else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "tests.spans switch"


_lock = threading.Lock()
_switch = _Switch()
_exporter = InMemorySpanExporter()
_installed = False


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            provider = TracerProvider(sampler=_switch)
            provider.add_span_processor(SimpleSpanProcessor(_exporter))
            trace.set_tracer_provider(provider)
            _installed = True


@contextmanager
def recording() -> Iterator[InMemorySpanExporter]:
    """Spans are recorded into the returned exporter until the block ends."""
    _install()
    _exporter.clear()
    _switch.on = True
    try:
        yield _exporter
    finally:
        _switch.on = False
        _exporter.clear()


def hex_id(value: int, width: int = 32) -> str:
    return format(value, f"0{width}x")


def by_trace(spans: Sequence[ReadableSpan], trace_id: str) -> list[ReadableSpan]:
    """The spans of one trace (trace id as 32 hex digits)."""
    return [s for s in spans if s.context is not None and hex_id(s.context.trace_id) == trace_id]
