"""Routing: the most specific template wins; unknown paths and wrong methods differ."""

from __future__ import annotations

import pytest

from edge.path_template import parse_template
from edge.router import MethodNotAllowed, NoRoute, RouteConflict, Router


@pytest.fixture
def router() -> Router[str]:
    r: Router[str] = Router()
    for method, template in [
        ("GET", "/v1/{name=shelves/*/books/*}"),
        ("POST", "/v1/{name=shelves/*/books/*}:checkout"),
        ("GET", "/v1/books/special"),
        ("GET", "/v1/books/{id}"),
        ("GET", "/v1/{name=**}"),
        ("GET", "/v1/outages:watch"),
        ("GET", "/v1/{name=outages/*}"),
        ("DELETE", "/v1/{name=outages/*}"),
    ]:
        r.add(method, parse_template(template), f"{method} {template}")
    return r


@pytest.mark.parametrize(
    ("method", "path", "route", "params"),
    [
        ("GET", "/v1/books/special", "GET /v1/books/special", {}),
        ("GET", "/v1/books/other", "GET /v1/books/{id}", {"id": "other"}),
        ("GET", "/v1/a/b/c", "GET /v1/{name=**}", {"name": "a/b/c"}),
        (
            "POST",
            "/v1/shelves/1/books/2:checkout",
            "POST /v1/{name=shelves/*/books/*}:checkout",
            {"name": "shelves/1/books/2"},
        ),
        ("GET", "/v1/outages:watch", "GET /v1/outages:watch", {}),
        ("GET", "/v1/outages/o1", "GET /v1/{name=outages/*}", {"name": "outages/o1"}),
        ("GET", "/v1/books/a%2Fb", "GET /v1/books/{id}", {"id": "a/b"}),
    ],
)
def test_most_specific_template_wins(
    router: Router[str], method: str, path: str, route: str, params: dict[str, str]
) -> None:
    match = router.lookup(method, path)
    assert (match.route, match.params) == (route, params)


def test_colon_inside_a_resource_id_without_a_verb_route(router: Router[str]) -> None:
    match = router.lookup("GET", "/v1/shelves/1/books/2:checkout")
    assert match.params == {"name": "shelves/1/books/2:checkout"}


def test_known_path_with_wrong_method_lists_allowed_methods(router: Router[str]) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        router.lookup("PUT", "/v1/outages/o1")
    assert caught.value.allowed == ["DELETE", "GET"]


def test_unknown_path(router: Router[str]) -> None:
    with pytest.raises(NoRoute):
        router.lookup("GET", "/v2/books")


def test_same_template_and_method_twice_is_a_conflict(router: Router[str]) -> None:
    with pytest.raises(RouteConflict):
        router.add("GET", parse_template("/v1/{x=outages/*}"), "again")
