"""Bad request bodies through the real HTTPS edge: each is refused with a 4xx naming
what is wrong, and the edge goes on serving (the same caller's next request works).

The bodies go to the administrator's system-parameters update, whose `lockoutThreshold`
is an int32 field and which has no rate limit of its own (so twenty refusals in a row
are refused for what they are, not for their number): none of them changes anything.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clients.edge_client import EdgeClient
from tests.e2e.conftest import fresh_address
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD, System

MAX_BODY = 1 << 20  # EdgeConfig.max_body_bytes
PARAMETERS = "/v1/systemParameters"


def threshold(value: str) -> bytes:
    return b'{"lockoutThreshold": ' + value.encode() + b"}"


FIELD = "systemParameters.lockoutThreshold"
# The gRPC code in the body: INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for a body too large.
CODES = {400: 3, 413: 8}
# (case, body, status, the BadRequest field named (None: no field), words in the message)
CASES: list[tuple[str, bytes, int, str | None, str]] = [
    ("oversized", b'{"displayName": "' + b"x" * (MAX_BODY + 1) + b'"}', 413, None, "body"),
    ("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000, 400, "body", "malformed JSON"),
    ("deeply nested objects", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, 400, "body", "JSON"),
    ("nested beyond the message", threshold('{"x": {"y": 1}}'), 400, FIELD, ""),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xc3("}', 400, "body", "malformed JSON"),
    ("overlong UTF-8 encoding", b'{"name": "\xc0\xaf"}', 400, "body", "malformed JSON"),
    ("lone surrogate escape", b'{"name": "\\ud800"}', 400, "body", "malformed JSON"),
    ("huge integer", threshold("1" + "0" * 400), 400, "body", "malformed JSON"),
    ("integer beyond int32", threshold("3000000000"), 400, FIELD, "range"),
    ("exponent overflow", threshold("1e400"), 400, "body", "infinity"),
    ("NaN literal", threshold("NaN"), 400, "body", "malformed JSON"),
    ("NaN as a string", threshold('"NaN"'), 400, FIELD, ""),
    ("Infinity as a string", threshold('"Infinity"'), 400, FIELD, ""),
    ("fraction in an int field", threshold("12.5"), 400, FIELD, ""),
    ("boolean in an int field", threshold("true"), 400, FIELD, ""),
    ("truncated JSON", threshold("10")[:-1], 400, "body", "malformed JSON"),
    ("truncated in a string", b'{"name": "systemParam', 400, "body", "malformed JSON"),
    ("a list, not an object", b"[1, 2, 3]", 400, "systemParameters", ""),
    ("a bare string", b'"lockoutThreshold"', 400, "systemParameters", ""),
    ("null", b"null", 400, "body", "null"),
    (
        "unknown field",
        b'{"lockoutThreshold": 5, "lockout": 1}',
        400,
        "systemParameters.lockout",
        "unknown",
    ),
    ("NUL bytes", b'{"name": "\x00\x00"}', 400, "body", "malformed JSON"),
]


@pytest.fixture(scope="module")
def admin_token(system: System) -> Iterator[str]:
    client = EdgeClient(
        system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": "10.251.0.1"}
    )
    client.login("admin", STAFF_PASSWORD, captcha_answer=CAPTCHA)
    assert client.token is not None
    yield client.token
    client.close()


@pytest.fixture(scope="module")
def http(system: System) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(system.ca_file))
    with httpx.Client(base_url=system.url, verify=context, timeout=30) as client:
        yield client


def violations(answer: dict[str, Any]) -> dict[str, str]:
    """BadRequest field → description, from a google.rpc.Status body."""
    out: dict[str, str] = {}
    for detail in answer.get("details", []):
        for violation in detail.get("fieldViolations", []):
            out[violation["field"]] = violation["description"]
    return out


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_bad_body_is_refused_with_a_specific_error_and_the_edge_goes_on(
    http: httpx.Client,
    admin_token: str,
    body: bytes,
    status: int,
    field: str | None,
    words: str,
) -> None:
    headers = {
        "Authorization": f"Bearer {admin_token}",
        "Content-Type": "application/json",
        "X-Forwarded-For": fresh_address(),
    }
    answer = http.patch(PARAMETERS, content=body, headers=headers)
    assert answer.status_code == status, answer.text[:500]
    error = answer.json()
    assert error["code"] == CODES[status]
    assert words in error["message"]
    if field is not None:
        assert field in violations(error), error
    # The process is unharmed: the same caller's next request is served.
    me = http.get("/v1/users/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "admin"


def test_no_bad_body_changed_a_parameter(http: httpx.Client, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}", "X-Forwarded-For": fresh_address()}
    current = http.get(PARAMETERS, headers=headers)
    assert current.status_code == 200
    assert current.json()["lockoutThreshold"] == 5
