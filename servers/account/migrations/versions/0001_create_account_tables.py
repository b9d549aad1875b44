"""Create the account service's tables, with triggers that keep the audit log
append-only (UPDATE and DELETE of audit records fail).

Revision ID: 0001_account
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_account"
down_revision = None
branch_labels = None
depends_on = None

# An integer key that SQLite auto-increments (only INTEGER aliases its rowid).
AUTO_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER account_audit_records_no_update BEFORE UPDATE ON account_audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END""",
    """CREATE TRIGGER account_audit_records_no_delete BEFORE DELETE ON account_audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END""",
]
_POSTGRES_TRIGGERS = [
    """CREATE FUNCTION account_audit_records_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$""",
    """CREATE TRIGGER account_audit_records_append_only
    BEFORE UPDATE OR DELETE ON account_audit_records
    FOR EACH ROW EXECUTE FUNCTION account_audit_records_append_only()""",
]


def _create_append_only_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_TRIGGERS if sqlite else _POSTGRES_TRIGGERS:
        op.execute(statement)


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS account_audit_records_no_update")
        op.execute("DROP TRIGGER IF EXISTS account_audit_records_no_delete")
    else:
        op.execute(
            "DROP TRIGGER IF EXISTS account_audit_records_append_only ON account_audit_records"
        )
        op.execute("DROP FUNCTION IF EXISTS account_audit_records_append_only()")


def upgrade() -> None:
    op.create_table(
        "account_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_audit_records",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=256), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("error_reason", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("recorder", sa.String(length=80), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("previous_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("write_request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("sequence"),
        sa.UniqueConstraint("write_request_id"),
    )
    op.create_index("ix_account_audit_records_action", "account_audit_records", ["action"])
    op.create_index("ix_account_audit_records_actor", "account_audit_records", ["actor"])
    op.create_index("ix_account_audit_records_event_time", "account_audit_records", ["event_time"])
    op.create_table(
        "account_captchas",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("answer_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("expire_time", sa.DateTime(), nullable=False),
        sa.Column("used_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_captchas_expire_time", "account_captchas", ["expire_time"])
    op.create_table(
        "account_login_attempts",
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username_key"),
    )
    op.create_table(
        "account_permission_catalog",
        sa.Column("permission", sa.String(length=128), nullable=False),
        sa.Column("first_seen_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("permission"),
    )
    op.create_table(
        "account_revocations",
        sa.Column("generation", AUTO_BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("generation"),
    )
    op.create_index("ix_account_revocations_create_time", "account_revocations", ["create_time"])
    op.create_table(
        "account_roles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_system_parameters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("updater", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("state_reason", sa.String(length=200), nullable=False),
        sa.Column("coverage", sa.Integer(), nullable=False),
        sa.Column("supply_offices", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("password_changed_time", sa.DateTime(), nullable=False),
        sa.Column("password_change_required", sa.Boolean(), nullable=False),
        sa.Column("password_expire_time", sa.DateTime(), nullable=True),
        sa.Column("last_login_time", sa.DateTime(), nullable=True),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("create_request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("create_request_id"),
        sa.UniqueConstraint("username_key"),
    )
    op.create_table(
        "account_binding_failures",
        sa.Column("id", AUTO_BIGINT, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_account_binding_failures_user_time",
        "account_binding_failures",
        ["user_id", "create_time"],
    )
    op.create_table(
        "account_customer_bindings",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "customer"),
    )
    op.create_index(
        "ix_account_customer_bindings_customer", "account_customer_bindings", ["customer"]
    )
    op.create_table(
        "account_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("notification", sa.String(length=80), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("read_time", sa.DateTime(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_account_messages_user_time", "account_messages", ["user_id", "create_time"])
    op.create_table(
        "account_password_history",
        sa.Column("id", AUTO_BIGINT, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_password_history_user_id", "account_password_history", ["user_id"])
    op.create_table(
        "account_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("expire_time", sa.DateTime(), nullable=False),
        sa.Column("idle_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("last_activity_time", sa.DateTime(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=256), nullable=False),
        sa.Column("client_public_key", sa.LargeBinary(length=512), nullable=False),
        sa.Column("push_token", sa.String(length=4096), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_account_sessions_user_state", "account_sessions", ["user_id", "state"])
    op.create_table(
        "account_subscriptions",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("outage", sa.Boolean(), nullable=False),
        sa.Column("bill", sa.Boolean(), nullable=False),
        sa.Column("application_progress", sa.Boolean(), nullable=False),
        sa.Column("notice", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "account_user_roles",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["account_roles.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id"),
    )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("account_user_roles")
    op.drop_table("account_subscriptions")
    op.drop_index("ix_account_sessions_user_state", table_name="account_sessions")
    op.drop_table("account_sessions")
    op.drop_index("ix_account_password_history_user_id", table_name="account_password_history")
    op.drop_table("account_password_history")
    op.drop_index("ix_account_messages_user_time", table_name="account_messages")
    op.drop_table("account_messages")
    op.drop_index("ix_account_customer_bindings_customer", table_name="account_customer_bindings")
    op.drop_table("account_customer_bindings")
    op.drop_index("ix_account_binding_failures_user_time", table_name="account_binding_failures")
    op.drop_table("account_binding_failures")
    op.drop_table("account_users")
    op.drop_table("account_system_parameters")
    op.drop_table("account_roles")
    op.drop_index("ix_account_revocations_create_time", table_name="account_revocations")
    op.drop_table("account_revocations")
    op.drop_table("account_permission_catalog")
    op.drop_table("account_login_attempts")
    op.drop_index("ix_account_captchas_expire_time", table_name="account_captchas")
    op.drop_table("account_captchas")
    op.drop_index("ix_account_audit_records_event_time", table_name="account_audit_records")
    op.drop_index("ix_account_audit_records_actor", table_name="account_audit_records")
    op.drop_index("ix_account_audit_records_action", table_name="account_audit_records")
    op.drop_table("account_audit_records")
    op.drop_table("account_audit_head")
