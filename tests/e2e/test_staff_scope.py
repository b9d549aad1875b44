"""Staff reads of users through the real edge stay within the caller's supply offices,
and a change of a staff member's offices drops what the edge cached for them at once.

The demo agent (account.users.list) covers the 麒麟 office (QJ-QL, demo customers 1–5
of every ten); demo customer 6 is in 沾益 (QJ-ZY). This module changes the agent's
offices, so it runs its own system (OWN_SYSTEM).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from cachetags import CachePool, TagGenerations, user_tag
from clients.edge_client import EdgeClient
from clients.edge_errors import PermissionDenied
from palmgrid.account.v1 import (
    account_admin_service_pb2,
    account_admin_service_pb2_grpc,
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
)
from palmgrid.account.v1 import resources_pb2 as account_pb
from tests.e2e.conftest import demo_customer, refusal
from tests.e2e.system import System

IN_SCOPE, OUT_OF_SCOPE = 1, 6
OWN_SYSTEM = True


def user_routes(phone: EdgeClient) -> dict[str, str]:
    """Every GET of another user's resources, as the paths name that user."""
    user = phone.me()["name"]
    session = phone.send("GET", "/v1/sessions", params={"user": "users/me"}).json["sessions"][0]
    binding = phone.customer_bindings()[0]["name"]
    phone.login(phone.me()["username"], "Tide-pool-88!", captcha_answer="PALM7")
    message = phone.messages()["messages"][0]["name"]  # the new sign-in notice
    return {
        "GetUser": f"/v1/{user}",
        "ListSessions": f"/v1/sessions?user={user}",
        "GetSession": f"/v1/{session['name']}",
        "ListMessages": f"/v1/{user}/messages",
        "GetMessage": f"/v1/{message}",
        "ListCustomerBindings": f"/v1/{user}/customerBindings",
        "GetSubscriptions": f"/v1/{user}/subscriptions",
        "binding": binding,
    }


def test_an_out_of_scope_staff_member_is_refused_on_each_user_route(
    system: System,
    new_customer: Callable[..., EdgeClient],
    staff: Callable[[str], EdgeClient],
) -> None:
    outside = user_routes(new_customer(OUT_OF_SCOPE))
    inside = user_routes(new_customer(IN_SCOPE))
    outside.pop("binding"), inside.pop("binding")
    agent, admin = staff("agent"), staff("admin")
    got = {m: (refusal(agent, inside[m]), refusal(agent, outside[m])) for m in inside}
    # What the agent's permissions reach in their own office, the service refuses
    # outside it; the rest the edge refuses anyway.
    reached = [m for m, (own_office, _) in got.items() if own_office == "200"]
    assert len(reached) >= 6, got
    assert {m: got[m][1] for m in reached} == dict.fromkeys(reached, "403 OUT_OF_SCOPE")
    assert all(other.startswith("403 ") for _, other in got.values()), got
    assert {m: refusal(admin, p) for m, p in outside.items()} == dict.fromkeys(outside, "200")

    listed = {
        u["name"] for u in agent.send("GET", "/v1/users", params={"pageSize": 1000}).json["users"]
    }
    assert outside["GetUser"].removeprefix("/v1/") not in listed
    assert inside["GetUser"].removeprefix("/v1/") in listed


@pytest.fixture
def agent_offices(system: System) -> Iterator[Callable[[list[str]], None]]:
    """Set the demo agent's supply offices as an administrator does with the staff CLI
    (straight to the account service, not through the edge); restored afterwards."""
    admin = admin_assertion(system)
    target = system.services["account"].target
    credentials = system.settings.client_credentials("cli")
    assert credentials is not None
    channel = grpc.secure_channel(target, credentials)
    stub = account_admin_service_pb2_grpc.AccountAdminServiceStub(channel)
    agent = next(
        u.name
        for u in stub.ListUsers(
            account_admin_service_pb2.ListUsersRequest(username_prefix="agent"),
            metadata=admin,
        ).users
        if u.username == "agent"
    )

    def set_offices(offices: list[str]) -> None:
        stub.SetSupplyOffices(
            account_admin_service_pb2.SetSupplyOfficesRequest(
                name=agent,
                supply_office_coverage=account_pb.SUPPLY_OFFICE_COVERAGE_LISTED,
                supply_offices=offices,
            ),
            metadata=admin,
        )

    yield set_offices
    set_offices(["QJ-QL"])
    channel.close()


def test_a_change_of_offices_drops_the_staff_members_cached_entries_at_once(
    system: System,
    staff: Callable[[str], EdgeClient],
    agent_offices: Callable[[list[str]], None],
) -> None:
    agent = staff("agent")
    customer = demo_customer(IN_SCOPE)
    time.sleep(1.1)  # past the login's own revocation mark, so the session is cached
    agent.balance(customer)
    calls = system.billing_calls["GetBalance"]
    assert agent.balance(customer)["balanceFen"]
    assert system.billing_calls["GetBalance"] == calls, "the staff read was not cached"
    agent_user = agent.me()["name"]
    generations = TagGenerations(CachePool([system.memcached.address]))
    before = generations.current([user_tag(agent_user)])

    agent_offices(["QJ-ZY"])
    # The account service bumped the agent's tag when the change committed...
    assert generations.current([user_tag(agent_user)]) != before
    # ...and the agent's next reads (once the edge hears of the new principal) are
    # refused by billing, not answered from the entry kept under the old offices.
    deadline = time.monotonic() + 5
    while True:
        try:
            agent.balance(customer)
        except PermissionDenied as refused:
            assert refused.reason == "OUT_OF_SCOPE"
            break
        assert time.monotonic() < deadline, "the old scope's entry is still served"
        time.sleep(0.1)


def admin_assertion(system: System) -> tuple[tuple[str, bytes], ...]:
    """The admin's identity metadata for the account service, as the staff CLI forwards
    it (issued to the CLI)."""
    admin = EdgeClient(system.url, ca_file=system.ca_file)
    admin.login("admin", "Palm-dev-2026!", captcha_answer="PALM7")
    credentials = system.settings.client_credentials("cli")
    assert credentials is not None and admin.token is not None
    with grpc.secure_channel(system.services["account"].target, credentials) as channel:
        answer = account_internal_service_pb2_grpc.AccountInternalServiceStub(
            channel
        ).AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=admin.token)
        )
    admin.close()
    return (("palmgrid-identity-bin", answer.assertion.SerializeToString()),)
