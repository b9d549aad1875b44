"""Prometheus metrics of a service process, and the port they are scraped on.

- `palmgrid_rpc_requests_total{service, method, code}` and
  `palmgrid_rpc_duration_seconds{service, method}`: every call the runtime's pipeline
  serves (errors are the calls whose `code` is not OK);
- `palmgrid_db_pool_connections{service, state}`: the engine's pool (`checked_out`,
  `idle`, `overflow`, `size`), read at scrape time;
- gauges a service adds with `register_gauge` (notification's outbox depth and age).

Metrics live in prometheus-client's default registry; `start_metrics_server` serves it
on `PALMGRID_<PROCESS>_METRICS_PORT` (docs/observability.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from palmlib.telemetry import latency_histogram

__all__ = [
    "RPC_DURATION",
    "RPC_REQUESTS",
    "observe_rpc",
    "register_gauge",
    "start_metrics_server",
    "watch_engine_pool",
]

log = logging.getLogger(__name__)

RPC_REQUESTS = Counter(
    "palmgrid_rpc_requests",
    "RPCs served, by service, method and status code.",
    ["service", "method", "code"],
)
RPC_DURATION = latency_histogram(
    "palmgrid_rpc_duration_seconds",
    "Time to serve an RPC, pipeline included.",
    ["service", "method"],
)


def observe_rpc(service: str, method: str, code: str, seconds: float) -> None:
    RPC_REQUESTS.labels(service, method, code).inc()
    RPC_DURATION.labels(service, method).observe(seconds)


class _Gauges(Collector):
    """Gauges read when scraped: name → (help, label names, {label values: read})."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gauges: dict[str, tuple[str, tuple[str, ...], dict[tuple[str, ...], Reader]]] = {}

    def add(self, name: str, documentation: str, labels: Mapping[str, str], read: Reader) -> None:
        names = tuple(sorted(labels))
        with self._lock:
            _, known, reads = self._gauges.setdefault(name, (documentation, names, {}))
            if known != names:
                raise ValueError(f"{name} has labels {known}, not {names}")
            # A service built again (tests) replaces its reader rather than adding one.
            reads[tuple(labels[n] for n in names)] = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            gauges = {k: (d, n, dict(r)) for k, (d, n, r) in self._gauges.items()}
        for name, (documentation, names, reads) in gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=list(names))
            for values, read in reads.items():
                try:
                    family.add_metric(list(values), float(read()))
                except Exception as exc:  # a scrape never fails for one unreadable value
                    log.warning("metric not read", extra={"metric": name, "error": str(exc)})
            yield family


Reader = Callable[[], float]
_gauges = _Gauges()
REGISTRY.register(_gauges)


def register_gauge(name: str, documentation: str, labels: Mapping[str, str], read: Reader) -> None:
    """A gauge whose value `read()` gives at each scrape (one reader per label set)."""
    _gauges.add(name, documentation, labels, read)


def watch_engine_pool(service: str, engine: Engine) -> None:
    """`palmgrid_db_pool_connections{service, state}` from the engine's pool."""
    pool = engine.pool
    states: dict[str, Callable[[], float]] = {
        "checked_out": lambda: getattr(pool, "checkedout", lambda: 0)(),
        "idle": lambda: getattr(pool, "checkedin", lambda: 0)(),
        "overflow": lambda: max(0, getattr(pool, "overflow", lambda: 0)()),
        "size": lambda: getattr(pool, "size", lambda: 0)(),
    }
    for state, read in states.items():
        register_gauge(
            "palmgrid_db_pool_connections",
            "Database connections of the service's pool, by state.",
            {"service": service, "state": state},
            read,
        )


def start_metrics_server(host: str, port: int) -> WSGIServer:
    """Serve the registry on host:port (0: any free port) in a daemon thread; the
    server (`server_port`, `shutdown()`)."""
    server, _thread = start_http_server(port, addr=host)
    return server
