"""The revocation log that edges watch to drop cached authentications.

Every change that makes a cached assertion stale appends a row: a session that ended
(logout, displacement, expiry, revocation), a user whose roles, bindings, scope,
password or state changed, a role whose permissions changed. The row's id is the
revocation generation; it only grows. Rows older than the retention are pruned: a
watcher that asks for changes from before the oldest kept row gets a reset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from servers.account import models

SESSION, USER, ROLE = "session", "user", "role"


def revoke(session: Session, kind: str, targets: Sequence[str], now: datetime) -> None:
    """Record that `targets` (resource names) of `kind` changed."""
    for target in targets:
        session.add(models.Revocation(kind=kind, target=target, create_time=now))


def current_generation(session: Session) -> int:
    value = session.exec(select(func.max(models.Revocation.generation))).one()
    return int(value or 0)


def oldest_generation(session: Session) -> int:
    value = session.exec(select(func.min(models.Revocation.generation))).one()
    return int(value or 0)


@dataclass
class Changes:
    """Revocations after some generation, grouped by kind."""

    generation: int
    sessions: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def changes_after(session: Session, after: int, limit: int = 1000) -> Changes | None:
    """The next revocations after generation `after`, or None when there are none."""
    rows = session.exec(
        select(models.Revocation)
        .where(col(models.Revocation.generation) > after)
        .order_by(col(models.Revocation.generation))
        .limit(limit)
    ).all()
    if not rows:
        return None
    changes = Changes(generation=int(rows[-1].generation or 0))
    groups = {SESSION: changes.sessions, USER: changes.users, ROLE: changes.roles}
    for row in rows:
        target = groups[row.kind]
        if row.target not in target:
            target.append(row.target)
    return changes


def prune(session: Session, now: datetime, retention: timedelta) -> None:
    """Drop revocations older than `retention`, keeping the newest (the generation)."""
    newest = current_generation(session)
    session.execute(
        delete(models.Revocation).where(
            col(models.Revocation.create_time) < now - retention,
            col(models.Revocation.generation) < newest,
        )
    )
