"""How many binding attempts one user, one customer and one client address may make.

Codes sent (`SEND`) and codes tried (`TRY`) are counted apart, each per user, per
customer and per source (an IPv4 address or an IPv6 /64, as login throttling counts
them), within a window (AccountConfig). An attempt is counted before anything is sent
or checked, in one statement per counter (an upsert that adds one and returns the new
count), committed before the code is looked at, refused ones too: parallel tries
cannot race past a limit, twenty parallel wrong tries count as twenty, and a try past
any limit is refused with RATE_LIMITED without being checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from servers.account import models
from servers.account.config import AccountConfig
from servers.account.throttle import source_of
from servers.runtime import ResourceExhausted

SEND = "send"
TRY = "try"

_TABLE = models.BindingAttempts.__table__  # type: ignore[attr-defined]


def count_attempt(
    session: Session,
    config: AccountConfig,
    kind: str,
    *,
    user_id: str,
    customer: str,
    client_ip: str,
    now: datetime,
) -> ResourceExhausted | None:
    """Count one attempt of `kind` by `user_id` on `customer` from `client_ip` on each
    of its counters; returns the RATE_LIMITED error to raise, once the transaction has
    committed (the attempt stays counted), when it went past a limit."""
    window = timedelta(seconds=config.binding_attempt_window_seconds)
    counters = (
        ("user", user_id, config.binding_attempts_per_user),
        ("customer", customer, config.binding_attempts_per_customer),
        ("source", source_of(client_ip), config.binding_attempts_per_source),
    )
    waits = []
    for scope, key, limit in counters:
        count, window_start = _add_one(session, f"{kind}/{scope}", key, now, now - window)
        if count > limit:
            waits.append(window_start + window - now)
    if not waits:
        return None
    return ResourceExhausted(
        "too many binding attempts; try again later",
        reason="RATE_LIMITED",
        retry_after=max(max(waits), timedelta(seconds=1)),
    )


def count_staff_verification(
    session: Session, config: AccountConfig, *, staff_user_id: str, now: datetime
) -> ResourceExhausted | None:
    """Count one binding at the counter by `staff_user_id` (VerifyCustomerBinding), as
    `count_attempt` counts: the RATE_LIMITED error to raise once committed, past
    `binding_verifications_per_staff` in the window."""
    window = timedelta(seconds=config.binding_attempt_window_seconds)
    count, window_start = _add_one(session, "verify/staff", staff_user_id, now, now - window)
    if count <= config.binding_verifications_per_staff:
        return None
    return ResourceExhausted(
        "too many customers bound at the counter today; try again later",
        reason="RATE_LIMITED",
        retry_after=max(window_start + window - now, timedelta(seconds=1)),
    )


def _add_one(
    session: Session, kind: str, key: str, now: datetime, window_opened_after: datetime
) -> tuple[int, datetime]:
    """Add one to (kind, key) atomically and return the count and its window's start; a
    window that opened before `window_opened_after` starts over at one."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    column = _TABLE.c
    expired = column.window_start <= window_opened_after
    statement = (
        insert.values(kind=kind, key=key, count=1, window_start=now)
        .on_conflict_do_update(
            index_elements=[column.kind, column.key],
            set_={
                "count": sa.case((expired, 1), else_=column.count + 1),
                "window_start": sa.case((expired, now), else_=column.window_start),
            },
        )
        .returning(column.count, column.window_start)
    )
    count, window_start = session.execute(statement).one()
    return int(count), window_start
