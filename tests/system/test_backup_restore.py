"""Backup and restore of a PalmGrid PostgreSQL database as docs/operations.md describes
it: `pg_dump --format=custom`, the database dropped, created again and `pg_restore`d;
every table's rows and every sequence come back identical. The database holds billing's
and care's demo data, written by the services themselves."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from servers.billing.config import BillingConfig
from servers.billing.service import make_spec as billing_spec
from servers.care.service import make_spec as care_spec
from servers.runtime.service import ServiceSpec, build_server
from servers.runtime.settings import Settings
from tests.conftest import POSTGRES_SERVER

pytestmark = pytest.mark.postgres

# One row of `fingerprint` per table: its row count and the md5 of its rows in order.
TABLES = """
SELECT table_schema, table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
"""
SEQUENCES = """
SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2
"""


def _admin(statement: str) -> None:
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, str]]:
    """(name, URL) of a database of its own, dropped at the end."""
    name = f"palmgrid_backup_{os.getpid()}_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield name, f"{POSTGRES_SERVER}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(spec: ServiceSpec, url: str, data_dir: Path) -> None:
    """Start the service's real wiring once on `url` (dev profile: migrated and seeded)."""
    settings = Settings(
        profile="dev", data_dir=data_dir, database_url=url, grpc_security="plaintext"
    )
    server, _, runtime = build_server(spec, settings, address="127.0.0.1:0")
    server.stop(0)
    runtime.close()


def fingerprint(url: str) -> dict[str, tuple[int, str | None]]:
    """Every table's (row count, checksum of its rows) and every sequence's last value."""
    found: dict[str, tuple[int, str | None]] = {}
    with psycopg.connect(url) as conn:
        for schema, table in conn.execute(TABLES).fetchall():
            query = (
                f"SELECT count(*), md5(string_agg(t::text, chr(10) ORDER BY t::text)) "
                f'FROM "{schema}"."{table}" AS t'
            )
            count, checksum = conn.execute(query).fetchone()  # type: ignore[arg-type,misc]
            found[f"{schema}.{table}"] = (count, checksum)
        for schema, sequence, last_value in conn.execute(SEQUENCES).fetchall():
            found[f"sequence {schema}.{sequence}"] = (last_value or 0, None)
    return found


def test_dump_drop_restore_gives_identical_data(database: tuple[str, str], tmp_path: Path) -> None:
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    assert pg_dump and pg_restore, "install postgresql-client (nox -s system does)"
    name, url = database
    _seed(billing_spec(BillingConfig(demo_customers=200)), url, tmp_path / "data")
    _seed(care_spec(), url, tmp_path / "data")
    before = fingerprint(url)
    assert before["public.billing_customer"][0] == 200
    assert before["public.care_outlets"][0] > 0
    assert before["public.alembic_version_care"][0] == 1
    assert before["sequence public.billing_ledger_entry_id_seq"][0] > 0

    dump = tmp_path / "palmgrid.dump"
    subprocess.run([pg_dump, "--format=custom", f"--file={dump}", url], check=True)
    _admin(f'DROP DATABASE "{name}" WITH (FORCE)')
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(url).close()
    _admin(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [pg_restore, "--exit-on-error", "--no-owner", f"--dbname={url}", str(dump)], check=True
    )

    assert fingerprint(url) == before
