"""Object-level authorization, generated from the protos: every route that names a
customer in its path refuses a customer the caller is not bound to, and a staff member
whose supply offices do not cover it. A route added to the protos is covered at once.

Customer 1 (area A01, the 麒麟 office) is bound to its owner; a second customer's
owner is bound to customer 2 and tries customer 1. The demo agent and dispatcher cover
麒麟 only and try customer 6 (A06, 沾益). The owner's own reads pass the scope checks,
so a route that refused everyone would show here as a failure, not as a pass.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest

from clients.edge_client import EdgeClient
from edge.routes import Route
from tests.e2e.conftest import demo_customer, fresh_address
from tests.e2e.system import System

OWN, OTHER, OUT_OF_SCOPE = 1, 2, 6
# Values for the other variables of a customer's path (a bill's month, a payment ...).
PLACEHOLDER = "2026-01"
OUT_OF_SCOPE_STAFF = ["agent", "dispatcher"]
EDGE_DOMAIN = '"domain":"edge.palmgrid"'


# A change must be refused for whose it is, not for a malformed body (the services
# validate before their scope check): valid bodies for the routes that change a
# customer's data. A new such route fails here with a 400 until it has one.
VALID_BODIES: dict[str, dict[str, str]] = {
    "palmgrid.billing.v1.BillingService.CreatePayment": {
        "amountFen": "1",
        "channel": "PAYMENT_CHANNEL_WECHAT_PAY",
        "requestId": "5f0c9d2e-8a41-4c3b-9e7d-1a2b3c4d5e6f",
    },
}


def customer_routes(system: System) -> list[Route]:
    """The routes whose path names one customer (`customers/*`)."""
    out = []
    for r in system.secure.edge.routes:
        segments = r.binding.template.segments
        names_one = any(
            s == "customers" and i + 1 < len(segments) and segments[i + 1] == "*"
            for i, s in enumerate(segments)
        )
        if names_one and not r.streaming:
            out.append(r)
    return out


def concrete_path(route: Route, customer: str) -> str:
    segments = list(route.binding.template.segments)
    filled = []
    for i, segment in enumerate(segments):
        if segment in ("*", "**"):
            filled.append(customer if i and segments[i - 1] == "customers" else PLACEHOLDER)
        else:
            filled.append(segment)
    verb = route.binding.template.verb
    return "/" + "/".join(filled) + (f":{verb}" if verb else "")


def attempt(system: System, token: str | None, route: Route, customer: str) -> httpx.Response:
    method = route.binding.http_method
    body = None
    if method in ("POST", "PATCH", "PUT") and route.body_kind != "none":
        body = VALID_BODIES.get(route.spec.method.full_name, {})
    headers = {"X-Forwarded-For": fresh_address()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    context = ssl.create_default_context(cafile=str(system.ca_file))
    with httpx.Client(base_url=system.url, verify=context, timeout=10) as http:
        return http.request(method, concrete_path(route, customer), json=body, headers=headers)


def refused(answer: httpx.Response) -> bool:
    """403, or 404 where a service does not say whether the object exists."""
    return answer.status_code in (403, 404)


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
