"""System parameters: the run-time tunables administrators change (a singleton row).

`DEFAULTS` is the table of starting values. The row stores SystemParameters as proto3
JSON with every field present, so a parameter an administrator set to zero stays zero;
fields that a newer contract adds take their defaults until set. `Parameters` is the
typed view the login, session and binding logic reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf import field_mask_pb2, json_format
from sqlmodel import Session

from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from servers.account import models
from servers.runtime import Aborted, FieldViolation, InvalidArgument

NAME = "systemParameters"
DAY = 86400

DEFAULTS: dict[str, Any] = {
    "session_idle_timeout": "1800s",
    "session_lifetime": f"{12 * 3600}s",
    "concurrent_login_policy": "CONCURRENT_LOGIN_POLICY_DISPLACE",
    "lockout_threshold": 5,
    "lockout_duration": "900s",
    "password_expiry": f"{180 * DAY}s",  # staff only; customers' passwords do not expire
    "password_history": 5,
    "captcha_lifetime": "300s",
    "customer_binding_limit": 5,
    "notification_quiet_hours": {"start": {"hours": 22}, "end": {"hours": 7}},
    "sms_daily_limit": 10,
    "message_retention": f"{180 * DAY}s",
    "prewarm_window": {"start": {"hours": 5}, "end": {"hours": 7}},
    "time_zone": "Asia/Shanghai",
    "planned_outage_notice": f"{7 * DAY}s",
    "second_factor_roles": [],
}
_WINDOWS = ("notification_quiet_hours", "prewarm_window")
# Parameters that must always have a value (the windows may be cleared: no window).
_REQUIRED_DURATIONS = (
    "session_idle_timeout",
    "session_lifetime",
    "lockout_duration",
    "password_expiry",
    "captcha_lifetime",
    "message_retention",
    "planned_outage_notice",
)


@dataclass(frozen=True)
class Parameters:
    """What the account service's rules read, in Python types."""

    session_idle_timeout: timedelta
    session_lifetime: timedelta
    refuse_concurrent_login: bool
    lockout_threshold: int
    lockout_duration: timedelta
    # None: passwords do not expire.
    password_expiry: timedelta | None
    password_history: int
    captcha_lifetime: timedelta
    customer_binding_limit: int
    time_zone: ZoneInfo
    # Role names ("roles/admin") whose holders must sign in with a second factor.
    second_factor_roles: frozenset[str] = frozenset()
    # Production: every staff user whose roles change anything needs a second factor,
    # whatever `second_factor_roles` lists.
    writers_need_second_factor: bool = False


def _message(values: dict[str, Any]) -> admin_pb.SystemParameters:
    # None marks a window an administrator cleared (no default comes back for it).
    merged = {k: v for k, v in {**DEFAULTS, **values}.items() if v is not None}
    message = admin_pb.SystemParameters()
    json_format.ParseDict(merged, message, ignore_unknown_fields=True)
    message.name = NAME
    return message


def _to_json(message: admin_pb.SystemParameters) -> dict[str, Any]:
    values = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    for output_only in ("name", "update_time", "updater", "etag"):
        values.pop(output_only, None)
    for window in _WINDOWS:
        if not message.HasField(window):  # type: ignore[arg-type]
            values[window] = None
    return values


def _row(
    session: Session, now: datetime, *, for_update: bool = False
) -> models.SystemParametersRow:
    row = session.get(models.SystemParametersRow, 1, with_for_update=for_update)
    if row is None:
        row = models.SystemParametersRow(id=1, values=dict(DEFAULTS), update_time=now)
        session.add(row)
        session.flush()
    return row


def seed(session: Session, now: datetime) -> None:
    """Create the row with the defaults unless it exists."""
    _row(session, now)


def etag(row: models.SystemParametersRow) -> str:
    return hashlib.sha256(f"{NAME}:{row.version}".encode()).hexdigest()[:16]


def resource(session: Session, now: datetime) -> admin_pb.SystemParameters:
    """The SystemParameters resource as stored."""
    row = _row(session, now)
    message = _message(row.values)
    message.update_time.FromDatetime(row.update_time)
    message.updater = row.updater
    message.etag = etag(row)
    return message


def load(
    session: Session,
    now: datetime,
    *,
    idle_override_seconds: int | None = None,
    production: bool = False,
) -> Parameters:
    """The parameters in force. `idle_override_seconds` (PALMGRID_SESSION_IDLE_SECONDS,
    dev only) replaces the stored idle timeout; in `production` every staff user with a
    write permission needs a second factor."""
    message = _message(_row(session, now).values)
    idle = (
        timedelta(seconds=idle_override_seconds)
        if idle_override_seconds
        else message.session_idle_timeout.ToTimedelta()
    )
    expiry = message.password_expiry.ToTimedelta()
    return Parameters(
        session_idle_timeout=idle,
        session_lifetime=message.session_lifetime.ToTimedelta(),
        refuse_concurrent_login=message.concurrent_login_policy
        == admin_pb.CONCURRENT_LOGIN_POLICY_REFUSE,
        lockout_threshold=message.lockout_threshold,
        lockout_duration=message.lockout_duration.ToTimedelta(),
        password_expiry=expiry if expiry > timedelta(0) else None,
        password_history=message.password_history,
        captcha_lifetime=message.captcha_lifetime.ToTimedelta(),
        customer_binding_limit=message.customer_binding_limit,
        time_zone=ZoneInfo(message.time_zone),
        second_factor_roles=frozenset(message.second_factor_roles),
        writers_need_second_factor=production,
    )


def update(
    session: Session,
    change: admin_pb.SystemParameters,
    mask: field_mask_pb2.FieldMask,
    *,
    updater: str,
    now: datetime,
) -> admin_pb.SystemParameters:
    """Apply the masked fields of `change`; ABORTED when its etag is stale, INVALID_ARGUMENT
    when the result breaks a rule the field annotations cannot express."""
    row = _row(session, now, for_update=True)
    if change.etag and change.etag != etag(row):
        raise Aborted(
            "the system parameters changed since they were read", reason="FAILED_PRECONDITION"
        )
    current = _message(row.values)
    mask.MergeMessage(change, current, replace_message_field=True, replace_repeated_field=True)
    _check(current, mask)
    row.values = _to_json(current)
    row.version += 1
    row.update_time = now
    row.updater = updater
    session.add(row)
    session.flush()
    return resource(session, now)


def _check(message: admin_pb.SystemParameters, mask: field_mask_pb2.FieldMask) -> None:
    violations = []
    for path in mask.paths:
        if path in _REQUIRED_DURATIONS and not message.HasField(path):  # type: ignore[arg-type]
            violations.append(FieldViolation(_camel(path), "must be set", "REQUIRED"))
    for path in ("lockout_threshold", "customer_binding_limit"):
        if path in mask.paths and getattr(message, path) < 1:
            violations.append(FieldViolation(_camel(path), "must be at least 1", "INT32_GTE"))
    if "time_zone" in mask.paths:
        try:
            ZoneInfo(message.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            violations.append(
                FieldViolation(
                    "systemParameters.timeZone", "must be an IANA time zone", "TIME_ZONE"
                )
            )
    if violations:
        raise InvalidArgument(
            f"invalid system parameters: {violations[0].field}", field_violations=violations
        )


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return "systemParameters." + head + "".join(part.title() for part in rest)
