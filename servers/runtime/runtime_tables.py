"""Tables the runtime keeps in every service's own database, named after the service
(`<service>_audit_outbox`, `<service>_request_keys`) so services may share a database:

- the audit outbox: records the audit log could not take at once, and the pending
  records of audited calls in progress, forwarded later (`servers.runtime.audit_outbox`);
- request keys: the `request_id` of each idempotent create and what it made
  (`servers.runtime.idempotency`).

`migrate_runtime_tables(service, url)` creates them (Alembic, from
`servers/runtime/table_migrations/`, version table `alembic_version_<service>_runtime`);
`build_server` runs it after the service's own migrations.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa

from servers.runtime.columns import AutoBigInt, UtcDateTime
from servers.runtime.migrations import migrate

MIGRATIONS = Path(__file__).parent / "table_migrations"
# The suffix of the name the runtime's migrations run under (its version table's).
SUFFIX = "_runtime"


@cache
def audit_outbox_table(service: str) -> sa.Table:
    """Audit entries waiting for the audit log, oldest first (one Table per service)."""
    return sa.Table(
        f"{service}_audit_outbox",
        sa.MetaData(),
        sa.Column("id", AutoBigInt, primary_key=True, autoincrement=True),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, default=0),
        sa.Column("last_error", sa.String(500), nullable=False, default=""),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_time", UtcDateTime(), nullable=False),
        # "ready": to forward; "pending": written in an audited call's own transaction,
        # replaced by the call's record when it ends (forwarded as it stands if the
        # call never ends: the process died after its commit).
        sa.Column("state", sa.String(16), nullable=False, default="ready"),
    )


@cache
def request_keys_table(service: str) -> sa.Table:
    """One row per (operation, caller, request_id): the request's fingerprint and the
    resource it created (one Table per service)."""
    return sa.Table(
        f"{service}_request_keys",
        sa.MetaData(),
        sa.Column("operation", sa.String(128), primary_key=True),
        sa.Column("caller", sa.String(128), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
    )


def migrate_runtime_tables(service: str, url: str) -> None:
    """Create or upgrade the runtime's tables in `service`'s database at `url`."""
    migrate(service + SUFFIX, url, MIGRATIONS)
