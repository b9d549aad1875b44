"""Sessions: bearer tokens, their states, and ending them.

A token is 256 random bits (43 URL-safe characters); only its SHA-256 is stored, which
is enough for a value that cannot be guessed. A session is alive while ACTIVE, used
within its idle timeout (sliding: each authentication moves it) and younger than its
absolute lifetime. Ending sessions records a revocation so edges drop their copies.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmlib.masking import mask_secret
from servers.account import models, revocations

ACTIVE = account_pb.SESSION_STATE_ACTIVE
LOGGED_OUT = account_pb.SESSION_STATE_LOGGED_OUT
EXPIRED = account_pb.SESSION_STATE_EXPIRED
DISPLACED = account_pb.SESSION_STATE_DISPLACED
REVOKED = account_pb.SESSION_STATE_REVOKED

# Why a token is refused, by the state its session is in.
REFUSAL_REASONS: dict[int, str] = {
    LOGGED_OUT: "SESSION_INVALID",
    REVOKED: "SESSION_INVALID",
    EXPIRED: "SESSION_EXPIRED",
    DISPLACED: "SESSION_DISPLACED",
}


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe base64."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def name_of(row: models.Session) -> str:
    return f"sessions/{row.id}"


def lapsed(row: models.Session, now: datetime) -> bool:
    """Whether an ACTIVE session has outlived its lifetime or been idle too long."""
    idle = timedelta(seconds=row.idle_timeout_seconds)
    return now >= row.expire_time or now - row.last_activity_time > idle


def refusal(row: models.Session | None, now: datetime) -> str | None:
    """The ErrorReason refusing this session's token now, or None when it is alive."""
    if row is None:
        return "SESSION_INVALID"
    if row.state == ACTIVE:
        return "SESSION_EXPIRED" if lapsed(row, now) else None
    return REFUSAL_REASONS.get(row.state, "SESSION_INVALID")


def end(session: Session, rows: Sequence[models.Session], state: int, now: datetime) -> list[str]:
    """Move `rows` to `state` (a final state) and record their revocation; returns
    their names."""
    names = []
    for row in rows:
        row.state = state
        row.end_time = now
        session.add(row)
        names.append(name_of(row))
    revocations.revoke(session, revocations.SESSION, names, now)
    return names


def _active_state_rows(session: Session, user_id: str) -> list[models.Session]:
    return list(
        session.exec(
            select(models.Session).where(
                col(models.Session.user_id) == user_id, col(models.Session.state) == ACTIVE
            )
        ).all()
    )


def alive_rows(session: Session, user_id: str, now: datetime) -> list[models.Session]:
    """The user's sessions still alive (read only)."""
    return [row for row in _active_state_rows(session, user_id) if not lapsed(row, now)]


def active_rows(session: Session, user_id: str, now: datetime) -> list[models.Session]:
    """The user's sessions still alive; lapsed ones are marked EXPIRED on the way."""
    rows = _active_state_rows(session, user_id)
    lapsed_rows = [row for row in rows if lapsed(row, now)]
    if lapsed_rows:
        end(session, lapsed_rows, EXPIRED, now)
    return [row for row in rows if row not in lapsed_rows]


def to_proto(row: models.Session, user_name: str) -> account_pb.Session:
    message = account_pb.Session(
        name=name_of(row),
        user=user_name,
        state=row.state,  # type: ignore[arg-type]
        client_ip=row.client_ip,
        user_agent=row.user_agent,
        client_public_key=row.client_public_key,
        # Never returned in plain text.
        push_token=mask_secret(row.push_token or ""),
    )
    message.create_time.FromDatetime(row.create_time)
    message.expire_time.FromDatetime(row.expire_time)
    message.idle_timeout.FromTimedelta(timedelta(seconds=row.idle_timeout_seconds))
    message.last_activity_time.FromDatetime(row.last_activity_time)
    if row.end_time is not None:
        message.end_time.FromDatetime(row.end_time)
    return message
