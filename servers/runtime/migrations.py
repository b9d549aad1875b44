"""Alembic migrations per service, run programmatically (no alembic.ini).

Each service keeps `servers/<service>/migrations/` with `env.py`, `script.py.mako` and
`versions/`. Its env.py is two lines:

    from servers.billing.models import metadata
    from servers.runtime.migrations import run_migrations
    run_migrations(metadata)

`migrate(service, url)` upgrades a database to head; `require_current(service, url)`
refuses a database that is not at head (the production profile migrates only through
`python -m servers.migrate`, never at start). Each service records its revision
in its own table, `alembic_version_<service>`, so services may share one database. On
PostgreSQL an advisory lock lets replicas start together; on SQLite foreign keys are off
while migrating (batch table rebuilds would otherwise cascade) and checked afterwards.

    python -m servers.runtime.migrations init billing
    python -m servers.runtime.migrations revision billing -m "create bills" [--autogenerate]
    python -m servers.runtime.migrations upgrade billing
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from servers.runtime.db import create_engine, is_sqlite

SERVERS_DIR = Path(__file__).resolve().parent.parent
_SERVICE = "palmgrid_service"
_CONNECTION = "connection"

ENV_PY = '''"""Alembic environment of the {service} service (run by servers.runtime.migrations)."""

from servers.runtime.migrations import run_migrations

# Replace None with the service's MetaData to let `revision --autogenerate` compare it.
run_migrations(None)
'''

SCRIPT_MAKO = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


def default_migrations_dir(service: str) -> Path:
    return SERVERS_DIR / service / "migrations"


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, url: str, migrations_dir: Path | None = None) -> Config:
    """An Alembic Config for the service's migrations against `url`."""
    config = Config()
    config.set_main_option(
        "script_location", str(migrations_dir or default_migrations_dir(service))
    )
    # ConfigParser interpolation would treat "%" in a URL (escaped passwords) specially.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes[_SERVICE] = service
    return config


def migrate(
    service: str, url: str, migrations_dir: Path | None = None, *, revision: str = "heads"
) -> None:
    """Upgrade the service's database at `url` to `revision` (default: every branch head,
    so independent parts of one service may keep their own migration branches)."""
    config = alembic_config(service, url, migrations_dir)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = is_sqlite(url)
            if sqlite:
                # Must happen outside a transaction to take effect.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with connection.begin():
                if not sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(service)}
                    )
                config.attributes[_CONNECTION] = connection
                command.upgrade(config, revision)
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise RuntimeError(f"migration broke foreign keys: {problems[:5]}")
            if sqlite:
                connection.invalidate()  # its foreign_keys pragma is off: never reuse it
    finally:
        engine.dispose()


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the one this code needs (never migrated, or behind)."""


def require_current(
    service: str, url: str, migrations_dir: Path | None = None, *, process: str | None = None
) -> None:
    """Raise SchemaNotCurrent unless the service's database at `url` is at every head of
    its migrations; the message says which revision it is at and what to run
    (`python -m servers.migrate <process>`, default: the service)."""
    config = alembic_config(service, url, migrations_dir)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": version_table(service)}
            )
            current = set(context.get_current_heads())
    finally:
        engine.dispose()
    if current == heads:
        return
    command_name = f"python -m servers.migrate {process or service}"
    if not current:
        raise SchemaNotCurrent(
            f"the {service} database is not migrated (no {version_table(service)}): "
            f"run `{command_name}` first"
        )
    raise SchemaNotCurrent(
        f"the {service} database is at revision {', '.join(sorted(current))}, this code "
        f"needs {', '.join(sorted(heads))}: run `{command_name}` first"
    )


def _lock_key(service: str) -> int:
    return zlib.crc32(f"palmgrid-migrate-{service}".encode())


def run_migrations(target_metadata: MetaData | None) -> None:
    """The body of every service's env.py."""
    from alembic import context

    config = context.config
    service = config.attributes.get(_SERVICE) or config.get_main_option(_SERVICE) or "service"
    table = version_table(service)
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            version_table=table,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection: Connection | None = config.attributes.get(_CONNECTION)
    if connection is not None:
        _run_online(connection, target_metadata, table)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as fresh:
            _run_online(fresh, target_metadata, table)
    finally:
        engine.dispose()


def _run_online(connection: Connection, target_metadata: MetaData | None, table: str) -> None:
    from alembic import context

    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=table,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=sqlite,
        # Our SQLite engines emit BEGIN themselves, so DDL is transactional there too.
        transactional_ddl=True if sqlite else None,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# --- command line ---------------------------------------------------------------------


def init(service: str, directory: Path | None = None) -> Path:
    """Create the service's migrations folder (env.py, script.py.mako, versions/)."""
    target = directory or default_migrations_dir(service)
    (target / "versions").mkdir(parents=True, exist_ok=True)
    env = target / "env.py"
    if not env.exists():
        env.write_text(ENV_PY.format(service=service))
    (target / "script.py.mako").write_text(SCRIPT_MAKO)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    from servers.runtime.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m servers.runtime.migrations")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init").add_argument("service")
    revision = sub.add_parser("revision")
    revision.add_argument("service")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--autogenerate", action="store_true")
    sub.add_parser("upgrade").add_argument("service")
    args = parser.parse_args(argv)
    if args.command == "init":
        print(f"created {init(args.service)}")
        return 0
    url = load_settings().database_url_for(args.service)
    if args.command == "upgrade":
        migrate(args.service, url)
        return 0
    command.revision(
        alembic_config(args.service, url),
        message=args.message,
        autogenerate=args.autogenerate,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
