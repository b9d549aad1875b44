"""PostgreSQL schemas for tests: each a database of its own, as far as a service can
tell (its URL's search_path names the schema)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def postgres_schema(database: str, schema: str) -> Iterator[str]:
    """Create `schema` in `database` (a URL) and yield a URL whose search_path is it;
    drop it, with everything in it, at the end."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{database}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
