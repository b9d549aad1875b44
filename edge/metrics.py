"""The edge's Prometheus metrics and who may read them at `GET /metrics`.

- `palmgrid_http_requests_total{method, route, status}`: every request, by route
  template (`unmatched` when no route answered, so a scan of random paths cannot
  grow the label set); errors are the 4xx/5xx statuses;
- `palmgrid_http_request_duration_seconds{method, route}`;
- the cache's `palmgrid_cache_operations_total{operation, outcome}` (cachetags).

`/metrics` answers only a peer inside `EdgeConfig.metrics_allow` (default loopback)
that came straight to the edge: a request relayed by a proxy (it carries
`X-Forwarded-For`) is a phone's, and gets the same 404 as any unknown path.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

from palmlib.networks import in_networks, parse_networks
from palmlib.telemetry import latency_histogram

__all__ = ["MetricsAccess", "observe_request", "render_metrics"]

HTTP_REQUESTS = Counter(
    "palmgrid_http_requests",
    "HTTP requests answered by the edge, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = latency_histogram(
    "palmgrid_http_request_duration_seconds",
    "Time from the request's arrival to its response (a stream's first bytes).",
    ["method", "route"],
)
UNMATCHED = "unmatched"


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    counter, histogram = _children(method, route or UNMATCHED, status)
    counter.inc()
    histogram.observe(seconds)


# `labels()` checks and joins its arguments on every call, a few µs of each request;
# the label sets are bounded (routes × methods × statuses), so their children are kept.
@functools.lru_cache(maxsize=4096)
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_DURATION.labels(method, route)


def render_metrics() -> tuple[bytes, bytes]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST.encode("ascii")


class MetricsAccess:
    """Who may scrape `/metrics`: direct peers inside the allowed networks."""

    def __init__(self, allow: Iterable[str]) -> None:
        self._networks = parse_networks(allow)

    def allows(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        relayed = any(name == b"x-forwarded-for" for name, _ in headers)
        return not relayed and in_networks(peer, self._networks)
