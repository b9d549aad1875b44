"""Data-scope helpers and permission matching used by servicers."""

from __future__ import annotations

import pytest

from palmgrid.type.v1 import identity_pb2
from servers.runtime import (
    PermissionDenied,
    Unauthenticated,
    has_permission,
    require_customer_scope,
    require_supply_office_scope,
    require_user_scope,
)

Principal = identity_pb2.Principal
CUSTOMER = Principal(
    user="users/alice",
    kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
    customers=["customers/3100000001"],
)
CLERK = Principal(
    user="users/clerk", kind=identity_pb2.PRINCIPAL_KIND_STAFF, supply_offices=["SO-01"]
)
ADMIN = Principal(
    user="users/admin", kind=identity_pb2.PRINCIPAL_KIND_STAFF, all_supply_offices=True
)
WORKER = Principal(
    user="serviceAccounts/worker",
    kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
    permissions=["*"],
    all_supply_offices=True,
)


def _out_of_scope(call: object) -> None:
    with pytest.raises(PermissionDenied) as caught:
        call()  # type: ignore[operator]
    assert caught.value.reason == "OUT_OF_SCOPE"


def test_customer_sees_only_bound_customers() -> None:
    assert require_customer_scope(CUSTOMER, "customers/3100000001") is CUSTOMER
    _out_of_scope(lambda: require_customer_scope(CUSTOMER, "customers/3100000002", "SO-01"))


def test_staff_see_customers_of_their_supply_offices() -> None:
    require_customer_scope(CLERK, "customers/3100000002", "SO-01")
    _out_of_scope(lambda: require_customer_scope(CLERK, "customers/3100000003", "SO-02"))
    _out_of_scope(lambda: require_customer_scope(CLERK, "customers/3100000003"))
    require_customer_scope(ADMIN, "customers/3100000003", "SO-02")
    require_customer_scope(WORKER, "customers/3100000003")


def test_supply_office_scope_lets_customers_see_only_their_own() -> None:
    require_supply_office_scope(CLERK, "SO-01")
    _out_of_scope(lambda: require_supply_office_scope(CLERK, "SO-02"))
    require_supply_office_scope(CUSTOMER, "SO-02", creator="users/alice")
    _out_of_scope(lambda: require_supply_office_scope(CUSTOMER, "SO-02", creator="users/bob"))


def test_user_scope_is_the_caller_itself() -> None:
    require_user_scope(CUSTOMER, "users/alice")
    require_user_scope(CUSTOMER, "users/me")
    _out_of_scope(lambda: require_user_scope(CUSTOMER, "users/bob"))
    _out_of_scope(lambda: require_user_scope(ADMIN, "users/bob"))
    require_user_scope(WORKER, "users/bob")


def test_no_principal_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated):
        require_customer_scope(None, "customers/3100000001")


def test_permission_patterns() -> None:
    billing = Principal(permissions=["billing.*", "outage.outages.get"])
    assert has_permission(billing, "billing.payments.create")
    assert has_permission(billing, "outage.outages.get")
    assert not has_permission(billing, "outage.outages.cancel")
    assert not has_permission(billing, "billingx")
    assert has_permission(WORKER, "anything.at.all")
    assert not has_permission(CUSTOMER, "billing.payments.create")
