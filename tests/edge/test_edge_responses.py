"""Responses: proto3 JSON, response_body, raw HttpBody, empty messages."""

from __future__ import annotations

import httpx


def test_response_is_proto3_json_with_unpopulated_fields(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books/2")
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "name": "shelves/1/books/2",
        "title": "Title",
        "author": "",
        "pages": 0,
        "cover": "COLOR_RED",
        "publishTime": "2023-11-14T22:13:20Z",
        "tags": [],
        "labels": {},
        "readCount": "1099511627776",
        "rating": 0,
    }


def test_response_body_field_is_the_whole_answer(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/titles")
    assert r.json() == ["A", "B"]


def test_http_body_response_is_sent_raw(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books/2:download")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.content == b"hello shelves/1/books/2"


def test_empty_response_is_an_empty_object(client: httpx.Client) -> None:
    r = client.delete("/v1/shelves/1/books/2")
    assert (r.status_code, r.json()) == (200, {})
