"""PurgeExpired, the housekeeping the worker schedules: captchas an hour past expiry
are deleted, lapsed sessions are marked EXPIRED (and revoked); nothing else is touched,
and a second call finds nothing more. The lapsed sessions are found by the database,
in batches: live ones are never loaded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, func, select

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from servers.account import housekeeping, models, sessions
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


def test_only_lapsed_sessions_are_loaded_and_they_are_ended_in_batches(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("idleone", "idletwo", "idlethree"):
        account.register(name)
        account.login(name)
    account.clock.advance(timedelta(minutes=20))
    for name in ("liveone", "livetwo"):
        account.register(name)
        account.login(name)
    account.clock.advance(timedelta(minutes=15))  # the first three idle 35 min, the rest 15
    monkeypatch.setattr(housekeeping, "SESSION_BATCH", 2)
    loaded: list[str] = []

    def on_load(row: models.Session, _context: object) -> None:
        loaded.append(row.id)

    event.listen(models.Session, "load", on_load)
    try:
        reply = account.internal("worker").PurgeExpired(internal_pb.PurgeExpiredRequest())
    finally:
        event.remove(models.Session, "load", on_load)
    assert reply.expired_session_count == 3
    assert _states(account) == [sessions.EXPIRED] * 3 + [sessions.ACTIVE] * 2
    assert len(loaded) == len(set(loaded)) == 3  # the lapsed ones, each once
