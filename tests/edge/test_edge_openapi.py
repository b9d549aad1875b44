"""GET /openapi.json: valid OpenAPI 3.1, every route, usable by client generators."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from edge.app import Edge
from edge.descriptors import Catalog
from edge.openapi import build_document
from edge.router import Router
from edge.routes import Route

PALMGRID_DESCRIPTORS = Path(__file__).parents[2] / "generated" / "palmgrid" / "descriptors.binpb"

# Every route of /work/shared/CONTRACT.md (GET /v1/keys belongs to field encryption and
# is served by that stage once it exists).
CONTRACT_ROUTES = """
GET /healthz
GET /openapi.json
POST /v1/captchas
POST /v1/users
POST /v1/sessions
DELETE /v1/sessions/current
GET /v1/users/me
POST /v1/users/me/customerBindings
GET /v1/users/me/customerBindings
DELETE /v1/users/me/customerBindings/{customer}
GET /v1/users/me/subscriptions
PATCH /v1/users/me/subscriptions
GET /v1/users/me/messages
GET /v1/customers/{customer}
GET /v1/customers/{customer}/balance
GET /v1/customers/{customer}/monthlyUsage
GET /v1/customers/{customer}/bills
GET /v1/customers/{customer}/bills/{bill}
GET /v1/customers/{customer}/chargeEstimate
GET /v1/tariffs/{tariff}
POST /v1/customers/{customer}/payments
GET /v1/customers/{customer}/payments
GET /v1/customers/{customer}/payments/{payment}
GET /v1/outages
GET /v1/outages/{outage}
GET /v1/customers/{customer}/outages
POST /v1/outages
PATCH /v1/outages/{outage}
POST /v1/outages/{outage}:cancel
POST /v1/outages/{outage}:restore
GET /v1/outages:watch
POST /v1/applications
GET /v1/applications
GET /v1/applications/{application}
POST /v1/applications/{application}:advance
POST /v1/applications/{application}:reject
POST /v1/inspections
GET /v1/inspections
GET /v1/inspections/{inspection}
POST /v1/inspections/{inspection}/findings
POST /v1/inspections/{inspection}:complete
GET /v1/outlets
GET /v1/articles
GET /v1/articles/{article}
POST /v1/articles
POST /v1/articles/{article}:publish
POST /v1/feedback
GET /v1/feedback
GET /v1/feedback/{feedback}
"""


@pytest.fixture(scope="module")
def document(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_is_listed(document: dict[str, Any]) -> None:
    paths = document["paths"]
    expected = {
        "/v1/shelves/{shelf}/books/{book}": {"get", "patch", "delete"},
        "/v1/archive/{name}": {"get"},
        "/v1/shelves/{shelf}/books": {"get", "post"},
        "/v1/shelves/{shelf}/books/{book}:checkout": {"post"},
        "/v1/shelves/{shelf}/books/{book}/rating": {"put"},
        "/v1/shelves/{shelf}/titles": {"get"},
        "/v1/shelves/{shelf}/books:watch": {"get"},
        "/v1/echo": {"get", "post"},
    }
    for path, methods in expected.items():
        if methods:
            assert set(paths[path]) == methods, path
    assert "/healthz" in paths and "/openapi.json" in paths
    assert "/v1/echo:search" not in paths  # SEARCH is not an OpenAPI 3.1 operation
    assert not any("reindex" in p or "purge" in p or "import" in p for p in paths)


def test_multi_segment_variables_become_one_parameter_per_wildcard(
    document: dict[str, Any],
) -> None:
    op = document["paths"]["/v1/shelves/{shelf}/books/{book}"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["shelf"]["in"] == "path" and params["book"]["in"] == "path"
    assert "shelves/*/books/*" in params["book"]["description"]
    assert params["readMask"]["in"] == "query"


def test_comments_become_descriptions(document: dict[str, Any]) -> None:
    op = document["paths"]["/v1/shelves/{shelf}/books/{book}"]["get"]
    assert op["summary"] == "Gets a book"
    book = document["components"]["schemas"]["edgetest.v1.Book"]
    assert book["description"] == "A book on a shelf."
    assert book["properties"]["readCount"] == {
        "type": ["string", "integer", "null"],
        "format": "int64",
        "pattern": "^-?[0-9]+$",
        "description": "How often it was read.",
    }
    names, numbers = document["components"]["schemas"]["edgetest.v1.Color"]["anyOf"]
    assert "COLOR_RED" in names["enum"]
    # An open enum: any int32 by number, as the edge takes and answers it.
    assert numbers == {"type": "integer", "format": "int32"}


def test_query_parameters_cover_nested_repeated_map_and_wkt(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/v1/echo"]["get"]["parameters"]}
    assert params["nested.note"]["schema"] == {"type": "string"}
    assert "nested.inner.note" not in params  # a recursive type is listed once
    assert params["tags"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert params["labels"]["style"] == "deepObject"
    assert params["when"]["schema"]["format"] == "date-time"
    assert "items" not in params and "extra" not in params


def test_bodies_responses_and_errors(document: dict[str, Any]) -> None:
    post = document["paths"]["/v1/shelves/{shelf}/books"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/edgetest.v1.Book"
    rating = document["paths"]["/v1/shelves/{shelf}/books/{book}/rating"]["put"]
    assert rating["requestBody"]["content"]["application/json"]["schema"]["type"] == "integer"
    titles = document["paths"]["/v1/shelves/{shelf}/titles"]["get"]["responses"]["200"]
    assert titles["content"]["application/json"]["schema"]["type"] == "array"
    watch = document["paths"]["/v1/shelves/{shelf}/books:watch"]["get"]["responses"]["200"]
    assert set(watch["content"]) == {"application/x-ndjson", "text/event-stream"}
    assert post["responses"]["default"] == {"$ref": "#/components/responses/Error"}
    status = document["components"]["schemas"]["google.rpc.Status"]
    assert set(status["properties"]) == {"code", "message", "details"}


def test_security_follows_the_access_options(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/v1/shelves/{shelf}/books/{book}"]["get"]["security"] == []
    listing = paths["/v1/shelves/{shelf}/books"]["get"]
    assert listing["security"] == [{"bearer": []}]
    assert listing["x-permission"] == "library.books.list"
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


@pytest.fixture(scope="module")
def palmgrid_edge() -> Edge:
    catalog = Catalog.from_descriptor_set(PALMGRID_DESCRIPTORS)
    return Edge(catalog, {s.full_name: "127.0.0.1:1" for s in catalog.services()})


def test_palmgrid_document_is_valid(palmgrid_edge: Edge) -> None:
    validate(build_document(palmgrid_edge))


def test_palmgrid_document_lists_every_contract_route(palmgrid_edge: Edge) -> None:
    from edge.openapi import _openapi_path, resource_variable_names

    names = resource_variable_names(palmgrid_edge.catalog)
    document = build_document(palmgrid_edge)
    router: Router[Route] = palmgrid_edge.router
    for line in CONTRACT_ROUTES.strip().splitlines():
        method, path = line.split()
        if path in ("/healthz", "/openapi.json"):
            assert method.lower() in document["paths"][path]
            continue
        concrete = re.sub(r"\{[^}]+\}", "3100000001", path)
        match = router.lookup(method, concrete)
        openapi_path, _ = _openapi_path(match.template, names)
        assert method.lower() in document["paths"][openapi_path], line


def test_sensitive_fields_name_the_envelope_and_their_mask(palmgrid_edge: Edge) -> None:
    schemas = build_document(palmgrid_edge)["components"]["schemas"]
    phone = schemas["palmgrid.account.v1.User"]["properties"]["phone"]
    assert phone["type"] == ["string", "null"] and phone["format"] == "pgfe1"
    assert phone["x-palmgrid-sensitive"] == {"envelope": "pgfe1", "mask": "MASK_STYLE_PHONE"}
    assert "GET /v1/keys" in phone["description"]
    name = schemas["palmgrid.account.v1.User"]["properties"]["displayName"]
    assert "format" not in name and "x-palmgrid-sensitive" not in name


def test_fields_not_required_allow_null_as_the_edge_reads_it(palmgrid_edge: Edge) -> None:
    """proto3 JSON reads `null` as a field left unset; the document says so for every
    field that is not required, and not for required ones (sent as null, they are
    refused as missing)."""
    document = build_document(palmgrid_edge)
    verify = document["paths"]["/v1/auditRecords:verifyChain"]["post"]
    body = verify["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["endSequence"]["type"] == ["string", "integer", "null"]
    login = document["paths"]["/v1/sessions"]["post"]["requestBody"]["content"]
    properties = login["application/json"]["schema"]["properties"]
    assert properties["username"]["type"] == "string"
    # A message or enum field: its schema or null.
    kind = document["components"]["schemas"]["palmgrid.account.v1.User"]["properties"]["kind"]
    assert kind["anyOf"] == [
        {"$ref": "#/components/schemas/palmgrid.type.v1.PrincipalKind"},
        {"type": "null"},
    ]
