"""Housekeeping the worker asks for (PurgeExpired): spent and expired captchas go,
lapsed sessions are marked EXPIRED and revoked, old revocation events are pruned.

Each of these also happens on the way through the paths that meet the rows (a new
captcha deletes old ones, a login expires the user's lapsed sessions); the scheduled
run catches the rows no request meets again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from servers.account import captchas, models, revocations, sessions


@dataclass(frozen=True)
class Purged:
    captchas: int
    sessions: int


def purge_expired(session: Session, now: datetime, *, retention: timedelta) -> Purged:
    """Do the housekeeping in the caller's transaction; what it removed or expired."""
    deleted = session.execute(
        delete(models.Captcha).where(
            col(models.Captcha.expire_time) < now - captchas.KEEP_AFTER_EXPIRY
        )
    )
    active = session.exec(
        select(models.Session).where(col(models.Session.state) == sessions.ACTIVE)
    ).all()
    lapsed = [row for row in active if sessions.lapsed(row, now)]
    if lapsed:
        sessions.end(session, lapsed, sessions.EXPIRED, now)
    revocations.prune(session, now, retention)
    return Purged(int(deleted.rowcount or 0), len(lapsed))  # type: ignore[attr-defined]
