"""API security checks through the real HTTPS edge (OWASP API Top 10) not covered
elsewhere: object-level authorization on every customer route (generated from the
protos, tests/e2e/object_access.py), output-only fields in a request never applied,
tokens only from the Authorization header, page sizes capped, and a concurrent burst
held to the rate limit.

Each role's route permissions are test_access.py; forged identity and client-address
headers test_sessions.py and test_client_address.py.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from clients.edge_client import EdgeClient
from tests.e2e.conftest import demo_customer, fresh_address
from tests.e2e.object_access import (
    EDGE_DOMAIN,
    OTHER,
    OUT_OF_SCOPE,
    OUT_OF_SCOPE_STAFF,
    OWN,
    attempt,
    customer_routes,
    refused,
)
from tests.e2e.system import System

BURST = 45
CAPTCHA_LIMIT = 30  # CreateCaptcha: per_ip_per_minute in the protos
MAX_PAGE_SIZE = 1000  # servers.runtime.paging.MAX_PAGE_SIZE


@pytest.fixture(scope="module")
def http(system: System) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(system.ca_file))
    limits = httpx.Limits(max_connections=BURST)
    with httpx.Client(base_url=system.url, verify=context, timeout=30, limits=limits) as client:
        yield client


def bearer(client: EdgeClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}", "X-Forwarded-For": fresh_address()}


def test_roles_and_state_in_an_update_are_refused_and_never_applied(
    http: httpx.Client, new_customer: Callable[..., EdgeClient]
) -> None:
    phone = new_customer()
    me = phone.me()
    for smuggled in (
        {"roles": ["roles/admin"]},
        {"state": "USER_STATE_ACTIVE", "displayName": "x"},
        {"supplyOffices": ["supplyOffices/qj-zy"]},
    ):
        answer = http.patch(f"/v1/{me['name']}", json=smuggled, headers=bearer(phone))
        # Refused (400 naming the field), or ignored: never applied.
        assert answer.status_code in (200, 400), answer.text
        if answer.status_code == 400:
            fields = [
                v["field"] for d in answer.json()["details"] for v in d.get("fieldViolations", [])
            ]
            assert any(next(iter(smuggled)) in f for f in fields), answer.text
    after = phone.me()
    assert after["roles"] == me["roles"] == ["roles/customer"]
    assert after.get("supplyOffices", []) == []


def test_a_balance_in_a_payment_is_refused(
    http: httpx.Client, new_customer: Callable[..., EdgeClient]
) -> None:
    phone = new_customer(4)
    customer = demo_customer(4)
    before = http.get(f"/v1/customers/{customer}/balance", headers=bearer(phone)).json()
    body: dict[str, Any] = {
        "amountFen": "1",
        "channel": "PAYMENT_CHANNEL_WECHAT_PAY",
        "requestId": "0d6f3c1e-7b2a-4e9d-8c5f-3a1b2c3d4e5f",
        "balanceFen": "100000000",
    }
    answer = http.post(f"/v1/customers/{customer}/payments", json=body, headers=bearer(phone))
    assert answer.status_code == 400
    assert "balanceFen" in answer.text
    smuggled_state = {**body, "state": "PAYMENT_STATE_SUCCEEDED"}
    smuggled_state.pop("balanceFen")
    answer = http.post(
        f"/v1/customers/{customer}/payments", json=smuggled_state, headers=bearer(phone)
    )
    # Output-only: refused, or the payment starts where every payment starts.
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 200:
        assert answer.json()["state"] != "PAYMENT_STATE_SUCCEEDED"
    after = http.get(f"/v1/customers/{customer}/balance", headers=bearer(phone)).json()
    assert int(after["balanceFen"]) <= int(before["balanceFen"]) + 1


@pytest.mark.parametrize("parameter", ["access_token", "token", "accessToken", "authorization"])
def test_a_token_in_the_query_string_is_not_a_session(
    http: httpx.Client, new_customer: Callable[..., EdgeClient], parameter: str
) -> None:
    phone = new_customer()
    answer = http.get(
        "/v1/users/me",
        params={parameter: phone.token},
        headers={"X-Forwarded-For": fresh_address()},
    )
    assert answer.status_code in (400, 401), answer.text
    assert phone.me()["roles"] == ["roles/customer"]  # the token itself still works


def test_page_sizes_are_capped(http: httpx.Client, staff: Callable[[str], EdgeClient]) -> None:
    agent = staff("agent")
    for path, field in [("/v1/users", "users"), ("/v1/complaintRisks", "complaintRisks")]:
        answer = http.get(path, params={"pageSize": 10**6}, headers=bearer(agent))
        # Refused naming pageSize, or served no more than the cap.
        if answer.status_code == 400:
            assert "pageSize" in answer.text or "page_size" in answer.text
        else:
            assert answer.status_code == 200, answer.text
            assert len(answer.json()[field]) <= MAX_PAGE_SIZE
        huge = http.get(path, params={"pageSize": 2**40}, headers=bearer(agent))
        assert huge.status_code == 400, huge.text


def test_a_concurrent_burst_is_held_to_the_rate_limit(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    address = fresh_address()

    def captcha(_: int) -> int:
        return http.post("/v1/captchas", json={}, headers={"X-Forwarded-For": address}).status_code

    with (
        caplog.at_level(logging.WARNING, logger="edge.ratelimit"),
        ThreadPoolExecutor(max_workers=15) as pool,
    ):
        statuses = list(pool.map(captcha, range(BURST)))
    admitted = statuses.count(200)
    assert statuses.count(429) == BURST - admitted
    # Limits fail open by design (edge.ratelimit) when Memcached does not answer in
    # time, as on this busy machine now and then: each admission over the limit must
    # then be one the limiter logged as not checked.
    unchecked = sum("rate limit not checked" in r.getMessage() for r in caplog.records)
    # All in one minute's window, unless the burst straddles a window boundary.
    assert CAPTCHA_LIMIT - 1 <= admitted <= 2 * CAPTCHA_LIMIT + unchecked
    assert admitted < BURST or unchecked > 0
    # Another address is not limited.
    other = {"X-Forwarded-For": fresh_address()}
    assert http.post("/v1/captchas", json={}, headers=other).status_code == 200


def test_the_generated_routes_cover_the_customer_api(system: System) -> None:
    paths = {r.binding.template.source for r in customer_routes(system)}
    assert len(paths) >= 10
    assert any("balance" in p for p in paths)
    assert any(p.endswith("/payments") for p in paths)


def test_a_second_customer_is_refused_on_every_customer_route(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    owner, other = new_customer(OWN), new_customer(OTHER)
    leaks, owner_refused = [], []
    for route in customer_routes(system):
        answer = attempt(system, other.token, route, demo_customer(OWN))
        label = f"{route.binding.http_method} {route.binding.template.source}"
        if not refused(answer):
            leaks.append(f"{label}: {answer.status_code} {answer.text[:200]}")
        if route.binding.http_method == "GET":
            mine = attempt(system, owner.token, route, demo_customer(OWN))
            # Refused by a service's scope check (the edge's own refusals are of
            # permissions a customer does not hold, such as the ledger's).
            if mine.status_code == 403 and EDGE_DOMAIN not in mine.text:
                owner_refused.append(f"{label}: {mine.text[:200]}")
    assert leaks == []
    # The control: the owner is not refused its own customer's reads.
    assert owner_refused == []


@pytest.mark.parametrize("username", OUT_OF_SCOPE_STAFF)
def test_an_out_of_scope_staff_member_is_refused_on_every_customer_route(
    system: System, staff: Callable[[str], EdgeClient], username: str
) -> None:
    member = staff(username)
    leaks = []
    for route in customer_routes(system):
        answer = attempt(system, member.token, route, demo_customer(OUT_OF_SCOPE))
        if not refused(answer):
            label = f"{route.binding.http_method} {route.binding.template.source}"
            leaks.append(f"{label}: {answer.status_code} {answer.text[:200]}")
    assert leaks == []
