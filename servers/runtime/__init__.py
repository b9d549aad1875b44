"""The runtime every PalmGrid gRPC service is built on (see docs/runtime.md).

Build a service from a `ServiceSpec` and run it with `serve`; servicers raise the
`DomainError` subclasses, read the caller with `current_principal()`, check data scope
with the `require_*_scope` helpers, add details to their audit record with
`audit_note()` and pass deadlines on with `downstream_call_options()`.
They read the current time from an injected `Clock` and reckon calendar days in
`CHINA_STANDARD_TIME`, and count working days with `load_calendar()` (also
`Runtime.calendar`); `servers.runtime.protoconv` converts row values to proto types.
"""

from __future__ import annotations

from palmlib.permissions import has_permission
from servers.runtime.audit import AuditEntry, AuditSink
from servers.runtime.auditing import AuditNote, audit_note
from servers.runtime.calendar import WorkingCalendar, load_calendar
from servers.runtime.calls import (
    CallInfo,
    CallOptions,
    current_call,
    current_principal,
    downstream_call_options,
    require_principal,
)
from servers.runtime.clock import SYSTEM_CLOCK, Clock, SettableClock, SystemClock
from servers.runtime.db import create_engine, session_scope, write_transaction
from servers.runtime.errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    error_from_rpc,
)
from servers.runtime.identity import (
    AssertionInvalid,
    AssertionSigner,
    AssertionVerifier,
    KeyDirectory,
    load_signer,
)
from servers.runtime.migrations import migrate
from servers.runtime.scopes import (
    in_customer_scope,
    in_supply_office_scope,
    require_customer_scope,
    require_supply_office_scope,
    require_user_scope,
    supply_office_condition,
)
from servers.runtime.server import (
    AsyncServer,
    Registration,
    Server,
    create_server,
)
from servers.runtime.service import Runtime, ServiceSpec, build_server, serve
from servers.runtime.service_settings import ServiceSettings
from servers.runtime.settings import Settings, SettingsError, load_settings
from servers.runtime.timezones import CHINA_STANDARD_TIME

__all__ = [
    "CHINA_STANDARD_TIME",
    "SYSTEM_CLOCK",
    "Aborted",
    "AlreadyExists",
    "AssertionInvalid",
    "AssertionSigner",
    "AssertionVerifier",
    "AsyncServer",
    "AuditEntry",
    "AuditNote",
    "AuditSink",
    "CallInfo",
    "CallOptions",
    "Clock",
    "DeadlineExceeded",
    "DomainError",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "KeyDirectory",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "Registration",
    "ResourceExhausted",
    "Runtime",
    "Server",
    "ServiceSettings",
    "ServiceSpec",
    "SettableClock",
    "Settings",
    "SettingsError",
    "SystemClock",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "WorkingCalendar",
    "audit_note",
    "build_server",
    "create_engine",
    "create_server",
    "current_call",
    "current_principal",
    "downstream_call_options",
    "error_from_rpc",
    "has_permission",
    "in_customer_scope",
    "in_supply_office_scope",
    "load_calendar",
    "load_settings",
    "load_signer",
    "migrate",
    "require_customer_scope",
    "require_principal",
    "require_supply_office_scope",
    "require_user_scope",
    "serve",
    "session_scope",
    "supply_office_condition",
    "write_transaction",
]
