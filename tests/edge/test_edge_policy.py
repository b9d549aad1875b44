"""Our method options: the default policy, internal methods, rules kept for later stages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from edge.app import Edge
from tests.edge.conftest import make_edge
from tests.edge.edge_harness import RunningEdge
from tests.edge.edge_protos import Compiled
from tests.edge.library_server import CALLS


@pytest.fixture(scope="module")
def public_url(edgetest: Compiled, library: int) -> Iterator[str]:
    with RunningEdge(make_edge(edgetest, library, default_policy="public")) as running:
        yield running.url


def test_default_policy_deny_refuses_without_calling_upstream(client: httpx.Client) -> None:
    before = CALLS["Undeclared"]
    r = client.get("/v1/undeclared/x")
    assert r.status_code == 403
    assert r.json()["code"] == 7
    assert r.json()["details"][0]["reason"] == "PERMISSION_DENIED"
    assert CALLS["Undeclared"] == before


def test_default_policy_public_routes_undeclared_methods(public_url: str) -> None:
    r = httpx.get(public_url + "/v1/undeclared/x", timeout=10)
    assert (r.status_code, r.json()["name"]) == (200, "x")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/reindex/x"),  # access.internal on the method
        ("POST", "/v1/purge"),  # an internal service
        ("POST", "/v1/books:import"),  # client streaming
    ],
)
def test_never_routed(client: httpx.Client, public_url: str, method: str, path: str) -> None:
    assert client.request(method, path, json={}).status_code == 404
    assert httpx.request(method, public_url + path, json={}, timeout=10).status_code == 404


def test_method_rules_are_kept_on_each_route(edgetest: Compiled) -> None:
    edge: Edge = make_edge(edgetest, 1)
    by_name = {r.spec.method.name: r for r in edge.routes}
    get_book = by_name["GetBook"]
    assert get_book.access.kind == "public"
    assert get_book.spec.rules is not None
    assert get_book.spec.rules.cache.ttl_seconds == 60
    assert list(get_book.spec.rules.cache.tags) == ["books"]
    list_books = by_name["ListBooks"]
    assert (list_books.access.kind, list_books.access.permission) == (
        "permission",
        "library.books.list",
    )
    assert by_name["Undeclared"].access.kind == "denied"
    assert by_name["Undeclared"].spec.rules is None
    assert "Reindex" not in by_name and "ImportBooks" not in by_name
