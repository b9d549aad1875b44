"""Errors: grpc-gateway's status table, google.rpc.Status bodies, rich details."""

from __future__ import annotations

import grpc
import httpx
import pytest

from edge.errors import UNAVAILABLE_RETRY_AFTER_SECONDS, http_status
from tests.edge.conftest import make_edge
from tests.edge.edge_harness import RunningEdge
from tests.edge.edge_protos import Compiled

# CONTRACT.md: the HTTP status follows grpc-gateway's table.
TABLE = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def test_table_covers_every_code() -> None:
    assert http_status(grpc.StatusCode.OK.value[0]) == 200
    for code in grpc.StatusCode:
        if code is not grpc.StatusCode.OK:
            assert http_status(code.value[0]) == TABLE[code.name]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_every_status_code_maps_to_its_http_status(client: httpx.Client, name: str) -> None:
    code = grpc.StatusCode[name].value[0]
    r = client.post("/v1/failures:trigger", json={"code": code, "message": "boom", "rich": True})
    assert r.status_code == TABLE[name]
    body = r.json()
    assert body["code"] == code
    assert body["message"] == "boom"


def test_rich_status_details_are_decoded(client: httpx.Client) -> None:
    r = client.post("/v1/failures:trigger", json={"code": 3, "message": "bad", "rich": True})
    info, bad = r.json()["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["domain"], info["metadata"]) == (
        "BOOK_ON_FIRE",
        "library.edgetest",
        {"shelf": "1"},
    )
    assert bad["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert bad["fieldViolations"][0]["field"] == "book.title"


def test_plain_status_has_empty_details(client: httpx.Client) -> None:
    r = client.post("/v1/failures:trigger", json={"code": 5, "message": "gone"})
    assert r.json() == {"code": 5, "message": "gone", "details": []}


def test_upstream_metadata_of_a_failure_becomes_headers(client: httpx.Client) -> None:
    r = client.post("/v1/failures:trigger", json={"code": 5, "message": "gone"})
    assert r.headers["grpc-trailer-x-failure"] == "plain"
    rich = client.post("/v1/failures:trigger", json={"code": 5, "message": "x", "rich": True})
    assert "grpc-trailer-grpc-status-details-bin" not in rich.headers


def test_unauthenticated_adds_www_authenticate(client: httpx.Client) -> None:
    r = client.post("/v1/failures:trigger", json={"code": 16, "message": "who?"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="palmgrid"'
    r = client.post(
        "/v1/failures:trigger",
        json={"code": 16, "message": "expired"},
        headers={"authorization": "Bearer stale"},
    )
    assert r.headers["www-authenticate"] == 'Bearer realm="palmgrid", error="invalid_token"'


def test_other_errors_have_no_challenge(client: httpx.Client) -> None:
    r = client.post("/v1/failures:trigger", json={"code": 7, "message": "no"})
    assert "www-authenticate" not in r.headers


def test_unhandled_server_exception_does_not_leak(client: httpx.Client) -> None:
    # UNKNOWN without a rich status is what grpc writes for an uncaught exception.
    r = client.post("/v1/failures:trigger", json={"code": 2, "message": "Traceback: secret"})
    assert r.status_code == 500
    assert "secret" not in r.text
    assert r.json()["details"][0]["reason"] == "INTERNAL"


def test_unreachable_upstream_is_503_without_its_address(edgetest: Compiled) -> None:
    with socket_port() as port, RunningEdge(make_edge(edgetest, port)) as running:
        r = httpx.get(running.url + "/v1/shelves/1/books/2", timeout=10)
    assert r.status_code == 503
    assert str(port) not in r.text
    assert "127.0.0.1" not in r.text
    assert r.json()["details"][0]["reason"] == "UPSTREAM_UNAVAILABLE"
    assert r.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_SECONDS)


@pytest.mark.parametrize(
    ("code", "rich", "retry_after"),
    [
        (grpc.StatusCode.UNAVAILABLE, True, "3"),  # the service's RetryInfo, 2.5 s rounded up
        (grpc.StatusCode.UNAVAILABLE, False, str(UNAVAILABLE_RETRY_AFTER_SECONDS)),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, True, "3"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, False, None),
        (grpc.StatusCode.NOT_FOUND, True, None),
        (grpc.StatusCode.INTERNAL, False, None),
    ],
)
def test_retryable_refusals_say_when_to_retry(
    client: httpx.Client, code: grpc.StatusCode, rich: bool, retry_after: str | None
) -> None:
    r = client.post(
        "/v1/failures:trigger", json={"code": code.value[0], "message": "later", "rich": rich}
    )
    assert r.headers.get("retry-after") == retry_after


class socket_port:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
