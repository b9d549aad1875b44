"""`python -m edge serve …` with the edge's tracing taken out, for the tracing-cost run
of `python -m bench edge --tracing-cost`: the front span, its naming and the
`traceparent` it hands upstream and to the phone become no-ops, so the difference to
the ordinary edge (tracing off: no OTEL_* variables) is what the instrumentation costs
when nothing is recorded. Metrics and logs stay as they are in both."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import edge.app
import edge.stages
from edge.__main__ import main


@contextlib.contextmanager
def _no_span(method: str, headers: Any) -> Iterator[None]:
    yield None


def _nothing(*args: Any) -> str:
    return ""


def _untraced() -> None:
    edge.app.request_span = _no_span  # type: ignore[assignment,misc]
    edge.app.finish_span = lambda *args: None  # type: ignore[assignment]
    edge.app.traceparent = _nothing  # type: ignore[assignment]
    edge.stages.traceparent = _nothing  # type: ignore[assignment]


if __name__ == "__main__":
    _untraced()
    sys.exit(main(sys.argv[1:]))
