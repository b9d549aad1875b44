"""Prometheus metrics after real traffic through the edge: the edge's own `/metrics`
(requests and latency per route, cache hits and misses), refused to anything relayed by
a proxy; a service's metrics port (calls and latency per RPC, its database pool) and
the notification outbox's depth."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from clients.edge_client import EdgeClient
from servers.runtime.metrics import start_metrics_server
from tests.e2e.conftest import demo_customer
from tests.e2e.system import System
from tests.scrape import scrape, value

BALANCE = "/v1/{name=customers/*/balance}"
GET_BALANCE = "/palmgrid.billing.v1.BillingService/GetBalance"
# The process's metrics registry reads each gauge from the service that registered it
# last: the module's own system, started after any other.
OWN_SYSTEM = True


def test_counters_move_with_traffic(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    edge_url = f"{system.url}/metrics"
    tls = {"verify": str(system.ca_file)}
    metrics_server = start_metrics_server("127.0.0.1", 0)
    service_url = f"http://127.0.0.1:{metrics_server.server_port}/metrics"
    edge_before, service_before = scrape(edge_url, **tls), scrape(service_url)

    client = new_customer(5)  # binding the customer queues a code in the outbox
    assert client.balance_reply(demo_customer(5)).headers["x-cache"] == "MISS"
    assert client.balance_reply(demo_customer(5)).headers["x-cache"] == "HIT"
    unknown = httpx.get(f"{system.url}/v1/nothing/here", **tls)
    assert unknown.status_code == 404

    edge, service = scrape(edge_url, **tls), scrape(service_url)
    metrics_server.shutdown()

    def moved(after: dict, before: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": BALANCE, "status": "200"}
    assert moved(edge, edge_before, "palmgrid_http_requests_total", **ok) == 2
    latency = {"method": "GET", "route": BALANCE}
    assert moved(edge, edge_before, "palmgrid_http_request_duration_seconds_count", **latency) == 2
    assert moved(edge, edge_before, "palmgrid_http_request_duration_seconds_sum", **latency) > 0
    # Unknown paths share one label value, whatever their text.
    missing = {"method": "GET", "route": "unmatched", "status": "404"}
    assert moved(edge, edge_before, "palmgrid_http_requests_total", **missing) == 1
    cache_hits = sum(
        moved(edge, edge_before, "palmgrid_cache_operations_total", operation=op, outcome="hit")
        for op in ("get", "get_many")
    )
    cache_misses = sum(
        moved(edge, edge_before, "palmgrid_cache_operations_total", operation=op, outcome="miss")
        for op in ("get", "get_many")
    )
    assert cache_hits >= 1 and cache_misses >= 1

    served = {"service": "billing", "method": GET_BALANCE}
    assert moved(service, service_before, "palmgrid_rpc_requests_total", code="OK", **served) == 1
    assert moved(service, service_before, "palmgrid_rpc_duration_seconds_count", **served) == 1
    assert value(service, "palmgrid_db_pool_connections", service="billing", state="size") >= 1
    assert (
        "palmgrid_db_pool_connections",
        frozenset({("service", "billing"), ("state", "checked_out")}),
    ) in service
    # No worker delivers here: the binding code waits in the outbox.
    assert moved(service, service_before, "palmgrid_outbox_depth", service="notification") >= 1
    assert value(service, "palmgrid_outbox_oldest_age_seconds", service="notification") >= 0


def test_metrics_are_not_served_to_a_request_relayed_by_a_proxy(system: System) -> None:
    reply = httpx.get(
        f"{system.url}/metrics",
        verify=str(system.ca_file),
        headers={"X-Forwarded-For": "127.0.0.1"},
    )
    assert reply.status_code == 404
    assert b"palmgrid_http_requests_total" not in reply.content
