"""Starting the worker process: settings, the single-worker lock on SQLite, the job
database, the Runtime its jobs call the services through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from servers.runtime import Runtime, Settings, create_engine
from servers.runtime.db import is_sqlite
from servers.runtime.files import LockHeld, directory_lock
from servers.runtime.schema import prepare_database
from servers.runtime.service import prepare_dev_material
from servers.worker.config import WorkerConfig

NAME = "worker"
MIGRATIONS = Path(__file__).parent / "migrations"


class AnotherWorkerRunning(RuntimeError):
    """A worker already runs on this SQLite database."""


@contextmanager
def single_worker(url: str) -> Iterator[None]:
    """On SQLite, hold the lock file beside the database for the process's life, or
    raise AnotherWorkerRunning; on PostgreSQL, nothing (workers share through leases)."""
    if not is_sqlite(url):
        yield
        return
    database = Path(make_url(url).database or "worker.db").resolve()
    try:
        with directory_lock(database.parent, name=f"{database.name}.worker-lock", wait=False):
            yield
    except LockHeld:
        raise AnotherWorkerRunning(
            f"another worker is running on {database}: on SQLite only one worker may run "
            "(give the workers a PostgreSQL database, PALMGRID_WORKER_DATABASE_URL, to run several)"
        ) from None


def open_runtime(settings: Settings, config: WorkerConfig) -> Runtime:
    """Migrate the worker's database (dev; production checks it is current) and return
    its Runtime (close it when done)."""
    prepare_dev_material(settings)
    url = prepare_database(settings, NAME, MIGRATIONS, runtime_tables=False)
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    return Runtime(NAME, settings, engine, own_settings=config)
