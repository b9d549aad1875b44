"""Login throttling per (username, source) with progressive locks, a per-username
ceiling, atomic counts and the owner told (servers/account/throttle.py).

Sources are told apart here by the address the edge vouches for (`palmgrid-client-ip`
on the edge's certificate); that the real edge sends it is shown through the edge in
tests/e2e/test_login_throttle.py and tests/e2e/test_client_address.py.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
from pydantic import ValidationError

from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import account_service_pb2, account_service_pb2_grpc
from servers.account.config import AccountConfig
from servers.account.throttle import source_of
from servers.runtime import error_from_rpc
from tests.account.conftest import (
    CAPTCHA,
    FAST_ARGON2,
    GOOD_PASSWORD,
    Account,
    StartAccount,
    error_reason,
    fails,
)

WRONG = "Wrong-pass-1!"


def login_from(
    account: Account, address: str, username: str, password: str = GOOD_PASSWORD
) -> account_service_pb2.CreateSessionResponse:
    stub = account_service_pb2_grpc.AccountServiceStub(account.channel("edge"))
    return stub.CreateSession(
        account_service_pb2.CreateSessionRequest(
            username=username, password=password, captcha=account.captcha(), captcha_answer=CAPTCHA
        ),
        metadata=(("palmgrid-client-ip", address),),
    )


def fail_from(account: Account, address: str, username: str, times: int) -> list[str]:
    return [
        error_reason(fails(lambda: login_from(account, address, username, WRONG)))
        for _ in range(times)
    ]


def retry_after(error: grpc.RpcError) -> timedelta:
    return error_from_rpc(error).retry_after  # type: ignore[attr-defined,no-any-return]


def test_a_locked_source_does_not_lock_the_owner_elsewhere(account: Account) -> None:
    account.register("captain")
    before = login_from(account, "198.51.100.7", "captain").token
    assert fail_from(account, "203.0.113.5", "captain", 5) == ["INVALID_CREDENTIALS"] * 5
    locked = fails(lambda: login_from(account, "203.0.113.5", "captain"))
    assert error_reason(locked) == "ACCOUNT_LOCKED"
    assert retry_after(locked) == timedelta(minutes=15)
    # The owner's session survives and a login from their own address works.
    assert account.authenticate(before).principal.username == "captain"
    assert login_from(account, "198.51.100.7", "captain").token


def test_each_further_lock_of_a_source_lasts_twice_as_long(account: Account) -> None:
    account.register("captain")
    for minutes in (15, 30, 60):
        fail_from(account, "203.0.113.5", "captain", 5)
        locked = fails(lambda: login_from(account, "203.0.113.5", "captain"))
        assert retry_after(locked) == timedelta(minutes=minutes)
        account.clock.advance(timedelta(minutes=minutes, seconds=1))
    # A success from the source starts it over.
    assert login_from(account, "203.0.113.5", "captain").token
    fail_from(account, "203.0.113.5", "captain", 5)
    assert retry_after(fails(lambda: login_from(account, "203.0.113.5", "captain"))) == (
        timedelta(minutes=15)
    )


def test_an_ipv6_subscriber_line_counts_as_one_source() -> None:
    assert source_of("2001:db8:1:2::a") == source_of("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert source_of("::ffff:203.0.113.5") == "203.0.113.5"
    assert source_of("") == "unknown"


def test_the_ceiling_locks_the_username_for_every_source(start_account: StartAccount) -> None:
    account = start_account(config=FAST_ARGON2.model_copy(update={"login_failure_ceiling": 10}))
    account.register("captain")
    token = account.login("captain").token
    fail_from(account, "203.0.113.5", "captain", 5)
    fail_from(account, "203.0.113.6", "captain", 5)
    locked = fails(lambda: login_from(account, "198.51.100.7", "captain"))
    assert error_reason(locked) == "ACCOUNT_LOCKED"
    assert retry_after(locked) == timedelta(minutes=15)
    titles = Counter(
        m.title
        for m in account.public.ListMessages(
            requests_pb.ListMessagesRequest(parent="users/me"), metadata=account.metadata(token)
        ).messages
    )
    # One notice per locked source, one for the username.
    assert titles["Sign-in attempts blocked"] == 3
    account.clock.advance(timedelta(minutes=15, seconds=1))
    assert login_from(account, "198.51.100.7", "captain").token


def test_the_owner_is_told_which_source_was_blocked(account: Account) -> None:
    account.register("captain")
    token = account.login("captain").token
    fail_from(account, "203.0.113.5", "captain", 5)
    messages = account.public.ListMessages(
        requests_pb.ListMessagesRequest(parent="users/me"), metadata=account.metadata(token)
    ).messages
    assert len(messages) == 1
    assert "203.0.113.5" in messages[0].body


def test_twenty_parallel_wrong_tries_count_as_twenty(account_any_db: Account) -> None:
    account = account_any_db
    account.register("captain")
    captchas = [account.captcha() for _ in range(20)]
    stub = account_service_pb2_grpc.AccountServiceStub(account.channel("edge"))

    def wrong(captcha: str) -> str:
        request = account_service_pb2.CreateSessionRequest(
            username="captain", password=WRONG, captcha=captcha, captcha_answer=CAPTCHA
        )
        metadata = (("palmgrid-client-ip", "203.0.113.5"),)
        return error_reason(fails(lambda: stub.CreateSession(request, metadata=metadata)))

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = Counter(pool.map(wrong, captchas))
    # Five passwords were checked; the other fifteen were refused unchecked.
    assert outcomes == {"INVALID_CREDENTIALS": 5, "ACCOUNT_LOCKED": 15}


def test_the_ceiling_is_at_most_nists_hundred() -> None:
    with pytest.raises(ValidationError):
        AccountConfig(login_failure_ceiling=101)
