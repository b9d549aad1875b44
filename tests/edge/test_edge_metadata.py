"""Headers in, metadata out and back: pass-through, namespaces, timeouts, request ids."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from edge.errors import EdgeError
from edge.metadata import HeaderRules, IncomingHeaders, check_headers, parse_grpc_timeout


def seen(client: httpx.Client, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    r = client.get("/v1/echo" + query, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_authorization_passes_through(client: httpx.Client) -> None:
    metadata = seen(client, {"authorization": "Bearer t0k3n"})["metadata"]
    assert metadata["authorization"] == "Bearer t0k3n"


def test_grpc_metadata_headers_become_metadata(client: httpx.Client) -> None:
    blob = base64.b64encode(b"\x00\xffraw").decode()
    metadata = seen(client, {"grpc-metadata-tenant": "north", "grpc-metadata-trace-bin": blob})[
        "metadata"
    ]
    assert metadata["tenant"] == "north"
    assert base64.b64decode(metadata["trace-bin"]) == b"\x00\xffraw"


def test_other_headers_pass_under_their_own_names(client: httpx.Client) -> None:
    metadata = seen(client, {"wechatpay-signature": "sig==", "user-agent": "palm/1.0"})["metadata"]
    assert metadata["wechatpay-signature"] == "sig=="
    assert metadata["grpcgateway-user-agent"] == "palm/1.0"


def test_internal_namespace_is_stripped_in_every_form(client: httpx.Client) -> None:
    metadata = seen(
        client,
        {
            "palmgrid-identity-bin": "AAAA",
            "x-palmgrid-user": "admin",
            "grpc-metadata-palmgrid-identity-bin": "AAAA",
            "grpc-metadata-x-palmgrid-role": "root",
        },
    )["metadata"]
    assert not [k for k in metadata if "palmgrid" in k]


def test_response_metadata_and_trailers_become_headers(client: httpx.Client) -> None:
    r = client.get("/v1/echo")
    assert r.headers["grpc-metadata-x-echo-initial"] == "yes"
    assert base64.b64decode(r.headers["grpc-metadata-x-echo-bin"]) == b"\x00\x01"
    assert r.headers["grpc-trailer-x-echo-trailer"] == "done"
    assert not [k for k in r.headers if "palmgrid" in k]


def test_x_forwarded_for_is_appended(client: httpx.Client) -> None:
    metadata = seen(client, {"x-forwarded-for": "203.0.113.7"})["metadata"]
    assert metadata["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen(client, {})["metadata"]["x-forwarded-for"] == "127.0.0.1"


def test_request_id_is_accepted_and_returned(client: httpx.Client) -> None:
    r = client.get("/v1/echo", headers={"x-request-id": "req-123"})
    assert r.headers["x-request-id"] == "req-123"
    assert r.json()["metadata"]["x-request-id"] == "req-123"


def test_request_id_is_generated_when_missing_or_unusable(client: httpx.Client) -> None:
    r = client.get("/v1/echo", headers={"x-request-id": "bad id with spaces"})
    generated = r.headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 36
    assert r.json()["metadata"]["x-request-id"] == generated


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2H", 7200), ("3M", 180), ("4S", 4), ("500m", 0.5), ("250000u", 0.25), ("1000000n", 1e-3)],
)
def test_grpc_timeout_units(value: str, seconds: float) -> None:
    assert parse_grpc_timeout(value) == pytest.approx(seconds)


def test_grpc_timeout_sets_the_deadline(client: httpx.Client) -> None:
    remaining = seen(client, {"grpc-timeout": "2S"})["deadlineSeconds"]
    assert 1.0 < remaining <= 2.1


def test_grpc_timeout_is_capped_and_defaulted(client: httpx.Client) -> None:
    # Defaults: 30 s without Grpc-Timeout, at most 300 s with it (gRPC rounds the
    # timeout it sends upwards, by up to a second).
    assert 25 < seen(client, {})["deadlineSeconds"] <= 31
    assert 250 < seen(client, {"grpc-timeout": "10H"})["deadlineSeconds"] <= 301


@pytest.mark.parametrize("value", ["1", "1x", "123456789S", "-1S", "1.5S"])
def test_invalid_grpc_timeout_is_400(client: httpx.Client, value: str) -> None:
    r = client.get("/v1/echo", headers={"grpc-timeout": value})
    assert r.status_code == 400
    assert "Grpc-Timeout" in r.json()["message"]


def test_deadline_exceeded_is_504(client: httpx.Client) -> None:
    r = client.get("/v1/sleep?duration=2s", headers={"grpc-timeout": "100m"})
    assert r.status_code == 504
    assert r.json()["code"] == 4


_BAD_TIMEOUT = (b"grpc-timeout", b"soon")
_BAD_BINARY = (b"grpc-metadata-trace-bin", b"a")  # one character cannot be base64


def _refusal(action: Callable[[], object]) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    try:
        action()
    except EdgeError as exc:
        return exc.message, tuple(exc.violations)
    return None


@pytest.mark.parametrize(
    ("headers", "refused_for"),
    [
        ([(b"grpc-timeout", b"5S"), (b"grpc-metadata-trace-bin", b"AAEC")], None),
        ([_BAD_TIMEOUT], "Grpc-Timeout"),
        ([_BAD_BINARY], "Grpc-Metadata-trace-bin"),
        ([(b"host", b"edge"), _BAD_TIMEOUT, _BAD_BINARY], "Grpc-Timeout"),
        ([_BAD_BINARY, (b"host", b"edge"), _BAD_TIMEOUT], "Grpc-Metadata-trace-bin"),
        # Dropped, not refused: internal keys, and text that is not printable.
        ([(b"grpc-metadata-palmgrid-identity-bin", b"a")], None),
        ([(b"grpc-metadata-note", b"\x01")], None),
    ],
)
def test_the_metadata_stage_refuses_exactly_what_building_the_metadata_would(
    headers: list[tuple[bytes, bytes]], refused_for: str | None
) -> None:
    # The stage checks at once and builds only for an upstream call: a request the
    # cache answers must be refused alike, for the same header first.
    rules = HeaderRules()
    checked = _refusal(lambda: check_headers(headers, rules))
    built = _refusal(
        lambda: IncomingHeaders.read(headers, rules, request_id="r", client=None, scheme="https")
    )
    assert checked == built
    assert (checked[1][0][0] if checked else None) == refused_for
