"""Alembic environment of the account service (run by servers.runtime.migrations).

SQLModel keeps every model of the process in one MetaData; the account service's
tables are the ones named `account_*`, copied into a MetaData of their own so that
`--autogenerate` compares only them.
"""

from sqlalchemy import MetaData

from servers.account.models import metadata
from servers.runtime.migrations import run_migrations

account_metadata = MetaData()
for name, table in metadata.tables.items():
    if name.startswith("account_"):
        table.to_metadata(account_metadata)

run_migrations(account_metadata)
