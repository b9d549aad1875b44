"""GET /healthz: every upstream through grpc.health.v1."""

from __future__ import annotations

import httpx

from edge.app import Edge
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from tests.edge.edge_harness import RunningEdge
from tests.edge.edge_protos import Compiled
from tests.edge.library_server import start_library_server


def test_all_serving_is_200(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "SERVING",
        "services": {
            "edgetest.v1.LibraryAdminService": "SERVING",
            "edgetest.v1.LibraryService": "SERVING",
        },
    }


def test_one_not_serving_or_unreachable_is_503(edgetest: Compiled, library: int) -> None:
    server, port, _ = start_library_server(edgetest, serving=False)
    try:
        catalog = Catalog.from_descriptor_set(edgetest.descriptor_set)
        edge = Edge(
            catalog,
            {
                "edgetest.v1.LibraryService": f"127.0.0.1:{port}",
                "edgetest.v1.LibraryAdminService": "127.0.0.1:1",
            },
            config=EdgeConfig(health_timeout=1.0),
        )
        with RunningEdge(edge) as running:
            r = httpx.get(running.url + "/healthz", timeout=10)
    finally:
        server.stop(grace=None)
    assert r.status_code == 503
    assert r.json() == {
        "status": "NOT_SERVING",
        "services": {
            "edgetest.v1.LibraryAdminService": "UNAVAILABLE",
            "edgetest.v1.LibraryService": "NOT_SERVING",
        },
    }
