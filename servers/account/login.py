"""Logging in: captcha, throttle, credentials, the one-session policy, the new session.

Unknown usernames and wrong passwords fail alike (INVALID_CREDENTIALS): an unknown
username is checked against a decoy hash, so both take one Argon2 verification, and
failures are counted per username and source whether or not the username exists
(servers/account/throttle.py), so a lock does not reveal which usernames exist either.
The password is verified outside any database transaction (it takes tens of
milliseconds); the outcome is then written in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from palmgrid.account.v1 import account_service_pb2 as service_pb
from servers.account import (
    captchas,
    models,
    notices,
    revocations,
    second_factor,
    sessions,
    throttle,
    users,
)
from servers.account.core import AccountCore
from servers.account.parameters import Parameters
from servers.runtime import (
    AuditEntry,
    FailedPrecondition,
    PermissionDenied,
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


def limits(core: AccountCore, params: Parameters) -> throttle.Limits:
    """The login throttle's limits: the system parameters and the service's settings."""
    return throttle.Limits(
        per_source=params.lockout_threshold,
        ceiling=max(core.config.login_failure_ceiling, params.lockout_threshold),
        first_lock=params.lockout_duration,
        longest_lock=timedelta(seconds=core.config.login_lock_max_seconds),
        known_source_memory=timedelta(days=core.config.login_known_source_days),
    )


def lock_event(
    username: str,
    user: models.User | None,
    attempt: throttle.Attempt,
    kind: str,
    until: datetime,
    now: datetime,
) -> AuditEntry:
    """The audit record of a lock: of one source (`kind` "source") or of the username
    for every source ("username")."""
    return AuditEntry(
        action=LOGIN_ACTION,
        event_time=now,
        actor=users.name_of(user) if user else "",
        actor_username=username,
        resource=users.name_of(user) if user else "",
        code=8,  # RESOURCE_EXHAUSTED
        error_reason="ACCOUNT_LOCKED",
        details={
            "event": "account.locked",
            "lockedUntil": until.isoformat(),
            "scope": kind,
            "source": attempt.source if kind == "source" else throttle.ALL_SOURCES,
        },
    )


def _local(moment: datetime, params: Parameters) -> str:
    return moment.astimezone(params.time_zone).strftime("%Y-%m-%d %H:%M %Z")


def log_in(
    core: AccountCore, request: service_pb.CreateSessionRequest, client: Client
) -> service_pb.CreateSessionResponse:
    """The whole of CreateSession; raises the DomainError a failed login gets."""
    now = core.now()
    captchas.spend(core.runtime, request.captcha, request.captcha_answer, now=now)
    recorded = audit_note()
    recorded.actor_username = request.username
    with core.runtime.session(write=True) as session:
        params = core.params(session)
        # Counted before the password is checked, so parallel tries cannot race a limit.
        attempt = throttle.reserve(session, request.username, client.ip, limits(core, params), now)
        user = users.by_username(session, request.username)
        encoded = user.password_hash if user else None
    # With no user, the decoy hash is verified: as long as a wrong password takes.
    matched = core.hasher.verify(encoded, request.password)
    if user is None or not matched:
        fail_login(core, request.username, user, attempt, params, now)
    recorded.actor = recorded.resource = users.name_of(user)
    with core.runtime.session(write=True) as session:
        factor = second_factor.confirmed(session, user.id)
        if factor is not None and not request.second_factor_code:
            # Still counted: a right password alone does not clear the throttle.
            raise Unauthenticated("a second-factor code is needed", reason="SECOND_FACTOR_REQUIRED")
        passed = factor is None or second_factor.accept_code(
            core.hasher, session, factor, request.second_factor_code, now
        )
        if passed:
            throttle.succeeded(session, attempt, now)
    if not passed:
        fail_login(core, request.username, user, attempt, params, now, second_factor=True)
    if user.state == users.DISABLED:
        raise PermissionDenied("the account is disabled", reason="ACCOUNT_DISABLED")
    with core.runtime.session(write=True) as session:
        user = users.get(session, user.id)
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
            notices.tell_owner(
                session,
                user_id=user.id,
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
        enrollment_required = second_factor.enrollment_required(session, user, params)
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
        second_factor_enrollment_required=enrollment_required,
    )


def fail_login(
    core: AccountCore,
    username: str,
    user: models.User | None,
    attempt: throttle.Attempt,
    params: Parameters,
    now: datetime,
    *,
    second_factor: bool = False,
) -> NoReturn:
    """Raise INVALID_CREDENTIALS (SECOND_FACTOR_INVALID for a wrong or used code after
    the right password) for a failed login (already counted by the throttle);
    when this failure locked its source or the username, record it and tell the owner.
    The owner's sessions stay: a stranger's failures sign nobody out."""
    note = audit_note()
    for kind, until in attempt.locked.items():
        note.events.append(lock_event(username, user, attempt, kind, until, now))
    if user is not None and attempt.locked:
        with core.runtime.session(write=True) as session:
            for kind, until in attempt.locked.items():
                notices.tell_owner(
                    session,
                    user_id=user.id,
                    title="Sign-in attempts blocked",
                    body=_lock_notice(kind, attempt, until, params),
                    now=now,
                )
    if second_factor:
        raise Unauthenticated(
            "wrong or already used second-factor code", reason="SECOND_FACTOR_INVALID"
        )
    raise Unauthenticated("unknown username or wrong password", reason="INVALID_CREDENTIALS")


def _lock_notice(kind: str, attempt: throttle.Attempt, until: datetime, params: Parameters) -> str:
    if kind == "source":
        return (
            f"After {params.lockout_threshold} failed sign-ins from {attempt.source}, "
            f"sign-in from there is paused until {_local(until, params)}. Signing in from "
            "your own devices is not affected. If this was not you, consider changing "
            "your password."
        )
    return (
        "After many failed sign-ins from many places, signing in to your account is "
        f"paused until {_local(until, params)}. If this was not you, change your password "
        "once you can sign in, or ask customer service to unlock the account."
    )
