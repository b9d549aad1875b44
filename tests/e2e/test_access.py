"""Every role × route through the edge: allowed or refused exactly as the protos declare.

For each route the edge serves and each caller (anonymous, a customer, each demo staff
role), the edge must refuse with its own 401 (no session) or 403 (permission missing)
exactly when the method's declared access says so, and otherwise pass the call on (the
service then answers whatever it answers: 400 for an empty body, 404, its own scope
check's 403, ...). The edge's refusals are told apart by their ErrorInfo domain.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import grpc
import httpx
import pytest

from clients.edge_client import EdgeClient
from edge.routes import Route
from palmgrid.account.v1 import account_internal_service_pb2, account_internal_service_pb2_grpc
from palmgrid.type.v1 import identity_pb2
from palmlib.permissions import has_permission
from tests.e2e.conftest import fresh_address
from tests.e2e.system import System

EDGE_DOMAIN = "edge.palmgrid"
STAFF = ["admin", "dispatcher", "expander", "inspector", "agent", "editor"]
PLACEHOLDER = "3100000001"


def concrete_path(route: Route) -> str:
    template = route.binding.template
    segments = [PLACEHOLDER if s in ("*", "**") else s for s in template.segments]
    return "/" + "/".join(segments) + (f":{template.verb}" if template.verb else "")


def principal_of(system: System, token: str) -> identity_pb2.Principal:
    credentials = system.settings.client_credentials("edge")
    assert credentials is not None
    with grpc.secure_channel(system.services["account"].target, credentials) as channel:
        stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
        answer = stub.AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=token)
        )
    return answer.principal


def edge_refusal(response: httpx.Response) -> str | None:
    """`401 REASON` / `403 REASON` when the edge itself refused, else None."""
    if response.status_code not in (401, 403):
        return None
    try:
        details = response.json().get("details", [])
    except ValueError:
        return None
    for detail in details:
        if detail.get("domain") == EDGE_DOMAIN:
            return f"{response.status_code} {detail.get('reason')}"
    return None


def expected(route: Route, principal: identity_pb2.Principal | None) -> str | None:
    access = route.access
    if access.kind == "public":
        return None
    if access.kind == "denied":
        return "403 PERMISSION_DENIED"
    if principal is None:
        return "401 SESSION_REQUIRED"
    return None if has_permission(principal, access.permission) else "403 PERMISSION_DENIED"


@pytest.mark.parametrize("role", ["anonymous", "customer", *STAFF])
def test_each_role_reaches_exactly_the_routes_its_permissions_declare(
    system: System,
    role: str,
    new_customer: Callable[..., EdgeClient],
    staff: Callable[[str], EdgeClient],
) -> None:
    token: str | None = None
    principal = None
    if role == "customer":
        token = new_customer().token
    elif role != "anonymous":
        token = staff(role).token
    if token is not None:
        principal = principal_of(system, token)
    routes = [r for r in system.secure.edge.routes if not r.streaming]
    assert len(routes) > 50
    mismatches = []
    with httpx.Client(base_url=system.url, verify=_context(system), timeout=10) as http:
        for route in routes:
            headers = {"X-Forwarded-For": fresh_address()}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            method = route.binding.http_method
            body = {} if method in ("POST", "PATCH", "PUT") and route.body_kind != "none" else None
            response = _answer(http, method, concrete_path(route), body, headers)
            got, want = edge_refusal(response), expected(route, principal)
            if got != want:
                mismatches.append(
                    f"{method} {route.binding.template.source}: {got} != {want}"
                    f" (answered {response.status_code}: {response.text[:300]})"
                )
    assert mismatches == []


def _answer(
    http: httpx.Client, method: str, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    """The edge's answer; asked again (twice at most) while it is a timeout. A session
    check or a call that outlives its deadline on a loaded host decides nothing about
    access, and the empty bodies the sweep sends change nothing when sent again."""
    for _ in range(3):
        response = http.request(method, path, json=body, headers=headers)
        if response.status_code != 504:
            break
    return response


def _context(system: System) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(system.ca_file))
