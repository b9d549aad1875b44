"""Descriptors from a descriptor-set file or from generated modules give the same edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app import Edge
from edge.descriptors import Catalog, DescriptorError
from tests.edge.edge_protos import Compiled

UPSTREAMS = {"edgetest.v1.LibraryService": "127.0.0.1:1"}
PALMGRID_DESCRIPTORS = Path(__file__).parents[2] / "generated" / "palmgrid" / "descriptors.binpb"


def routes(edge: Edge) -> set[tuple[str, str, str]]:
    return {
        (r.binding.http_method, r.binding.template.source, r.spec.method.full_name)
        for r in edge.routes
    }


def test_generated_modules_and_descriptor_set_route_alike() -> None:
    # PalmGrid's own generated modules and descriptor set: the test protos have no
    # generated modules (their messages come from the descriptor set, tests/edge/edge_protos.py).
    upstreams = {"palmgrid.billing.v1.BillingService": "127.0.0.1:1"}
    from_set = Edge(Catalog.from_descriptor_set(PALMGRID_DESCRIPTORS), upstreams)
    modules = Catalog.from_modules(["palmgrid.billing.v1.billing_service_pb2"])
    from_modules = Edge(modules, upstreams)
    assert routes(from_set) == routes(from_modules)
    assert len(routes(from_set)) > 10


def test_the_test_protos_route_every_binding(edgetest: Compiled) -> None:
    assert len(routes(Edge(Catalog.from_descriptor_set(edgetest.descriptor_set), UPSTREAMS))) == 22


def test_comments_come_from_source_info(edgetest: Compiled) -> None:
    catalog = Catalog.from_descriptor_set(edgetest.descriptor_set)
    assert catalog.comment("edgetest.v1.LibraryService.GetBook") == "Gets a book."
    assert catalog.comment("edgetest.v1.Book.title") == "The title."
    assert catalog.comment("edgetest.v1.Color.COLOR_RED") == "Red."


def test_palmgrid_generated_modules_load() -> None:
    catalog = Catalog.from_modules(["palmgrid.billing.v1.billing_service_pb2"])
    edge = Edge(catalog, {"palmgrid.billing.v1.BillingService": "127.0.0.1:1"})
    paths = {r.binding.template.source for r in edge.routes}
    assert "/v1/{parent=customers/*}/monthlyUsage" in paths


def test_missing_import_in_a_descriptor_set_is_reported(edgetest: Compiled) -> None:
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(edgetest.descriptor_set.read_bytes())
    only_service = [f for f in fds.file if f.name.endswith("library_service.proto")]
    with pytest.raises(DescriptorError, match="--include_imports"):
        Catalog.from_file_protos(only_service)
