"""Routing through a real edge: every HttpRule shape, 404, 405 with Allow, HEAD and
OPTIONS."""

from __future__ import annotations

import httpx


def test_nested_resource_name_from_a_path_template(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books/2")
    assert r.status_code == 200
    assert r.json()["name"] == "shelves/1/books/2"


def test_additional_binding_with_deep_wildcard(client: httpx.Client) -> None:
    r = client.get("/v1/archive/shelves/9/books/old/copy")
    assert r.status_code == 200
    assert r.json()["name"] == "shelves/9/books/old/copy"


def test_deep_wildcard_keeps_encoded_slash_inside_a_segment(client: httpx.Client) -> None:
    r = client.get("/v1/archive/a%2Fb/c")
    assert r.json()["name"] == "a%2Fb/c"


def test_single_segment_variable_decodes_encoded_slash(client: httpx.Client) -> None:
    r = client.get("/v1/echo/a%2Fb%20c")
    assert r.json()["request"]["text"] == "a/b c"


def test_literal_template_beats_deep_wildcard(client: httpx.Client) -> None:
    # /v1/archive/featured is an Echo binding; /v1/archive/{name=**} is GetBook.
    r = client.get("/v1/archive/featured")
    assert "request" in r.json()


def test_custom_verb(client: httpx.Client) -> None:
    r = client.post("/v1/shelves/1/books/2:checkout", json={"borrower": "ann"})
    assert r.status_code == 200
    assert r.json()["labels"]["borrower"] == "ann"


def test_custom_http_method_kind(client: httpx.Client) -> None:
    r = client.request("SEARCH", "/v1/echo:search", params={"text": "found"})
    assert r.status_code == 200
    assert r.json()["request"]["text"] == "found"


def test_unknown_path_is_404(client: httpx.Client) -> None:
    r = client.get("/v1/nowhere")
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == 5
    assert body["details"][0]["reason"] == "NOT_FOUND"


def test_known_path_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    r = client.put("/v1/shelves/1/books/2", json={})
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    assert r.json()["details"][0]["reason"] == "METHOD_NOT_ALLOWED"


def test_every_response_carries_a_request_id(client: httpx.Client) -> None:
    assert client.get("/v1/nowhere").headers["x-request-id"]
    assert client.get("/v1/shelves/1/books/2").headers["x-request-id"]


def test_head_answers_a_get_route_with_its_headers_and_no_body(client: httpx.Client) -> None:
    get = client.get("/v1/shelves/1/books/2")
    head = client.head("/v1/shelves/1/books/2")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == get.headers["content-type"]
    assert client.head("/v1/openapi.json").status_code == 404
    assert client.head("/openapi.json").headers["content-length"] != "0"


def test_head_is_not_allowed_where_get_is_not(client: httpx.Client) -> None:
    r = client.head("/v1/shelves/1/books/2/rating")
    assert r.status_code == 405
    assert r.headers["allow"] == "OPTIONS, PUT"


def test_options_lists_the_methods_of_a_path(client: httpx.Client) -> None:
    r = client.options("/v1/shelves/1/books/2")
    assert r.status_code == 204 and r.content == b""
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    assert client.options("/healthz").headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.options("/v1/nowhere").status_code == 404
