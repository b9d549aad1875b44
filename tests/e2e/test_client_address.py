"""The phone's address and User-Agent reach the services through the real edge: the
edge derives them (trusted proxies only) and forwards them as its own metadata after
dropping what the client sent under those names; the session row, the "new sign-in"
notice and the audit record hold them, not the edge's address."""

from __future__ import annotations

from collections.abc import Callable

from clients.edge_client import EdgeClient
from tests.e2e.conftest import ClientFactory, fresh_address, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, System

USER_AGENT = "PalmApp/3.4 (Android 14; Pixel 8)"
LOGIN = "/palmgrid.account.v1.AccountService/CreateSession"
# What a client might send to choose its own address and agent; all of it is dropped.
SMUGGLED = {
    "Palmgrid-Client-Ip": "203.0.113.66",
    "Palmgrid-User-Agent": "Forged/1.0",
    "X-Palmgrid-Client-Ip": "203.0.113.66",
    "Grpc-Metadata-Palmgrid-Client-Ip": "203.0.113.66",
    "Grpc-Metadata-Palmgrid-User-Agent": "Forged/1.0",
}


def test_the_session_row_the_notice_and_the_audit_record_hold_the_phones_address(
    system: System, client_for: ClientFactory, staff: Callable[[str], EdgeClient]
) -> None:
    address = fresh_address()
    username = fresh_username()
    phone = client_for(address, headers={"User-Agent": USER_AGENT, **SMUGGLED})
    phone.register(username, PASSWORD, captcha_answer=CAPTCHA)
    phone.login(username, PASSWORD, captcha_answer=CAPTCHA)
    session = phone.login(username, PASSWORD, captcha_answer=CAPTCHA)["session"]
    assert session["clientIp"] == address
    assert session["userAgent"] == USER_AGENT

    listed = phone.send("GET", "/v1/sessions", params={"user": "users/me"}).json["sessions"]
    assert {(s["clientIp"], s["userAgent"]) for s in listed} == {(address, USER_AGENT)}

    notice = phone.messages()["messages"][0]["body"]
    assert address in notice and USER_AGENT in notice

    user = phone.me()["name"]
    admin = staff("admin")
    records = admin.send("GET", "/v1/auditRecords", params={"action": LOGIN, "actor": user}).json[
        "auditRecords"
    ]
    assert len(records) >= 2
    assert {r["clientIp"] for r in records} == {address}


def test_a_client_without_a_user_agent_is_not_given_the_edges(
    system: System, client_for: ClientFactory
) -> None:
    address = fresh_address()
    username = fresh_username()
    phone = client_for(address)
    phone.http.headers.pop("User-Agent", None)
    phone.register(username, PASSWORD, captcha_answer=CAPTCHA)
    session = phone.login(username, PASSWORD, captcha_answer=CAPTCHA)["session"]
    assert session["clientIp"] == address
    assert session["userAgent"] == ""
