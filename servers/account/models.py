"""The account service's tables. Every name starts with `account_`, so the service can
share a database with others. Times are stored as naive UTC and read back as aware UTC
(`servers.runtime.columns`); lists of strings are JSON.

Who is who: users, their roles and supply offices, password history, login failures.
Sessions and captchas. Customer bindings, failed binding verifications, alert
subscriptions and the in-app inbox. Roles with their permissions and the catalog of
permissions the contract declared when the roles were last seeded. System parameters.
The audit log (a hash chain with a head row that serialises appends) and the
revocation log that edges watch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, json_list_field, time_field

# The SQLModel metadata holds only our tables: other services' models live in their own
# processes, and tests import one service at a time per metadata check.
metadata = SQLModel.metadata


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    # The account tables were created with times without a zone (naive UTC).
    return time_field(nullable=nullable, index=index, timezone=False)


class User(SQLModel, table=True):
    __tablename__ = "account_users"

    id: str = Field(primary_key=True, max_length=32)
    username: str = Field(max_length=32)
    # Lower-cased username: usernames are unique regardless of case.
    username_key: str = Field(max_length=32, unique=True)
    display_name: str = Field(default="", max_length=64)
    phone: str | None = Field(default=None, max_length=16)
    kind: int  # palmgrid.type.v1.PrincipalKind
    state: int  # UserState
    state_reason: str = Field(default="", max_length=200)
    coverage: int  # SupplyOfficeCoverage
    supply_offices: list[str] = json_list_field()
    password_hash: str = Field(max_length=512)
    password_changed_time: datetime = _time()
    password_change_required: bool = False
    password_expire_time: datetime | None = _time(nullable=True)
    last_login_time: datetime | None = _time(nullable=True)
    create_time: datetime = _time()
    update_time: datetime = _time()
    # CreateStaffUser's request_id, so that a retried creation returns the same user.
    create_request_id: str | None = Field(default=None, max_length=64, unique=True)


class UserRole(SQLModel, table=True):
    __tablename__ = "account_user_roles"

    user_id: str = Field(primary_key=True, foreign_key="account_users.id", max_length=32)
    role_id: str = Field(primary_key=True, foreign_key="account_roles.id", max_length=32)


class Role(SQLModel, table=True):
    __tablename__ = "account_roles"

    id: str = Field(primary_key=True, max_length=32)
    title: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=500)
    permissions: list[str] = json_list_field()
    # Bumped on every change; the etag is derived from it.
    version: int = 1
    update_time: datetime = _time()


class PermissionCatalogEntry(SQLModel, table=True):
    """A permission the contract declared when the default roles were last seeded: a
    permission missing here is new, and the default grants for it are added."""

    __tablename__ = "account_permission_catalog"

    permission: str = Field(primary_key=True, max_length=128)
    first_seen_time: datetime = _time()


class PasswordHistory(SQLModel, table=True):
    __tablename__ = "account_password_history"

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    user_id: str = Field(foreign_key="account_users.id", max_length=32, index=True)
    password_hash: str = Field(max_length=512)
    create_time: datetime = _time()


class LoginThrottle(SQLModel, table=True):
    """Consecutive failed logins of a username from one source (an IPv4 address or an
    IPv6 /64), and from all sources together (`source` = `*`, the ceiling). Counted for
    usernames known or not, so a lock does not reveal which usernames exist. A login
    attempt is counted before its password is checked (servers/account/throttle.py)."""

    __tablename__ = "account_login_throttle"

    username_key: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=64)
    failure_count: int = 0
    locked_until: datetime | None = _time(nullable=True)
    last_failure_time: datetime | None = _time(nullable=True)


class LoginSource(SQLModel, table=True):
    """A source (as LoginThrottle counts them) a username last signed in from at
    `last_success_time`: exempt from the username's ceiling lock for a while
    (servers/account/throttle.py)."""

    __tablename__ = "account_login_sources"

    username_key: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=64)
    last_success_time: datetime = _time()


class Captcha(SQLModel, table=True):
    __tablename__ = "account_captchas"

    id: str = Field(primary_key=True, max_length=64)
    # SHA-256 of the captcha id and the upper-cased answer.
    answer_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    create_time: datetime = _time()
    expire_time: datetime = _time(index=True)
    used_time: datetime | None = _time(nullable=True)


class Session(SQLModel, table=True):
    __tablename__ = "account_sessions"
    __table_args__ = (Index("ix_account_sessions_user_state", "user_id", "state"),)

    id: str = Field(primary_key=True, max_length=64)
    # SHA-256 of the bearer token; the token itself is never stored.
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    user_id: str = Field(foreign_key="account_users.id", max_length=32)
    state: int  # SessionState
    create_time: datetime = _time()
    expire_time: datetime = _time()
    idle_timeout_seconds: int
    last_activity_time: datetime = _time()
    end_time: datetime | None = _time(nullable=True)
    client_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=256)
    client_public_key: bytes = Field(
        default=b"", sa_column=Column(LargeBinary(512), nullable=False)
    )
    push_token: str | None = Field(default=None, max_length=4096)


class CustomerBinding(SQLModel, table=True):
    __tablename__ = "account_customer_bindings"

    user_id: str = Field(primary_key=True, foreign_key="account_users.id", max_length=32)
    # "customers/{10 digits}"
    customer: str = Field(primary_key=True, max_length=32, index=True)
    display_name: str = Field(default="", max_length=64)
    # The customer's supply office as billing named it when the binding was verified
    # (empty for bindings made before it was kept): staff reach the user from there.
    supply_office: str = Field(default="", max_length=32)
    create_time: datetime = _time()


class CustomerBindingLock(SQLModel, table=True):
    """One row per customer ever bound: a binding takes its row lock (an upsert) before
    counting the customer's users, so two bindings of one customer commit one after
    the other and the users-per-customer cap holds (servers/account/binding_commit.py)."""

    __tablename__ = "account_customer_binding_locks"

    customer: str = Field(primary_key=True, max_length=32)
    update_time: datetime = _time()


class BindingCode(SQLModel, table=True):
    """The one-time code last sent to a customer's registered phone for a user who wants
    to bind it (servers/account/binding_codes.py): its Argon2id hash, until when it is
    accepted, how many tries it has had; gone once used. What billing answered is kept
    with it, so the binding and its notices need not ask again."""

    __tablename__ = "account_binding_codes"

    user_id: str = Field(primary_key=True, foreign_key="account_users.id", max_length=32)
    customer: str = Field(primary_key=True, max_length=32)
    code_hash: str = Field(max_length=256)
    tries: int = 0
    expire_time: datetime = _time()
    supply_office: str = Field(default="", max_length=32)
    registered_phone: str = Field(default="", max_length=16)
    create_time: datetime = _time()


class BindingAttempts(SQLModel, table=True):
    """Binding attempts counted within a window, per (kind, key): codes sent and codes
    tried, each per user, per customer and per client address
    (servers/account/binding_limits.py). Added to in one upsert that returns the count."""

    __tablename__ = "account_binding_attempts"

    kind: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=80)
    count: int = 0
    window_start: datetime = _time()


class Subscriptions(SQLModel, table=True):
    __tablename__ = "account_subscriptions"

    user_id: str = Field(primary_key=True, foreign_key="account_users.id", max_length=32)
    outage: bool = True
    bill: bool = True
    application_progress: bool = True
    notice: bool = True
    sms: bool = False
    push: bool = True
    update_time: datetime = _time()


class Message(SQLModel, table=True):
    __tablename__ = "account_messages"
    __table_args__ = (Index("ix_account_messages_user_time", "user_id", "create_time"),)

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="account_users.id", max_length=32)
    topic: int
    title: str = Field(max_length=64)
    body: str = Field(max_length=2000)
    customer: str = Field(default="", max_length=32)
    target: str = Field(default="", max_length=256)
    notification: str = Field(default="", max_length=80)
    create_time: datetime = _time()
    read_time: datetime | None = _time(nullable=True)
    # CreateMessage's request_id (unique: a retry returns the first message).
    request_id: str | None = Field(default=None, max_length=64, unique=True)


class SystemParametersRow(SQLModel, table=True):
    """The single row of system parameters, as proto3 JSON of SystemParameters."""

    __tablename__ = "account_system_parameters"

    id: int = Field(default=1, primary_key=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    update_time: datetime = _time()
    updater: str = Field(default="", max_length=80)


class AuditRecord(SQLModel, table=True):
    """One audit record. Append-only: triggers refuse UPDATE and DELETE (see the
    migration), and the hash chain reveals edits made around them."""

    __tablename__ = "account_audit_records"
    __table_args__ = (Index("ix_account_audit_records_event_time", "event_time"),)

    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_time: datetime = _time()
    actor: str = Field(default="", max_length=80, index=True)
    actor_username: str = Field(default="", max_length=64)
    action: str = Field(max_length=256, index=True)
    resource: str = Field(default="", max_length=512)
    code: int = 0
    error_reason: str = Field(default="", max_length=64)
    request_id: str = Field(default="", max_length=64)
    trace_id: str = Field(default="", max_length=32)
    client_ip: str = Field(default="", max_length=64)
    details: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recorder: str = Field(default="", max_length=80)
    create_time: datetime = _time()
    previous_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    # CreateAuditRecord's request_id: a retried write is recorded once. Not hashed: it
    # identifies the write, not the event.
    write_request_id: str | None = Field(default=None, max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The last record of the chain; appends lock this row, so sequences have no gaps."""

    __tablename__ = "account_audit_head"

    id: int = Field(default=1, primary_key=True)
    sequence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class Revocation(SQLModel, table=True):
    """One step of the revocation log; its id is the revocation generation."""

    __tablename__ = "account_revocations"

    generation: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    # "session", "user" or "role"
    kind: str = Field(max_length=16)
    target: str = Field(max_length=80)
    create_time: datetime = _time(index=True)


TABLES = [
    User,
    Role,
    UserRole,
    PermissionCatalogEntry,
    PasswordHistory,
    LoginThrottle,
    Captcha,
    Session,
    CustomerBinding,
    CustomerBindingLock,
    BindingCode,
    BindingAttempts,
    Subscriptions,
    Message,
    SystemParametersRow,
    AuditRecord,
    AuditHead,
    Revocation,
]


class SecondFactor(SQLModel, table=True):
    """A staff user's TOTP second factor (servers/account/second_factor.py): the secret
    sealed with a key derived from the pepper, so the database alone does not give it
    away; confirmed by a first valid code; the time step of the last accepted code, so
    that a code is not accepted twice."""

    __tablename__ = "account_second_factors"

    user_id: str = Field(primary_key=True, max_length=32)
    sealed_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    confirm_time: datetime | None = _time(nullable=True)
    last_used_step: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    create_time: datetime = _time()


class RecoveryCode(SQLModel, table=True):
    """A single-use recovery code of a second factor, kept as a keyed digest."""

    __tablename__ = "account_recovery_codes"

    user_id: str = Field(primary_key=True, max_length=32)
    code_digest: str = Field(primary_key=True, max_length=64)
    used_time: datetime | None = _time(nullable=True)
