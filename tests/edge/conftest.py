"""Fixtures for the edge's tests: compiled test protos, a library server, a running edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edge.app import Edge
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from tests.edge.edge_harness import RunningEdge
from tests.edge.edge_protos import Compiled, compile_protos
from tests.edge.library_server import start_library_server


@pytest.fixture(scope="session")
def edgetest(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The `edgetest.v1` protos, compiled to a descriptor set (message classes from it)."""
    return compile_protos("edgetest/v1", tmp_path_factory.mktemp("edgetest"))


@pytest.fixture(scope="session")
def library(edgetest: Compiled) -> Iterator[int]:
    """Port of a running LibraryService (serving, with health)."""
    server, port, _ = start_library_server(edgetest)
    yield port
    server.stop(grace=None)


def make_edge(edgetest: Compiled, port: int, **config: Any) -> Edge:
    catalog = Catalog.from_descriptor_set(edgetest.descriptor_set)
    upstreams = {
        "edgetest.v1.LibraryService": f"127.0.0.1:{port}",
        "edgetest.v1.LibraryAdminService": f"127.0.0.1:{port}",
    }
    return Edge(catalog, upstreams, config=EdgeConfig(**config))


@pytest.fixture(scope="session")
def edge_url(edgetest: Compiled, library: int) -> Iterator[str]:
    """Base URL of an edge (default configuration) in front of the library server."""
    with RunningEdge(make_edge(edgetest, library)) as running:
        yield running.url


@pytest.fixture(scope="session")
def client(edge_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge_url, timeout=10) as http:
        yield http
