"""PurgeExpired, the housekeeping the worker schedules: captchas an hour past expiry
are deleted, lapsed sessions are marked EXPIRED (and revoked); nothing else is touched,
and a second call finds nothing more."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, func, select

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from servers.account import models, sessions
from tests.account.conftest import Account


def _captchas(account: Account) -> int:
    with account.runtime.session() as session:
        return int(session.exec(select(func.count()).select_from(models.Captcha)).one())


def _states(account: Account) -> list[int]:
    with account.runtime.session() as session:
        return list(
            session.exec(select(models.Session.state).order_by(col(models.Session.create_time)))
        )


def test_purge_expired_deletes_old_captchas_and_expires_lapsed_sessions(account: Account) -> None:
    account.register("idleuser")
    account.login("idleuser")
    account.clock.advance(timedelta(minutes=20))
    account.register("busyuser")
    account.login("busyuser")
    account.captcha()  # unused, still valid
    before = _captchas(account)
    account.clock.advance(timedelta(minutes=15))  # idleuser idle 35 min, busyuser 15
    worker = account.internal("worker")
    reply = worker.PurgeExpired(internal_pb.PurgeExpiredRequest())
    assert reply.expired_session_count == 1
    assert _states(account) == [sessions.EXPIRED, sessions.ACTIVE]
    assert reply.deleted_captcha_count == 0  # none an hour past expiry yet
    account.clock.advance(timedelta(hours=2))
    reply = worker.PurgeExpired(internal_pb.PurgeExpiredRequest())
    assert (reply.deleted_captcha_count, reply.expired_session_count) == (before, 1)
    assert _captchas(account) == 0
    again = worker.PurgeExpired(internal_pb.PurgeExpiredRequest())
    assert (again.deleted_captcha_count, again.expired_session_count) == (0, 0)
