"""ListActiveUsers: the customer users with a login or a request since a time, each with
their bound customers, paged by user — what the worker's pre-warm starts from."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from servers.account import models
from servers.runtime.protoconv import timestamp
from tests.account.conftest import DEV_PASSWORD, Account, error_reason, fails


def bind(account: Account, user: str, *customers: str) -> None:
    """Bindings written as the binding RPC would (its verification with billing is
    tested in test_bindings)."""
    with account.runtime.session(write=True) as session:
        for customer in customers:
            session.add(
                models.CustomerBinding(
                    user_id=user.removeprefix("users/"),
                    customer=f"customers/{customer}",
                    create_time=account.clock.now(),
                )
            )


def customer_user(account: Account, username: str, *customers: str) -> tuple[str, str]:
    """A registered, signed-in customer user with these bindings: (user, token)."""
    account.register(username)
    token = account.login(username).token
    user = account.authenticate(token).principal.user
    bind(account, user, *customers)
    return user, token


def active_since(
    account: Account, days: int, *, caller: str = "prewarm", page_size: int = 0, token: str = ""
) -> internal_pb.ListActiveUsersResponse:
    return account.internal(caller).ListActiveUsers(
        internal_pb.ListActiveUsersRequest(
            active_after=timestamp(account.clock.now() - timedelta(days=days)),
            page_size=page_size,
            page_token=token,
        )
    )


def test_recent_logins_and_requests_make_users_active(account: Account) -> None:
    lapsed, _ = customer_user(account, "lapseduser", "3100000009")
    account.clock.advance(timedelta(days=9))
    active, token = customer_user(account, "activeuser", "3100000002", "3100000001")
    customer_user(account, "unbounduser")  # active, but nothing to pre-warm
    account.login("admin", DEV_PASSWORD)  # staff: not a customer user
    account.clock.advance(timedelta(minutes=10))
    account.authenticate(token)  # a request through the edge
    listed = active_since(account, 7)
    assert [u.user for u in listed.active_users] == [active]
    found = listed.active_users[0]
    assert list(found.customers) == ["customers/3100000001", "customers/3100000002"]
    assert found.last_active_time == timestamp(account.clock.now())
    assert lapsed in [u.user for u in active_since(account, 10).active_users]


def test_active_users_are_paged_by_user(account: Account) -> None:
    made = {
        customer_user(account, f"pageduser{c}", f"310000001{i}")[0] for i, c in enumerate("abc")
    }
    first = active_since(account, 1, page_size=2)
    assert len(first.active_users) == 2 and first.next_page_token
    rest = active_since(account, 1, page_size=2, token=first.next_page_token)
    seen = [u.user for u in (*first.active_users, *rest.active_users)]
    assert made <= set(seen) and seen == sorted(seen) and len(seen) == len(set(seen))


@pytest.mark.parametrize("caller", ["edge", "cli"])
def test_only_the_pre_warm_and_our_services_may_list_active_users(
    account: Account, caller: str
) -> None:
    error = fails(lambda: active_since(account, 7, caller=caller))
    assert isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "PERMISSION_DENIED"
