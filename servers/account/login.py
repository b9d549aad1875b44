"""Logging in: captcha, lockout, credentials, the one-session policy, the new session.

Unknown usernames and wrong passwords fail alike (INVALID_CREDENTIALS): an unknown
username is checked against a decoy hash, so both take one Argon2 verification, and
failures are counted per username whether or not it exists, so a lockout does not
reveal which usernames exist either. The password is verified outside any database
transaction (it takes tens of milliseconds); the outcome is then written in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlmodel import Session

from palmgrid.account.v1 import account_service_pb2 as service_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import captchas, inbox, models, revocations, sessions, users
from servers.account.core import AccountCore
from servers.account.parameters import Parameters
from servers.runtime import (
    AuditEntry,
    FailedPrecondition,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    audit_note,
)
from servers.runtime.ids import new_id

LOGIN_ACTION = "/palmgrid.account.v1.AccountService/CreateSession"


@dataclass(frozen=True)
class Client:
    """Where a login comes from."""

    ip: str
    user_agent: str
    public_key: bytes = b""


def _locked(until: datetime, now: datetime) -> ResourceExhausted:
    return ResourceExhausted(
        "too many failed logins; the account is locked for a while",
        reason="ACCOUNT_LOCKED",
        retry_after=max(until - now, timedelta(seconds=1)),
    )


def _attempts(session: Session, key: str) -> models.LoginAttempts:
    row = session.get(models.LoginAttempts, key, with_for_update=True)
    if row is None:
        row = models.LoginAttempts(username_key=key)
        session.add(row)
    return row


def check_not_locked(session: Session, username: str, now: datetime) -> None:
    """Raise ACCOUNT_LOCKED while `username` (known or not) is locked."""
    row = session.get(models.LoginAttempts, username.lower())
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise _locked(row.locked_until, now)


def record_failure(
    session: Session, username: str, params: Parameters, now: datetime
) -> datetime | None:
    """Count a failed login of `username`; returns the lock's end when this failure
    locks the account."""
    row = _attempts(session, username.lower())
    row.failure_count += 1
    row.last_failure_time = now
    locked_until = None
    if row.failure_count >= params.lockout_threshold:
        locked_until = row.locked_until = now + params.lockout_duration
        row.failure_count = 0
    session.add(row)
    return locked_until


def clear_failures(session: Session, username: str) -> None:
    row = session.get(models.LoginAttempts, username.lower())
    if row is not None:
        session.delete(row)


def lock_event(
    username: str, user: models.User | None, until: datetime, now: datetime
) -> AuditEntry:
    return AuditEntry(
        action=LOGIN_ACTION,
        event_time=now,
        actor=users.name_of(user) if user else "",
        actor_username=username,
        resource=users.name_of(user) if user else "",
        code=8,  # RESOURCE_EXHAUSTED
        error_reason="ACCOUNT_LOCKED",
        details={"event": "account.locked", "lockedUntil": until.isoformat()},
    )


def _local(moment: datetime, params: Parameters) -> str:
    return moment.astimezone(params.time_zone).strftime("%Y-%m-%d %H:%M %Z")


def log_in(
    core: AccountCore, request: service_pb.CreateSessionRequest, client: Client
) -> service_pb.CreateSessionResponse:
    """The whole of CreateSession; raises the DomainError a failed login gets."""
    now = core.now()
    captchas.spend(core.runtime, request.captcha, request.captcha_answer, now=now)
    with core.runtime.session() as session:
        params = core.params(session)
        check_not_locked(session, request.username, now)
        user = users.by_username(session, request.username)
        encoded = user.password_hash if user else None
    recorded = audit_note()
    recorded.actor_username = request.username
    # With no user, the decoy hash is verified: as long as a wrong password takes.
    matched = core.hasher.verify(encoded, request.password)
    if user is None or not matched:
        fail_login(core, request.username, user, params, now)
    recorded.actor = recorded.resource = users.name_of(user)
    if user.state == users.DISABLED:
        raise PermissionDenied("the account is disabled", reason="ACCOUNT_DISABLED")
    with core.runtime.session(write=True) as session:
        user = users.get(session, user.id)
        check_not_locked(session, request.username, now)
        clear_failures(session, request.username)
        if core.hasher.needs_rehash(user.password_hash):
            user.password_hash = core.hasher.hash(request.password)
        if user.kind == users.STAFF and users.needs_password_change(user, now):
            user.password_change_required = True
        others = sessions.active_rows(session, user.id, now)
        if others and params.refuse_concurrent_login:
            raise FailedPrecondition("the user is signed in elsewhere; log out there first")
        displaced = sessions.end(session, others, sessions.DISPLACED, now)
        token = sessions.new_token()
        row = models.Session(
            id=new_id(12),
            token_hash=sessions.token_hash(token),
            user_id=user.id,
            state=sessions.ACTIVE,
            create_time=now,
            expire_time=now + params.session_lifetime,
            idle_timeout_seconds=int(params.session_idle_timeout.total_seconds()),
            last_activity_time=now,
            client_ip=client.ip,
            user_agent=client.user_agent,
            client_public_key=client.public_key,
        )
        session.add(row)
        revocations.prune(session, now, timedelta(seconds=core.config.revocation_retention_seconds))
        user.last_login_time = now
        session.add(user)
        if displaced:
            revocations.revoke(session, revocations.USER, [users.name_of(user)], now)
            inbox.write(
                session,
                user_id=user.id,
                topic=account_pb.TOPIC_ACCOUNT,
                title="New sign-in to your account",
                body=(
                    f"Your account signed in at {_local(now, params)} from "
                    f"{client.ip or 'an unknown address'}"
                    f"{' (' + client.user_agent + ')' if client.user_agent else ''}; "
                    f"{len(displaced)} other session(s) were signed out. If this was not "
                    "you, change your password."
                ),
                now=now,
                target=sessions.name_of(row),
            )
        change_required = user.password_change_required
        session_message = sessions.to_proto(row, users.name_of(user))
    recorded.resource = sessions.name_of(row)
    recorded.details = {"displacedSessions": str(len(displaced))}
    recorded.events += [
        AuditEntry(
            action=LOGIN_ACTION,
            event_time=now,
            actor=users.name_of(user),
            actor_username=user.username,
            resource=name,
            error_reason="SESSION_DISPLACED",
            details={"event": "session.displaced", "displacedBy": sessions.name_of(row)},
        )
        for name in displaced
    ]
    return service_pb.CreateSessionResponse(
        token=token,
        session=session_message,
        displaced_session_count=len(displaced),
        password_change_required=change_required,
    )


def fail_login(
    core: AccountCore, username: str, user: models.User | None, params: Parameters, now: datetime
) -> NoReturn:
    """Count a failed login (locking the account at the threshold) and raise
    INVALID_CREDENTIALS."""
    with core.runtime.session(write=True) as session:
        check_not_locked(session, username, now)
        locked_until = record_failure(session, username, params, now)
        if locked_until is not None:
            audit_note().events.append(lock_event(username, user, locked_until, now))
            if user is not None:
                revocations.revoke(session, revocations.USER, [users.name_of(user)], now)
                inbox.write(
                    session,
                    user_id=user.id,
                    topic=account_pb.TOPIC_ACCOUNT,
                    title="Sign-in locked",
                    body=(
                        f"After {params.lockout_threshold} failed sign-ins your account is "
                        f"locked until {_local(locked_until, params)}."
                    ),
                    now=now,
                )
    raise Unauthenticated("unknown username or wrong password", reason="INVALID_CREDENTIALS")
