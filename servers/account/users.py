"""Users: creating them, finding them, and showing them (phones masked)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.type.v1 import identity_pb2
from palmlib.masking import mask_phone
from servers.account import models, throttle
from servers.account.passwords import PasswordHasher
from servers.account.roles import role_name, roles_of
from servers.runtime import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from servers.runtime.etags import content_etag
from servers.runtime.ids import new_id

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
STAFF = identity_pb2.PRINCIPAL_KIND_STAFF
ACTIVE = account_pb.USER_STATE_ACTIVE
DISABLED = account_pb.USER_STATE_DISABLED
COVERAGE_NONE = account_pb.SUPPLY_OFFICE_COVERAGE_NONE
COVERAGE_LISTED = account_pb.SUPPLY_OFFICE_COVERAGE_LISTED
COVERAGE_ALL = account_pb.SUPPLY_OFFICE_COVERAGE_ALL

_PHONE = re.compile(r"^1[3-9][0-9]{9}$")


def name_of(user: models.User) -> str:
    return f"users/{user.id}"


def id_from(name: str) -> str:
    return name.split("/")[1]


def plain_phone(value: str, field: str) -> str:
    """The phone as given, which must be plain digits here: the edge opens field-encryption
    envelopes before a request reaches a service."""
    if not _PHONE.match(value):
        raise InvalidArgument(
            "the phone number must arrive in plain digits",
            reason="ENVELOPE_INVALID",
            field_violations=[FieldViolation(field, "must be 11 digits starting 13-19")],
        )
    return value


def by_username(session: Session, username: str) -> models.User | None:
    return session.exec(
        select(models.User).where(models.User.username_key == username.lower())
    ).first()


def get(session: Session, user_id: str) -> models.User:
    user = session.get(models.User, user_id)
    if user is None:
        raise NotFound(f"users/{user_id} not found")
    return user


def create(
    session: Session,
    *,
    username: str,
    password: str,
    kind: int,
    roles: Sequence[str],
    hasher: PasswordHasher,
    now: datetime,
    display_name: str = "",
    phone: str | None = None,
    coverage: int = COVERAGE_NONE,
    supply_offices: Sequence[str] = (),
    password_change_required: bool = False,
    password_expire_time: datetime | None = None,
    create_request_id: str | None = None,
) -> models.User:
    """Insert a user with roles, subscriptions and the first password-history entry.
    ALREADY_EXISTS when the username is taken (regardless of case)."""
    if by_username(session, username) is not None:
        raise AlreadyExists(f"the username {username} is taken")
    encoded = hasher.hash(password)
    user = models.User(
        id=new_id(),
        username=username,
        username_key=username.lower(),
        display_name=display_name or username,
        phone=phone,
        kind=kind,
        state=ACTIVE,
        coverage=coverage,
        supply_offices=list(supply_offices),
        password_hash=encoded,
        password_changed_time=now,
        password_change_required=password_change_required,
        password_expire_time=password_expire_time,
        create_time=now,
        update_time=now,
        create_request_id=create_request_id,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExists(f"the username {username} is taken") from None
    for role in roles:
        session.add(models.UserRole(user_id=user.id, role_id=role))
    session.add(models.Subscriptions(user_id=user.id, update_time=now))
    session.add(models.PasswordHistory(user_id=user.id, password_hash=encoded, create_time=now))
    session.flush()
    return user


def to_proto(session: Session, user: models.User, now: datetime) -> account_pb.User:
    """The User resource: roles as `roles/{id}`, phone masked, an etag of the rest."""
    message = account_pb.User(
        name=name_of(user),
        username=user.username,
        display_name=user.display_name,
        phone=mask_phone(user.phone or ""),
        kind=user.kind,  # type: ignore[arg-type]
        roles=[role_name(r) for r in roles_of(session, user.id)],
        state=user.state,  # type: ignore[arg-type]
        state_reason=user.state_reason,
        supply_office_coverage=user.coverage,  # type: ignore[arg-type]
        supply_offices=user.supply_offices if user.coverage == COVERAGE_LISTED else [],
        password_change_required=needs_password_change(user, now),
    )
    for field, value in (
        ("password_expire_time", user.password_expire_time),
        ("lock_expire_time", throttle.lock_of_username(session, user.username, now)),
        ("last_login_time", user.last_login_time),
        ("create_time", user.create_time),
        ("update_time", user.update_time),
    ):
        if value is not None:
            getattr(message, field).FromDatetime(value)
    message.etag = content_etag(message)
    return message


def needs_password_change(user: models.User, now: datetime) -> bool:
    """Reset by an administrator, or expired."""
    expired = user.password_expire_time is not None and user.password_expire_time <= now
    return user.password_change_required or expired
