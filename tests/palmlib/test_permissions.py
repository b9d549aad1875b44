"""The permission rule the edge and the servers share."""

from __future__ import annotations

import pytest

from palmgrid.type.v1 import identity_pb2
from palmlib.permissions import has_permission


@pytest.mark.parametrize(
    ("granted", "asked", "allowed"),
    [
        (["billing.balances.get"], "billing.balances.get", True),
        (["billing.balances.get"], "billing.balances.list", False),
        (["billing.*"], "billing.payments.create", True),
        (["billing.*"], "billingx", False),
        (["billing*"], "billingx", True),  # a pattern is a plain prefix
        (["*"], "anything.at.all", True),
        ([], "billing.balances.get", False),
        (["outage.outages.get", "billing.*"], "billing.bills.list", True),
    ],
)
def test_a_permission_is_granted_exactly_or_by_a_trailing_star(
    granted: list[str], asked: str, allowed: bool
) -> None:
    principal = identity_pb2.Principal(permissions=granted)
    assert has_permission(principal, asked) is allowed


def test_a_star_inside_a_grant_is_not_a_pattern() -> None:
    principal = identity_pb2.Principal(permissions=["billing.*.get"])
    assert not has_permission(principal, "billing.bills.get")


def test_what_a_principal_holds_now_is_what_counts() -> None:
    # The rule is worked out once per set of grants: a principal whose grants change
    # (a role granted or revoked) is judged on its new grants at once.
    principal = identity_pb2.Principal(user="users/s", permissions=["billing.bills.list"])
    assert has_permission(principal, "billing.bills.list")
    assert not has_permission(principal, "billing.payments.create")
    principal.permissions.append("billing.*")
    assert has_permission(principal, "billing.payments.create")
    del principal.permissions[:]
    assert not has_permission(principal, "billing.bills.list")
