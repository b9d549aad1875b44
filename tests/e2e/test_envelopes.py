"""Sensitive fields through the edge: sealed requests pass; plaintext, replayed,
tampered, swapped and stale envelopes get 400 ENVELOPE_INVALID and an audit record;
responses carry sealed values for an app key, masked ones without."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from clients.edge_client import ACCOUNT, EdgeClient
from clients.edge_errors import EdgeApiError
from clients.fieldcrypt import seal_value, session_binding
from palmgrid.account.v1 import account_admin_service_pb2_grpc
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as admin_requests
from tests.e2e.conftest import ClientFactory, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, TESTER, System

CREATE_USER = ACCOUNT + "CreateUser"
CREATE_SESSION = ACCOUNT + "CreateSession"


def login_body(client: EdgeClient, username: str, password: str) -> dict[str, Any]:
    captcha = client.create_captcha()["name"]
    return {
        "username": username,
        "password": password,
        "captcha": captcha,
        "captchaAnswer": CAPTCHA,
    }


def refused(call: Callable[[], object]) -> EdgeApiError:
    with pytest.raises(EdgeApiError) as caught:
        call()
    error = caught.value
    assert (error.status, error.reason) == (400, "ENVELOPE_INVALID"), error
    return error


@pytest.fixture
def registered(client_for: ClientFactory) -> tuple[EdgeClient, str]:
    client = client_for()
    username = fresh_username()
    client.register(username, PASSWORD, captcha_answer=CAPTCHA, phone="13800000042")
    return client, username


def test_a_sealed_login_passes(registered: tuple[EdgeClient, str]) -> None:
    client, username = registered
    body = client.seal(CREATE_SESSION, login_body(client, username, PASSWORD))
    assert body["password"].startswith("pgfe1.")
    assert client.send("POST", "/v1/sessions", body=body).json["token"]


def test_a_plaintext_password_is_refused_and_audited(
    system: System, registered: tuple[EdgeClient, str]
) -> None:
    client, username = registered
    error = refused(
        lambda: client.send("POST", "/v1/sessions", body=login_body(client, username, PASSWORD))
    )
    assert error.metadata == {"field": "password", "problem": "plaintext"}
    assert_audited(system, error)


def test_a_replayed_envelope_is_refused(registered: tuple[EdgeClient, str]) -> None:
    client, username = registered
    body = client.seal(CREATE_SESSION, login_body(client, username, PASSWORD))
    client.send("POST", "/v1/sessions", body=body)
    again = dict(body, captcha=client.create_captcha()["name"])
    error = refused(lambda: client.send("POST", "/v1/sessions", body=again))
    assert error.metadata["problem"] == "replayed"


def test_a_tampered_envelope_is_refused(registered: tuple[EdgeClient, str]) -> None:
    client, username = registered
    body = client.seal(CREATE_SESSION, login_body(client, username, PASSWORD))
    head, ciphertext = body["password"].rsplit(".", 1)
    body["password"] = head + "." + ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    error = refused(lambda: client.send("POST", "/v1/sessions", body=body))
    assert error.metadata["problem"] == "not_authentic"


def test_swapped_fields_are_refused(client_for: ClientFactory) -> None:
    client = client_for()
    captcha = client.create_captcha()["name"]
    body = {
        "user": {"username": fresh_username(), "phone": "13800000042"},
        "password": PASSWORD,
        "captcha": captcha,
        "captchaAnswer": CAPTCHA,
    }
    sealed = client.seal(CREATE_USER, body)
    sealed["password"], sealed["user"]["phone"] = sealed["user"]["phone"], sealed["password"]
    error = refused(lambda: client.send("POST", "/v1/users", body=sealed))
    assert error.metadata["problem"] == "not_authentic"


def test_a_stale_envelope_is_refused(registered: tuple[EdgeClient, str]) -> None:
    client, username = registered
    body = login_body(client, username, PASSWORD)
    body["password"] = seal_value(
        PASSWORD,
        client.edge_key,
        method=CREATE_SESSION,
        field="password",
        session=session_binding(None),
        ts=int(time.time()) - 3600,
    )
    error = refused(lambda: client.send("POST", "/v1/sessions", body=body))
    assert error.metadata["problem"] == "stale"


def test_response_fields_are_sealed_to_the_app_key_or_masked(
    registered: tuple[EdgeClient, str], client_for: ClientFactory
) -> None:
    client, username = registered
    client.login(username, PASSWORD, captcha_answer=CAPTCHA)
    raw = client.send("GET", "/v1/users/me").json
    assert raw["phone"].startswith("pgfe1.")
    assert client.me()["phone"] == "138****0042"  # the account service shows it masked
    plain = client_for()
    plain.login(username, PASSWORD, captcha_answer=CAPTCHA, send_public_key=False)
    assert plain.send("GET", "/v1/users/me").json["phone"] == "138****0042"


def test_the_key_listing_is_served(client_for: ClientFactory) -> None:
    listing = client_for().keys()
    assert listing["keys"][0]["state"] == "CURRENT"
    assert listing["keys"][0]["alg"] == "HPKE-Base-P256-SHA256-AES256GCM"


def assert_audited(system: System, error: EdgeApiError) -> None:
    """The refusal reached the account service's audit log, under its request id."""
    request_id = error.headers["x-request-id"]
    credentials = system.settings.client_credentials(TESTER)
    assert credentials is not None
    deadline = time.monotonic() + 5
    with grpc.secure_channel(system.services["account"].target, credentials) as channel:
        stub = account_admin_service_pb2_grpc.AccountAdminServiceStub(channel)
        while True:
            records = stub.ListAuditRecords(admin_requests.ListAuditRecordsRequest()).audit_records
            found = [r for r in records if r.request_id == request_id]
            if found:
                break
            assert time.monotonic() < deadline, "no audit record"
            time.sleep(0.1)
    record = found[0]
    assert record.error_reason == "ENVELOPE_INVALID"
    assert record.action == "/palmgrid.account.v1.AccountService/CreateSession"
    assert record.details["problem"] == "plaintext"
