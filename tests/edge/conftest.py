"""Fixtures for the edge's tests: compiled test protos, a library server, a running edge."""

from __future__ import annotations

import pytest

from tests.edge.edge_protos import Compiled, compile_protos


@pytest.fixture(scope="session")
def edgetest(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The `edgetest.v1` protos, compiled; their modules importable as `edgetest.v1.*`."""
    return compile_protos("edgetest/v1", tmp_path_factory.mktemp("edgetest"))
