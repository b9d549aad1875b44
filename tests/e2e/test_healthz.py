"""GET /healthz on the real edge reports each dependency: every upstream service's
grpc.health state and every Memcached node's. A node that is down is reported and
does not fail the check (the cache is optional); a service that is down does (503)."""

from __future__ import annotations

import httpx

from tests.e2e.system import ROUTED, System

# It kills the Memcached and stops a service.
OWN_SYSTEM = True


def _health(system: System) -> httpx.Response:
    return httpx.get(f"{system.url}/healthz", verify=str(system.ca_file), timeout=15)


def test_healthz_reports_the_memcached_nodes_and_the_upstreams(system: System) -> None:
    node = system.memcached.address
    routed = {name for names in ROUTED.values() for name in names}

    first = _health(system)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.json() == {
        "status": "SERVING",
        "services": dict.fromkeys(sorted(routed), "SERVING"),
        "memcached": {node: "UP"},
    }

    system.memcached.process.kill()
    system.memcached.process.wait()
    without_cache = _health(system)
    assert without_cache.status_code == 200
    assert without_cache.json()["memcached"] == {node: "DOWN"}

    system.services["care"].stop()
    without_care = _health(system)
    assert without_care.status_code == 503
    report = without_care.json()
    assert report["status"] == "NOT_SERVING"
    assert report["services"]["palmgrid.care.v1.CareService"] == "UNAVAILABLE"
    assert report["services"]["palmgrid.billing.v1.BillingService"] == "SERVING"
    assert report["memcached"] == {node: "DOWN"}
