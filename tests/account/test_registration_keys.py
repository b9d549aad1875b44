"""The `request_id` of a registration, an anonymous create whose keys every anonymous
caller shares: within its short life a retry returns the user made first; after it
(PALMGRID_ACCOUNT_ANONYMOUS_REQUEST_KEY_MINUTES, 10 by default) the same id returns
nothing, and housekeeping deletes such keys."""

from __future__ import annotations

from datetime import timedelta

import grpc
import sqlalchemy as sa

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.runtime.runtime_tables import request_keys_table
from tests.account.conftest import CAPTCHA, GOOD_PASSWORD, Account, fails, new_request_id


def _register(account: Account, username: str, request_id: str) -> account_pb.User:
    return account.public.CreateUser(
        account_service_pb2.CreateUserRequest(
            user=account_pb.User(username=username),
            password=GOOD_PASSWORD,
            captcha=account.captcha(),
            captcha_answer=CAPTCHA,
            request_id=request_id,
        )
    )


def _anonymous_keys(account: Account) -> int:
    table = request_keys_table("account")
    with account.runtime.session() as session:
        count = session.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.caller == "")
        ).scalar()
    return int(count or 0)


def test_a_registration_key_returns_the_user_only_for_minutes(account: Account) -> None:
    request_id = new_request_id()
    first = _register(account, "keptbriefly", request_id)
    account.clock.advance(timedelta(minutes=9))
    assert _register(account, "keptbriefly", request_id).name == first.name

    account.clock.advance(timedelta(minutes=2))  # 11 minutes: the key is forgotten
    replay = fails(lambda: _register(account, "keptbriefly", request_id))
    assert replay.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "taken" in (replay.details() or "")  # the username, not the user handed back


def test_housekeeping_deletes_lapsed_registration_keys(account: Account) -> None:
    _register(account, "purgedkey", new_request_id())
    assert _anonymous_keys(account) == 1
    worker = account.internal("worker")
    worker.PurgeExpired(internal_pb.PurgeExpiredRequest())
    assert _anonymous_keys(account) == 1  # still within its life
    account.clock.advance(timedelta(minutes=11))
    worker.PurgeExpired(internal_pb.PurgeExpiredRequest())
    assert _anonymous_keys(account) == 0
