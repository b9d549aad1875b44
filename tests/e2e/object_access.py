"""Object-level authorization checks generated from the routes the edge builds from the
protos: every route that names a customer in its path, called for a customer the caller
may not see (test_api_security.py). A route added to the protos is covered at once.

Customer 1 (area A01, the 麒麟 office) is bound to its owner; a second customer's
owner is bound to customer 2 and tries customer 1. The demo agent and dispatcher cover
麒麟 only and try customer 6 (A06, 沾益). The owner's own reads pass the scope checks,
so a route that refused everyone would show here as a failure, not as a pass.
"""

from __future__ import annotations

import ssl

import httpx

from edge.routes import Route
from tests.e2e.conftest import fresh_address
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
