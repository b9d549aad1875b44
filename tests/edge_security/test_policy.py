"""Who shares a cached entry, which tags a request renders, which address a client has,
and when If-None-Match matches."""

from __future__ import annotations

import hashlib

import pytest

from cachetags import TagTemplate
from cachetags.plans import (
    CachePlan,
    entry_tags,
    render_tags,
    resolve_me,
    sharing_scope,
    staff_reach,
)
from edge.cache.http import cache_control, etag, matches
from edge.pipeline import Exchange
from edge.security.clientip import TrustedProxies
from palmgrid.account.v1 import account_service_pb2
from palmgrid.billing.v1 import billing_service_pb2
from palmgrid.options.v1 import options_pb2
from palmgrid.type.v1 import identity_pb2
from palmlib.permissions import has_permission

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
STAFF = identity_pb2.PRINCIPAL_KIND_STAFF


def plan(scope: int, *, public: bool = False, client_max_age: int = 0) -> CachePlan:
    return CachePlan(
        method="m",
        ttl=60,
        scope=scope,
        tags=(TagTemplate.parse("customer/{name=customers/*}"),),
        stale_if_error=0,
        client_max_age=client_max_age,
        scope_field="name",
        public=public,
        seal=True,
        invalidates=(),
    )


def balance_request(customer: str = "3100000001") -> billing_service_pb2.GetBalanceRequest:
    return billing_service_pb2.GetBalanceRequest(name=f"customers/{customer}/balance")


def customer(user: str, *bound: str) -> identity_pb2.Principal:
    return identity_pb2.Principal(user=user, kind=CUSTOMER, customers=list(bound))


def test_bound_customers_share_a_customer_entry_and_others_get_none() -> None:
    bound = identity_pb2.Principal(
        user="users/a", kind=CUSTOMER, customers=["customers/3100000001"]
    )
    other = identity_pb2.Principal(
        user="users/b", kind=CUSTOMER, customers=["customers/3100000002"]
    )
    customer_plan = plan(options_pb2.CACHE_SCOPE_CUSTOMER)
    assert sharing_scope(customer_plan, balance_request(), bound) == "customer:customers/3100000001"
    assert sharing_scope(customer_plan, balance_request(), other) is None
    assert sharing_scope(customer_plan, balance_request(), None) is None


def test_staff_get_entries_of_their_own_and_of_their_current_scope() -> None:
    staff = identity_pb2.Principal(user="users/s", kind=STAFF, supply_offices=["QJ-QL"])
    customer_plan = plan(options_pb2.CACHE_SCOPE_CUSTOMER)
    scope = sharing_scope(customer_plan, balance_request(), staff)
    assert scope == f"customer:customers/3100000001|staff:users/s|reach:{staff_reach(staff)}"
    moved = identity_pb2.Principal(user="users/s", kind=STAFF, supply_offices=["QJ-ZY"])
    promoted = identity_pb2.Principal(
        user="users/s", kind=STAFF, supply_offices=["QJ-QL"], permissions=["billing.*"]
    )
    others = {sharing_scope(customer_plan, balance_request(), p) for p in (moved, promoted)}
    assert scope not in others and len(others) == 2
    # The reach is worked out once per principal as it is now, not once per object.
    staff.supply_offices.append("QJ-ZY")
    assert sharing_scope(customer_plan, balance_request(), staff) not in {scope, *others}
    del staff.supply_offices[1:]
    assert sharing_scope(customer_plan, balance_request(), staff) == scope


def test_staff_entries_hang_on_their_own_user_tag_too() -> None:
    staff = identity_pb2.Principal(user="users/s", kind=STAFF)
    customer = identity_pb2.Principal(
        user="users/a", kind=CUSTOMER, customers=["customers/3100000001"]
    )
    customer_plan = plan(options_pb2.CACHE_SCOPE_CUSTOMER)
    own = entry_tags(customer_plan, balance_request(), customer) or ["missing"]
    assert entry_tags(customer_plan, balance_request(), staff) == [*own, "user/users/s"]
    assert "user/users/a" not in own


def test_user_and_global_scopes() -> None:
    user = identity_pb2.Principal(user="users/a", kind=CUSTOMER)
    assert (
        sharing_scope(plan(options_pb2.CACHE_SCOPE_USER), balance_request(), user) == "user:users/a"
    )
    assert (
        sharing_scope(plan(options_pb2.CACHE_SCOPE_GLOBAL, public=True), balance_request(), None)
        == "global"
    )


def test_users_me_is_resolved_to_the_caller_in_tags() -> None:
    request = account_service_pb2.GetUserRequest(name="users/me")
    templates = [TagTemplate.parse("user/{name=users/*}")]
    assert render_tags(templates, request, "users/u1") == ["user/users/u1"]
    assert render_tags(templates, request, None) is None
    assert resolve_me("users/me/messages/3", "users/u1") == "users/u1/messages/3"
    assert resolve_me("users/meh", "users/u1") == "users/meh"


def test_customer_tags_keep_the_customer_part_of_deeper_names() -> None:
    request = billing_service_pb2.GetBillRequest(name="customers/3100000001/bills/2026-10")
    templates = [TagTemplate.parse("customer/{name=customers/*}")]
    assert render_tags(templates, request, None) == ["customer/customers/3100000001"]


def test_client_addresses_come_from_trusted_proxies_only() -> None:
    proxies = TrustedProxies.parse(["10.0.0.0/8"])
    assert proxies.client_ip("10.1.1.1", b"203.0.113.7") == "203.0.113.7"
    assert proxies.client_ip("10.1.1.1", b"198.51.100.1, 203.0.113.7, 10.2.2.2") == "203.0.113.7"
    assert proxies.client_ip("192.0.2.5", b"203.0.113.7") == "192.0.2.5"  # untrusted peer
    assert proxies.client_ip("10.1.1.1", b"not-an-ip") == "10.1.1.1"
    assert proxies.scheme("10.1.1.1", "http", b"https") == "https"
    assert proxies.scheme("192.0.2.5", "http", b"https") == "http"


def test_every_forwarded_for_line_counts_so_a_forged_first_line_is_not_believed() -> None:
    proxies = TrustedProxies.parse(("10.0.0.0/8",))
    # The client sent its own line; the trusted proxy appended another, not merged.
    exchange = Exchange(
        method="GET",
        raw_path="/v1/outlets",
        query=b"",
        headers=[(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.7")],
        client="10.1.1.1",
        scheme="http",
        receive=_no_body,
        max_body=0,
        request_id="r1",
    )
    assert proxies.client_ip_of(exchange) == "203.0.113.7"


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


@pytest.mark.parametrize(
    ("header", "hit"),
    [(None, False), (b"*", True), (b'"other", W/"x"', False)],
)
def test_if_none_match(header: bytes | None, hit: bool) -> None:
    tag = etag(b"payload", "masked")
    assert matches(header, tag) is hit
    assert matches(tag, tag) and matches(tag.removeprefix(b"W/"), tag)
    assert etag(b"payload", "sealed:k") != tag
    # The digest a cache entry stores gives the tag hashing the body would.
    assert etag(b"payload", "masked", hashlib.sha256(b"payload").digest()) == tag


def test_cache_control_follows_the_policy() -> None:
    assert cache_control(plan(1, public=True, client_max_age=3600)) == b"public, max-age=3600"
    assert cache_control(plan(3)) == b"private, no-cache"


def test_permission_patterns() -> None:
    principal = identity_pb2.Principal(permissions=["billing.balances.get", "outage.*"])
    assert has_permission(principal, "billing.balances.get")
    assert has_permission(principal, "outage.outages.create")
    assert not has_permission(principal, "billing.payments.create")


def test_local_revocations_name_users_sessions_roles_and_resets() -> None:
    from edge.security.revocations import LocalRevocations

    now = [100.0]
    local = LocalRevocations(clock=lambda: now[0])
    names = ["users/a", "sessions/s1", "roles/customer"]
    assert not local.stale(names, 99.0)
    local.revoke(["roles/customer"])
    assert local.stale(names, 99.0) and not local.stale(names, 100.5)
    now[0] = 200.0
    local.reset()
    assert local.stale(["users/z"], 150.0) and not local.stale(["users/z"], 201.0)
