"""Persistence and migrations, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import inspect, text
from sqlmodel import select

from runtime.models import ProbeCustomer, ProbeMeter
from servers.runtime import create_engine, migrate, session_scope, write_transaction
from servers.runtime.db import _gate_for, _WriteGate, database_unavailable
from servers.runtime.migrations import init, version_table

MIGRATIONS = Path(__file__).parent / "migrations"


def test_migrate_to_head_then_persist(database_url: str) -> None:
    migrate("probe", database_url, MIGRATIONS)
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"probe_customer", "probe_meter", version_table("probe")} <= tables
        with session_scope(engine, write=True) as session:
            customer = ProbeCustomer(name="3100000001")
            session.add(customer)
            session.flush()
            assert customer.id is not None
            session.add(ProbeMeter(customer_id=customer.id, code="M-1", reading_wh=1200))
        with session_scope(engine) as session:
            meter = session.exec(select(ProbeMeter).where(ProbeMeter.code == "M-1")).one()
            assert meter.reading_wh == 1200
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    migrate("probe", database_url, MIGRATIONS, revision="0001")
    engine = create_engine(database_url)
    try:
        with session_scope(engine) as session:
            session.add(ProbeCustomer(name="kept"))
            session.flush()
            session.exec(  # type: ignore[call-overload]
                text("INSERT INTO probe_meter (customer_id, code) VALUES (:c, 'M-7')"),
                params={"c": 1},
            )
        # 0002 rebuilds probe_meter on SQLite (batch mode): its rows must survive.
        migrate("probe", database_url, MIGRATIONS)
        migrate("probe", database_url, MIGRATIONS)
        with engine.connect() as connection:
            version = connection.execute(
                text(f"SELECT version_num FROM {version_table('probe')}")
            ).scalar_one()
            meters = connection.execute(text("SELECT code, reading_wh FROM probe_meter")).all()
        assert version == "0002"
        assert [tuple(m) for m in meters] == [("M-7", 0)]
    finally:
        engine.dispose()


FAILING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "f1"
down_revision = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("SELECT * FROM no_such_table")
"""


def test_failed_migration_leaves_nothing_behind(database_url: str, tmp_path: Path) -> None:
    folder = init("failing", tmp_path / "migrations")
    (folder / "versions" / "f1_half_done.py").write_text(FAILING_REVISION)
    with pytest.raises(sqlalchemy.exc.DatabaseError):
        migrate("failing", database_url, folder)
    engine = create_engine(database_url)
    try:
        assert "half_done" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_failed_transaction_is_rolled_back(database_url: str) -> None:
    migrate("probe", database_url, MIGRATIONS)
    engine = create_engine(database_url)
    try:
        with pytest.raises(RuntimeError), session_scope(engine) as session:
            session.add(ProbeCustomer(name="ghost"))
            session.flush()
            raise RuntimeError("boom")
        with session_scope(engine) as session:
            assert session.exec(select(ProbeCustomer)).all() == []
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(database_url: str) -> None:
    migrate("probe", database_url, MIGRATIONS)
    engine = create_engine(database_url)
    try:
        with pytest.raises(sqlalchemy.exc.IntegrityError), session_scope(engine) as session:
            session.add(ProbeMeter(customer_id=999, code="orphan"))
    finally:
        engine.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'nested' / 'probe.db'}", sqlite_busy_timeout_ms=750
    )
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 750
    finally:
        engine.dispose()


def test_sqlite_write_sessions_wait_for_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    migrate("probe", url, MIGRATIONS)
    engine = create_engine(url)
    with session_scope(engine, write=True) as session:
        session.add(ProbeCustomer(name="counter"))

    failures: list[Exception] = []

    def bump() -> None:
        # Read then write: without BEGIN IMMEDIATE, concurrent upgrades of the read
        # lock would fail with "database is locked". 24 writers holding the lock ~10 ms
        # each all get their turns within the (production) busy timeout.
        for _ in range(5):
            try:
                with session_scope(engine, write=True) as session:
                    row = session.exec(select(ProbeCustomer)).one()
                    time.sleep(0.01)
                    row.name = str(int(row.name) + 1) if row.name.isdigit() else "1"
                    session.add(row)
            except Exception as exc:
                failures.append(exc)

    try:
        workers = [threading.Thread(target=bump) for _ in range(24)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []
        with session_scope(engine) as session:
            assert session.exec(select(ProbeCustomer)).one().name == "120"
    finally:
        engine.dispose()


def test_sqlite_writers_of_a_process_take_turns_in_the_order_they_came() -> None:
    gate = _WriteGate()
    gate.enter(1.0)  # the turn is held; the writers below queue one after another
    entered: list[int] = []

    def writer(n: int) -> None:
        gate.enter(10.0)
        entered.append(n)
        gate.leave()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for n, thread in enumerate(threads):
        thread.start()
        _wait_until_queued(gate, n + 1)  # queued before the next starts
    gate.leave()
    for thread in threads:
        thread.join(10)
    # SQLite's busy handler gives a freed lock to whichever writer looks first; a score
    # of them queued could leave one waiting past the busy timeout behind a short queue.
    assert entered == list(range(8))
    _take_turn(gate)  # free again at once


def test_a_thread_holding_the_turn_may_write_again_inside_it() -> None:
    gate = _WriteGate()
    gate.enter(1.0)
    gate.enter(1.0)
    gate.leave()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        _in_thread(lambda: gate.enter(0.05))  # still held: one nested turn was left
    gate.leave()
    _in_thread(lambda: _take_turn(gate))
    with pytest.raises(RuntimeError):
        gate.leave()  # left more often than entered: refused, not counted below zero


def test_a_wait_that_fails_keeps_no_place_in_the_queue() -> None:
    gate = _WriteGate()
    gate.enter(1.0)
    with pytest.raises(OverflowError):  # the lock's wait itself raises
        _in_thread(lambda: gate.enter(1e300))
    gate.leave()
    _in_thread(lambda: _take_turn(gate))  # the turn is free, not promised


def test_core_write_transactions_take_the_same_turns(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    migrate("probe", f"sqlite:///{path}", MIGRATIONS)
    engine = create_engine(f"sqlite:///{path}")
    turn_held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with session_scope(engine, write=True):
            turn_held.set()  # the turn is held; SQLite's lock not yet (nothing begun)
            release.wait(5)

    def write() -> None:
        with write_transaction(engine) as connection:
            connection.execute(sqlalchemy.insert(ProbeCustomer).values(name="core"))

    holder = threading.Thread(target=hold)
    try:
        holder.start()
        assert turn_held.wait(5)
        writer = threading.Thread(target=write)  # what it raises shows as a warning;
        writer.start()  # the row it did not write fails the test below
        _wait_until_queued(_gate_for(engine.url), 1)  # behind the held turn
        release.set()
        writer.join(5)
        assert not writer.is_alive()
        with write_transaction(engine):  # BEGIN IMMEDIATE: SQLite's lock held at once
            other = sqlite3.connect(path, timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        with session_scope(engine) as session:
            assert [c.name for c in session.exec(select(ProbeCustomer)).all()] == ["core"]
    finally:
        release.set()
        holder.join()
        engine.dispose()


def test_engines_on_one_file_share_a_gate_that_goes_with_the_last_of_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    first, second = create_engine(url), create_engine(url)
    gate = weakref.ref(_gate_for(first.url))
    assert _gate_for(second.url) is gate()
    first.dispose()
    second.dispose()
    del first, second
    gc.collect()
    assert gate() is None  # an import job's engine leaves nothing behind


def test_a_sqlite_writer_that_waits_past_the_busy_timeout_is_told_the_database_is_busy(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    migrate("probe", url, MIGRATIONS)
    engine = create_engine(url, sqlite_busy_timeout_ms=200)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with session_scope(engine, write=True) as session:
            session.add(ProbeCustomer(name="held"))
            session.flush()  # BEGIN: the write lock is held
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        with (
            pytest.raises(sqlalchemy.exc.OperationalError) as refused,
            session_scope(engine, write=True) as session,
        ):
            session.exec(select(ProbeCustomer)).all()
        assert 0.15 < time.monotonic() - started < 2
        assert database_unavailable(refused.value)  # UNAVAILABLE to the caller: retry
        # A call with less time left than the busy timeout waits only that long.
        patient = create_engine(url, sqlite_busy_timeout_ms=5000)
        started = time.monotonic()
        with (
            pytest.raises(sqlalchemy.exc.OperationalError),
            session_scope(patient, write=True, wait=0.1) as session,
        ):
            session.exec(select(ProbeCustomer)).all()
        assert time.monotonic() - started < 2
        patient.dispose()
    finally:
        release.set()
        holder.join()
    try:
        with session_scope(engine, write=True) as session:  # the turn is free again
            session.add(ProbeCustomer(name="after"))
            with session_scope(engine, write=True) as inner:  # a nested writer passes
                inner.exec(select(ProbeCustomer)).all()
        with session_scope(engine) as session:
            names = sorted(c.name for c in session.exec(select(ProbeCustomer)).all())
        assert names == ["after", "held"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_urls_use_psycopg3(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_init_creates_a_migrations_folder(tmp_path: Path) -> None:
    folder = init("billing", tmp_path / "migrations")
    assert (folder / "env.py").read_text().startswith('"""Alembic environment of the billing')
    assert (folder / "script.py.mako").exists()
    assert (folder / "versions").is_dir()


def _take_turn(gate: _WriteGate) -> None:
    gate.enter(0)
    gate.leave()


def _wait_until_queued(gate: _WriteGate, count: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while len(gate._waiting) < count:
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.001)


def _in_thread(action: Callable[[], object]) -> None:
    """Run `action` in another thread; re-raise what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if raised:
        raise raised[0]
