"""Login throttling that a stranger cannot turn against a user (NIST SP 800-63B §5.2.2).

Failed logins are counted per username and source (an IPv4 address; an IPv6 /64, what
one subscriber line holds), and per username over all sources (the ceiling):

- One source gets `lockout_threshold` (5) consecutive failures for a username; then
  that source, and only it, is locked for `lockout_duration` (15 minutes). Each further
  `lockout_threshold` failures lock it twice as long as the last time, up to
  `login_lock_max_seconds` (progressive delays). The owner, elsewhere, still signs in.
- All sources together get `login_failure_ceiling` (100, NIST's most) consecutive
  failures; then the username is locked, with the same progression, for every source
  but those it signed in from within `login_known_source_days` (90): a stranger who
  spends that many captchas and ceiling / threshold addresses locks out other
  strangers, not the owner at home (NIST's "allowlist IP addresses from which the
  subscriber has successfully authenticated before"). A known source still has its
  own per-source limit.
- A success clears its source's count and the ceiling and remembers the source;
  counts are forgotten after `login_lock_max_seconds` without a failure.

An attempt is counted before its password is checked, in one statement (an upsert that
adds one unless the row is locked, returning the new count), and the attempt that
reaches a limit sets the lock in the same transaction, which holds the row until it
commits. So parallel tries cannot race past a limit: twenty parallel wrong tries from
one source count as twenty — `lockout_threshold` get their password checked, the rest
are refused with ACCOUNT_LOCKED unchecked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from servers.account import models
from servers.runtime import ResourceExhausted

__all__ = [
    "ALL_SOURCES",
    "Attempt",
    "Limits",
    "clear",
    "lock_of_username",
    "reserve",
    "source_of",
    "succeeded",
]

# The `source` of a username's row over all sources (the ceiling).
ALL_SOURCES = "*"
_UNKNOWN_SOURCE = "unknown"
_TABLE: sa.Table = models.LoginThrottle.__table__  # type: ignore[attr-defined]
_MOST_DOUBLINGS = 20


@dataclass(frozen=True)
class Limits:
    """How many consecutive failures are allowed and how long the locks last."""

    per_source: int
    ceiling: int
    first_lock: timedelta
    longest_lock: timedelta
    # How long a source the username signed in from stays exempt from the ceiling.
    known_source_memory: timedelta = timedelta(days=90)

    def lock_for(self, count: int, limit: int) -> timedelta | None:
        """The lock the `count`-th consecutive failure sets against `limit`: the first
        lock at `limit`, twice as long at each further `limit`; None between."""
        if count % limit:
            return None
        doublings = min(count // limit - 1, _MOST_DOUBLINGS)
        return min(self.first_lock * 2**doublings, self.longest_lock)


@dataclass
class Attempt:
    """A login attempt counted before its password is checked."""

    username_key: str
    source: str
    # Which counts this attempt locked ("source", "username") and until when.
    locked: dict[str, datetime] = field(default_factory=dict)


def source_of(client_ip: str) -> str:
    """The source an address counts under: an IPv4 address, or an IPv6 /64."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return _UNKNOWN_SOURCE
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def reserve(
    session: Session, username: str, client_ip: str, limits: Limits, now: datetime
) -> Attempt:
    """Count a login attempt of `username` from `client_ip`, or raise ACCOUNT_LOCKED
    (uncounted) while that source or the username is locked. Call in a write
    transaction; the caller checks the password after it commits."""
    attempt = Attempt(username.lower(), source_of(client_ip))
    forget_before = now - limits.longest_lock
    for kind, source, limit in (
        ("source", attempt.source, limits.per_source),
        ("username", ALL_SOURCES, limits.ceiling),
    ):
        count = _count(session, attempt.username_key, source, now, forget_before)
        if count is None and kind == "username" and _known(session, attempt, limits, now):
            continue  # the owner's own place: the ceiling's lock is not for it
        if count is None:
            raise _locked(_locked_until(session, attempt.username_key, source), now)
        lock = limits.lock_for(count, limit)
        if lock is not None:
            until = now + lock
            session.execute(
                sa.update(_TABLE)
                .where(_TABLE.c.username_key == attempt.username_key, _TABLE.c.source == source)
                .values(locked_until=until)
            )
            attempt.locked[kind] = until
    return attempt


def succeeded(session: Session, attempt: Attempt, now: datetime) -> None:
    """The password was right: clear the source's count and the ceiling, and remember
    the source as one the username signs in from."""
    session.execute(
        sa.delete(_TABLE).where(
            _TABLE.c.username_key == attempt.username_key,
            _TABLE.c.source.in_([attempt.source, ALL_SOURCES]),
        )
    )
    known = session.get(models.LoginSource, (attempt.username_key, attempt.source))
    if known is None:
        session.add(
            models.LoginSource(
                username_key=attempt.username_key, source=attempt.source, last_success_time=now
            )
        )
    else:
        known.last_success_time = now


def _known(session: Session, attempt: Attempt, limits: Limits, now: datetime) -> bool:
    """Whether the username signed in from the attempt's source lately."""
    known = session.get(models.LoginSource, (attempt.username_key, attempt.source))
    return known is not None and known.last_success_time >= now - limits.known_source_memory


def clear(session: Session, username: str) -> None:
    """Lift every lock and count of `username` (an administrator's unlock)."""
    session.execute(sa.delete(_TABLE).where(_TABLE.c.username_key == username.lower()))


def lock_of_username(session: Session, username: str, now: datetime) -> datetime | None:
    """Until when `username` is locked for every source; None when it is not."""
    until = _locked_until(session, username.lower(), ALL_SOURCES)
    return until if until is not None and until > now else None


def _count(
    session: Session, key: str, source: str, now: datetime, forget_before: datetime
) -> int | None:
    """Add one to the count of (key, source), atomically; None (and nothing added)
    while it is locked. A count last added to before `forget_before` starts over."""
    insert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_TABLE)
    column = _TABLE.c
    statement = (
        insert.values(username_key=key, source=source, failure_count=1, last_failure_time=now)
        .on_conflict_do_update(
            index_elements=[column.username_key, column.source],
            set_={
                "failure_count": sa.case(
                    (column.last_failure_time < forget_before, 1),
                    else_=column.failure_count + 1,
                ),
                "last_failure_time": now,
            },
            where=sa.or_(column.locked_until.is_(None), column.locked_until <= now),
        )
        .returning(column.failure_count)
    )
    count = session.execute(statement).scalar_one_or_none()
    return None if count is None else int(count)


def _locked_until(session: Session, key: str, source: str) -> datetime | None:
    row = session.get(models.LoginThrottle, (key, source))
    return row.locked_until if row is not None else None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _locked(until: datetime | None, now: datetime) -> ResourceExhausted:
    wait = (until - now) if until is not None else timedelta(0)
    return ResourceExhausted(
        "too many failed logins; signing in is locked for a while",
        reason="ACCOUNT_LOCKED",
        retry_after=max(wait, timedelta(seconds=1)),
    )
