"""Request building: body, path variables and query parameters, as grpc-gateway does,
plus the errors that name what was wrong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def echo(client: httpx.Client, query: str) -> dict[str, Any]:
    r = client.get("/v1/echo?" + query)
    assert r.status_code == 200, r.text
    request: dict[str, Any] = r.json()["request"]
    return request


def bad_request(r: httpx.Response) -> tuple[str, str]:
    """(field, description) of the single BadRequest violation in a 400."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 3
    (bad,) = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    (violation,) = bad["fieldViolations"]
    return violation["field"], violation["description"]


# --- body ---------------------------------------------------------------------------


def test_body_star_fills_the_whole_request(client: httpx.Client) -> None:
    r = client.post("/v1/echo", json={"text": "hi", "nested": {"level": 3}, "int64Value": "9"})
    request = r.json()["request"]
    assert (request["text"], request["nested"]["level"], request["int64Value"]) == ("hi", 3, "9")


def test_named_body_field_is_the_message(client: httpx.Client) -> None:
    r = client.post("/v1/shelves/7/books?bookId=b1", json={"title": "Dune", "pages": 412})
    book = r.json()
    assert (book["name"], book["title"], book["pages"]) == ("shelves/7/books/b1", "Dune", 412)


def test_named_body_field_may_be_a_scalar(client: httpx.Client) -> None:
    r = client.put("/v1/shelves/1/books/2/rating", content=b"4")
    assert r.json()["rating"] == 4


def test_named_body_field_through_a_custom_verb(client: httpx.Client) -> None:
    r = client.post("/v1/echo:nested", json={"note": "deep", "inner": {"level": 2}})
    assert r.json()["request"]["nested"] == {
        "note": "deep",
        "level": 0,
        "color": "COLOR_UNSPECIFIED",
        "inner": {"note": "", "level": 2, "color": "COLOR_UNSPECIFIED"},
    }


def test_both_json_names_are_accepted(client: httpx.Client) -> None:
    r = client.post("/v1/echo", json={"int32_value": 1, "doubleValue": 2.5})
    assert (r.json()["request"]["int32Value"], r.json()["request"]["doubleValue"]) == (1, 2.5)


def test_path_value_beats_body_value(client: httpx.Client) -> None:
    r = client.post("/v1/shelves/1/books/2:checkout", json={"name": "shelves/9/books/9"})
    assert r.json()["name"] == "shelves/1/books/2"


def test_nested_path_variable_sets_a_field_inside_the_body(client: httpx.Client) -> None:
    r = client.patch("/v1/shelves/1/books/2", json={"name": "elsewhere", "title": "T"})
    assert r.json()["name"] == "shelves/1/books/2"


def test_empty_body_is_an_empty_message(client: httpx.Client) -> None:
    r = client.post("/v1/echo", content=b"")
    assert r.status_code == 200
    assert r.json()["request"]["text"] == ""


def test_raw_body_goes_into_an_http_body_field(client: httpx.Client) -> None:
    r = client.post(
        "/v1/shelves/1/books/2:upload",
        content=b"<xml>\x00\xff</xml>",
        headers={"content-type": "application/xml"},
    )
    body = r.json()
    assert (body["contentType"], body["size"]) == ("application/xml", "13")


# --- path and query -----------------------------------------------------------------


def test_path_value_beats_query_value(client: httpx.Client) -> None:
    assert echo(client, "text=query")["text"] == "query"
    r = client.get("/v1/echo/path?text=query")
    assert r.json()["request"]["text"] == "path"


def test_nested_path_variables_of_other_types(client: httpx.Client) -> None:
    r = client.get("/v1/echo/nested/hello/7")
    assert r.json()["request"]["nested"]["note"] == "hello"
    assert r.json()["request"]["nested"]["level"] == 7


def test_path_variable_of_the_wrong_type_is_400(client: httpx.Client) -> None:
    field, _ = bad_request(client.get("/v1/echo/nested/hello/seven"))
    assert field == "nested.level"


def test_query_scalars_of_every_kind(client: httpx.Client) -> None:
    request = echo(
        client,
        "int32Value=-3&int64_value=9007199254740993&uint64Value=18446744073709551615"
        "&doubleValue=1.5&floatValue=NaN&boolValue=true&bytesValue=AAH_",
    )
    assert request["int32Value"] == -3
    assert request["int64Value"] == "9007199254740993"
    assert request["uint64Value"] == "18446744073709551615"
    assert request["doubleValue"] == 1.5
    assert request["floatValue"] == "NaN"
    assert request["boolValue"] is True
    assert request["bytesValue"] == "AAH/"


def test_query_nested_fields_with_dots(client: httpx.Client) -> None:
    request = echo(client, "nested.note=a&nested.inner.level=5&nested.inner.inner.note=z")
    assert request["nested"]["note"] == "a"
    assert request["nested"]["inner"]["level"] == 5
    assert request["nested"]["inner"]["inner"]["note"] == "z"


def test_query_repeated_fields_by_repeated_keys(client: httpx.Client) -> None:
    request = echo(client, "tags=a&tags=b&numbers=1&numbers=-2&colors=COLOR_RED&colors=2")
    assert request["tags"] == ["a", "b"]
    assert request["numbers"] == ["1", "-2"]
    assert request["colors"] == ["COLOR_RED", "COLOR_GREEN"]


def test_query_map_fields(client: httpx.Client) -> None:
    request = echo(client, "labels[team]=blue&labels[size]=xl&codes[7]=seven")
    assert request["labels"] == {"team": "blue", "size": "xl"}
    assert request["codes"] == {"7": "seven"}


def test_query_enums_by_name_or_number(client: httpx.Client) -> None:
    assert echo(client, "color=COLOR_GREEN")["color"] == "COLOR_GREEN"
    assert echo(client, "color=1")["color"] == "COLOR_RED"


def test_query_well_known_types(client: httpx.Client) -> None:
    request = echo(
        client,
        "when=2024-05-01T08:00:00%2B08:00&wait=1.5s&mask=title,details.publisher"
        "&count=12&nickname=&enabled=false&ratio=0.25",
    )
    assert request["when"] == "2024-05-01T00:00:00Z"
    assert request["wait"] == "1.500s"
    assert request["mask"] == "title,details.publisher"
    assert request["count"] == "12"
    assert request["nickname"] == ""
    assert request["enabled"] is False
    assert request["ratio"] == 0.25


def test_query_optional_and_oneof(client: httpx.Client) -> None:
    request = echo(client, "maybe=&beta=4")
    assert request["maybe"] == ""
    assert request["beta"] == 4
    field, description = bad_request(client.get("/v1/echo?alpha=a&beta=4"))
    assert field == "beta"
    assert "oneof" in description


def test_query_spaces_and_unicode(client: httpx.Client) -> None:
    assert echo(client, "text=a+b%20c%E2%9C%93")["text"] == "a b c✓"


@pytest.mark.parametrize(
    ("query", "field", "needle"),
    [
        ("nope=1", "nope", "no such field"),
        ("nested.nope=1", "nested.nope", "no such field"),
        ("int32Value=x", "int32Value", "expected an integer"),
        ("int32Value=3000000000", "int32Value", "out of range"),
        ("color=COLOR_BLUE", "color", "not a value of edgetest.v1.Color"),
        ("when=yesterday", "when", "not an RFC 3339 timestamp"),
        ("wait=5m", "wait", "not a duration"),
        ("boolValue=yes", "boolValue", "expected true or false"),
        ("items.note=x", "items.note", "has no fields to set"),
        ("nested=x", "nested", "is a message"),
        ("text=a&text=b", "text", "given more than once"),
        ("labels=x", "labels", "labels[key]=value"),
        ("extra.x=1", "extra.x", "has no fields to set"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    client: httpx.Client, query: str, field: str, needle: str
) -> None:
    got_field, description = bad_request(client.get("/v1/echo?" + query))
    assert got_field == field
    assert needle in description


def test_query_parameter_for_a_body_field_is_400(client: httpx.Client) -> None:
    field, description = bad_request(client.post("/v1/shelves/1/books?book.title=x", json={}))
    assert field == "book.title"
    assert "body" in description


def test_query_parameter_with_body_star_is_400(client: httpx.Client) -> None:
    field, description = bad_request(client.post("/v1/echo?text=x", json={}))
    assert field == "text"
    assert "body carries every field" in description


# --- PATCH field masks --------------------------------------------------------------


def test_patch_derives_update_mask_from_json_keys(client: httpx.Client) -> None:
    r = client.patch(
        "/v1/shelves/1/books/2",
        json={"title": "T", "readCount": "3", "details": {"edition": 2}, "labels": {"a": "b"}},
    )
    mask = r.json()["labels"]["update_mask"].split(",")
    assert sorted(mask) == ["details.edition", "labels", "read_count", "title"]


def test_patch_keeps_the_mask_the_client_gave(client: httpx.Client) -> None:
    r = client.patch("/v1/shelves/1/books/2?updateMask=title", json={"title": "T", "pages": 3})
    assert r.json()["labels"]["update_mask"] == "title"


def test_patch_with_empty_nested_object_names_the_field(client: httpx.Client) -> None:
    r = client.patch("/v1/shelves/1/books/2", json={"details": {}})
    assert r.json()["labels"]["update_mask"] == "details"


# --- malformed bodies and limits ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        (b'{"text": ', "body", "malformed JSON"),
        (b'{"nope": 1}', "nope", "unknown field"),
        (b'{"nested": {"level": "high"}}', "nested.level", "expected an integer"),
        (b'{"tags": "a"}', "tags", "expected an array"),
        (b'{"items": [{}, {"bogus": 1}]}', "items[1].bogus", "unknown field"),
        (b'{"when": "2024-02-30T00:00:00Z"}', "when", "not a valid date"),
        (b"[1, 2]", "body", "expected an object"),
    ],
)
def test_bad_json_bodies_are_400_naming_the_field(
    client: httpx.Client, body: bytes, field: str, needle: str
) -> None:
    r = client.post("/v1/echo", content=body, headers={"content-type": "application/json"})
    got_field, description = bad_request(r)
    assert got_field == field
    assert needle in description


def test_bad_named_body_is_400_naming_the_field_under_it(client: httpx.Client) -> None:
    field, _ = bad_request(client.post("/v1/shelves/1/books", json={"pages": "many"}))
    assert field == "book.pages"


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    r = client.post("/v1/echo", json={"text": "x" * (1 << 20)})
    assert r.status_code == 413
    assert r.json()["details"][0]["reason"] == "REQUEST_TOO_LARGE"


def test_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 65536
        yield b"{}"

    r = client.post("/v1/echo", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_non_json_body_is_415(client: httpx.Client) -> None:
    r = client.post("/v1/echo", content=b"text=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
