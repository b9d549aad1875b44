"""A process's database made ready at start: in dev its migrations run; in production
the database must be PostgreSQL and already migrated (`python -m servers.migrate`), or
the process refuses to start."""

from __future__ import annotations

from pathlib import Path

from servers.runtime.migrations import migrate, require_current
from servers.runtime.runtime_tables import MIGRATIONS as RUNTIME_MIGRATIONS
from servers.runtime.runtime_tables import SUFFIX as RUNTIME_SUFFIX
from servers.runtime.runtime_tables import migrate_runtime_tables
from servers.runtime.settings import Settings


def migrate_process(
    process: str, url: str, migrations: Path | None, *, runtime_tables: bool
) -> None:
    """Upgrade `process`'s own schema and, for a service, the runtime's tables."""
    if migrations is not None:
        migrate(process, url, migrations)
    if runtime_tables:
        migrate_runtime_tables(process, url)


def prepare_database(
    settings: Settings,
    process: str,
    migrations: Path | None,
    *,
    runtime_tables: bool = True,
    demo_data: bool | None = None,
) -> str:
    """`process`'s database URL, its schema at head. Production: SettingsError for a
    refused configuration, SchemaNotCurrent for a schema the migrate command must fix."""
    settings.require_fit_for(process, demo_data=demo_data)
    url = settings.database_url_for(process)
    if settings.profile != "production":
        migrate_process(process, url, migrations, runtime_tables=runtime_tables)
        return url
    if migrations is not None:
        require_current(process, url, migrations, process=process)
    if runtime_tables:
        require_current(process + RUNTIME_SUFFIX, url, RUNTIME_MIGRATIONS, process=process)
    return url
