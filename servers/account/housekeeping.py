"""Housekeeping the worker asks for (PurgeExpired): spent and expired captchas go,
lapsed sessions are marked EXPIRED and revoked, old revocation events are pruned.

Each of these also happens on the way through the paths that meet the rows (a new
captcha deletes old ones, a login expires the user's lapsed sessions); the scheduled
run catches the rows no request meets again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_
from sqlmodel import Session, col, select

from servers.account import captchas, models, revocations, sessions

# Lapsed sessions ended per round, so a backlog never sits in memory at once.
SESSION_BATCH = 500


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
    expired = 0
    while batch := _lapsed_sessions(session, now):
        sessions.end(session, batch, sessions.EXPIRED, now)
        session.flush()  # ended: the next batch is the next rows
        expired += len(batch)
    revocations.prune(session, now, retention)
    return Purged(int(deleted.rowcount or 0), expired)  # type: ignore[attr-defined]


def _lapsed_sessions(session: Session, now: datetime) -> list[models.Session]:
    """Up to SESSION_BATCH ACTIVE sessions past their lifetime or idle too long, found
    by the database (sessions.lapsed, as SQL): live sessions are never loaded."""
    timeouts = session.exec(
        select(models.Session.idle_timeout_seconds)
        .where(col(models.Session.state) == sessions.ACTIVE)
        .distinct()
    ).all()
    # One idle limit per timeout in use (a handful), so the comparison stays portable.
    idle = [
        and_(
            col(models.Session.idle_timeout_seconds) == seconds,
            col(models.Session.last_activity_time) < now - timedelta(seconds=seconds),
        )
        for seconds in timeouts
    ]
    return list(
        session.exec(
            select(models.Session)
            .where(
                col(models.Session.state) == sessions.ACTIVE,
                or_(col(models.Session.expire_time) <= now, *idle),
            )
            .limit(SESSION_BATCH)
        ).all()
    )
