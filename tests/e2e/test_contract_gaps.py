"""Contract gaps of issue 16 (finding 7), through the real edge: creates a phone or the
CLI may retry carry a `requestId` (AIP-155) and a retry returns the same resource;
updatable resources carry an etag and a stale one is refused (AIP-154); an update
without a mask changes only the fields sent (AIP-134)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import Conflict, EdgeApiError
from tests.e2e.binding_codes import bind, sent_code
from tests.e2e.conftest import ClientFactory, demo_customer, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, STAFF_PASSWORD, System

OUTLET = {
    "displayName": "重试营业厅",
    "address": "曲靖市重试路8号",
    "location": {"latitude": 25.5, "longitude": 103.8},
    "services": ["OUTLET_SERVICE_BILL_PAYMENT"],
}


def _conflict(call: Callable[[], object]) -> EdgeApiError:
    with pytest.raises(Conflict) as caught:
        call()
    return caught.value


def _outlets_named(client: EdgeClient, display_name: str) -> list[str]:
    nearby = client.outlets(25.5, 103.8)["outlets"]
    return [o["name"] for o in nearby if o["displayName"] == display_name]


def test_a_retried_registration_returns_the_same_user(client_for: ClientFactory) -> None:
    client = client_for()
    username, request_id = fresh_username(), str(uuid.uuid4())
    first = client.register(username, PASSWORD, captcha_answer=CAPTCHA, request_id=request_id)
    # The answer was lost; the phone sends the same registration again.
    again = client.register(username, PASSWORD, captcha_answer=CAPTCHA, request_id=request_id)
    assert again["name"] == first["name"]
    # The same id with another registration is refused.
    error = _conflict(
        lambda: client.register(
            fresh_username(), PASSWORD, captcha_answer=CAPTCHA, request_id=request_id
        )
    )
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_binding_returns_the_same_binding(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    client = new_customer()
    request_id = str(uuid.uuid4())
    customer = demo_customer(4)
    first = bind(system, client, customer, request_id=request_id)
    again = client.bind_customer(customer, sent_code(system, customer), request_id=request_id)
    assert again["name"] == first["name"]
    assert [b["name"] for b in client.customer_bindings()] == [first["name"]]
    error = _conflict(
        lambda: client.bind_customer(demo_customer(5), "000000", request_id=request_id)
    )
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_outlet_is_created_once(client_for: ClientFactory) -> None:
    editor = client_for()
    editor.login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)
    params = {"requestId": str(uuid.uuid4())}
    first = editor.send("POST", "/v1/outlets", body=OUTLET, params=params).json
    again = editor.send("POST", "/v1/outlets", body=OUTLET, params=params).json
    assert again["name"] == first["name"]
    assert _outlets_named(editor, OUTLET["displayName"]) == [first["name"]]


def test_a_stale_etag_is_refused(new_customer: Callable[..., EdgeClient]) -> None:
    client = new_customer()
    path = "/v1/users/me/subscriptions"
    read = client.subscriptions()
    assert read["etag"]
    # Sent back as read (name, etag, update time included): only `sms` is in the mask.
    changed = client.send("PATCH", path, body={**read, "sms": True}).json
    assert changed["sms"] is True
    assert changed["etag"] != read["etag"]
    error = _conflict(lambda: client.send("PATCH", path, body={**read, "push": False}))
    assert (error.code, error.reason) == (10, "FAILED_PRECONDITION")  # ABORTED
    assert client.subscriptions()["push"] is True

    me = client.me()
    assert me["etag"]
    renamed = client.send("PATCH", "/v1/users/me", body={"displayName": "Tide", "etag": me["etag"]})
    assert renamed.json["displayName"] == "Tide"
    stale = _conflict(
        lambda: client.send(
            "PATCH", "/v1/users/me", body={"displayName": "Ebb", "etag": me["etag"]}
        )
    )
    assert stale.code == 10
    assert client.me()["displayName"] == "Tide"


def test_an_update_without_a_mask_leaves_the_switches_not_sent(
    new_customer: Callable[..., EdgeClient],
) -> None:
    client = new_customer()
    client.send("PATCH", "/v1/users/me/subscriptions", body={"notice": False})
    after = client.subscriptions()
    assert (after["notice"], after["outage"], after["bill"], after["push"]) == (
        False,
        True,
        True,
        True,
    )


def test_the_idempotency_key_header_is_the_request_id(client_for: ClientFactory) -> None:
    """A create whose request has a `request_id` takes it from `Idempotency-Key` when
    the body and query give none; the two disagreeing is 400 naming `requestId`."""
    editor = client_for()
    editor.login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)
    outlet = {**OUTLET, "displayName": "幂等键营业厅"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = editor.send("POST", "/v1/outlets", body=outlet, headers=key).json
    again = editor.send("POST", "/v1/outlets", body=outlet, headers=key).json
    assert again["name"] == first["name"]
    assert _outlets_named(editor, outlet["displayName"]) == [first["name"]]
    # The same key given both ways is one key; two different ones are refused.
    same = editor.send(
        "POST",
        "/v1/outlets",
        body=outlet,
        headers=key,
        params={"requestId": key["Idempotency-Key"]},
    ).json
    assert same["name"] == first["name"]
    with pytest.raises(EdgeApiError) as caught:
        editor.send(
            "POST", "/v1/outlets", body=outlet, headers=key, params={"requestId": str(uuid.uuid4())}
        )
    assert caught.value.status == 400
    violations = [v for d in caught.value.body["details"] for v in d.get("fieldViolations", [])]
    assert [v["field"] for v in violations] == ["requestId"]
