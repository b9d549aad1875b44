"""Database engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite: WAL journal (readers do not block the writer), foreign keys on, a busy timeout,
and real transactions: SQLAlchemy emits BEGIN itself (sqlite3's legacy mode would skip it
for SELECT and DDL). `session_scope(engine, write=True)` begins with BEGIN IMMEDIATE, so
a read-then-write transaction takes the write lock up front instead of failing with
"database is locked" when another writer got there in between. The writers of one
process first queue on a lock of their own (see `_WriteGate`).

PostgreSQL: psycopg 3 (`postgresql://` URLs are read as `postgresql+psycopg://`), a
connection pool with pre-ping. `write=True` changes nothing there: use row locks
(`SELECT … FOR UPDATE`) where the logic needs them.
"""

from __future__ import annotations

import collections
import math
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

from servers.runtime.tracing import trace_engine

_BEGIN_OPTION = "palmgrid_sqlite_begin"
_BUSY_OPTION = "palmgrid_sqlite_busy_timeout"
_GATE_OPTION = "palmgrid_sqlite_write_gate"


class _WriteGate:
    """The write transactions of one process on one SQLite database, one at a time and
    in the order they came.

    SQLite's busy handler makes a writer that finds the lock taken sleep and look again,
    the sleeps growing to 100 ms, and whoever looks first when the lock is free takes it:
    with a score of writers queued, one can keep missing its turn past the busy timeout
    and fail ("database is locked") while the queue ahead of it was much shorter. Here
    the turn passes to the writer that has waited longest as soon as the last one ends.
    Writers of other processes are still met by the busy timeout. A thread's nested
    write session passes (and waits at BEGIN, as it did before).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: collections.deque[tuple[int, threading.Lock]] = collections.deque()

    def enter(self, timeout: float) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._waiting:
                self._owner, self._depth = me, 1
                return
            turn = threading.Lock()
            turn.acquire()
            waiter = (me, turn)
            self._waiting.append(waiter)
        try:
            handed = turn.acquire(timeout=timeout)
        except BaseException:  # interrupted: keep neither the place nor a turn given
            if not self._left_queue(waiter):
                self.leave()
            raise
        if not handed and self._left_queue(waiter):
            locked = sqlite3.OperationalError("database is locked")
            raise sqlalchemy.exc.OperationalError("waiting for a turn to write", None, locked)
        # Else the turn came, at the latest as the wait ran out.

    def _left_queue(self, waiter: tuple[int, threading.Lock]) -> bool:
        """Take `waiter` out of the queue; False when the turn was given to it first."""
        with self._mutex:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                return True
            return False

    def leave(self) -> None:
        # Any thread may end the turn: a session block that is never finished is closed
        # by whichever thread collects it.
        with self._mutex:
            if self._depth <= 0:
                raise RuntimeError("the write gate was left more often than entered")
            self._depth -= 1
            if self._depth:
                return
            if not self._waiting:
                self._owner = None
                return
            self._owner, turn = self._waiting.popleft()
            self._depth = 1
            turn.release()


# By database URL: every engine of the process on one file shares its gate, which the
# engines hold (in their execution options) and which goes with the last of them.
_WRITE_GATES: weakref.WeakValueDictionary[URL, _WriteGate] = weakref.WeakValueDictionary()
_GATES_LOCK = threading.Lock()


def _gate_for(url: URL) -> _WriteGate:
    with _GATES_LOCK:
        gate = _WRITE_GATES.get(url)
        if gate is None:
            gate = _WRITE_GATES[url] = _WriteGate()
        return gate


def normalize_url(url: str | URL) -> URL:
    """Our URL forms: `postgresql://` means psycopg 3; SQLite URLs are kept as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached, dropped the connection or
    was too busy to answer — a fault the caller may retry once it passes — rather than
    a bug in the query or the data."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection to be had
        return True
    if not isinstance(exc, sqlalchemy.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    original = exc.orig
    if isinstance(original, psycopg.errors.QueryCanceled):
        return False  # our own statement timeout: see statement_timed_out
    if isinstance(original, psycopg.OperationalError):
        # Connection refused or lost, the server shutting down or starting up.
        return True
    if isinstance(original, sqlite3.OperationalError):
        # SQLite's OperationalError also covers "no such table", which is a bug.
        return "locked" in str(original) or "busy" in str(original)
    return False


def statement_timed_out(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL cancelling a statement at the limit that
    `limit_to_deadline` set: the caller's deadline passed while the database worked."""
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and isinstance(
        exc.orig, psycopg.errors.QueryCanceled
    )


def limit_to_deadline(session: Session, seconds: float | None) -> None:
    """On PostgreSQL, cancel the transaction's statements once `seconds` have passed, so
    a call whose caller has given up does not hold a thread and a connection waiting on a
    lock or a slow plan (SQLite's busy timeout already bounds its lock waits)."""
    if seconds is None or session.get_bind().dialect.name != "postgresql":
        return
    milliseconds = max(1, math.ceil(seconds * 1000))
    session.execute(
        sqlalchemy.text("SELECT set_config('statement_timeout', :ms, true)"),
        {"ms": str(milliseconds)},
    )


def create_engine(
    url: str | URL,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    sqlite_busy_timeout_ms: int = 5000,
    echo: bool = False,
) -> Engine:
    """An engine for `url` configured as described in the module docstring."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return trace_engine(_sqlite_engine(parsed, sqlite_busy_timeout_ms, echo))
    engine = sqlalchemy.create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        # Connections older than this are replaced, so a restarted server or a
        # proxy's idle timeout does not surface as an error mid-request.
        pool_recycle=1800,
        echo=echo,
    )
    return trace_engine(engine)


def _sqlite_engine(url: URL, busy_timeout_ms: int, echo: bool) -> Engine:
    database = url.database
    in_memory = not database or database == ":memory:" or url.query.get("mode") == "memory"
    if not in_memory and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        echo=echo,
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take transaction control away from sqlite3; "begin" below emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL is durable against application crashes and much faster.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    if not in_memory:
        engine.update_execution_options(
            **{_BUSY_OPTION: busy_timeout_ms / 1000, _GATE_OPTION: _gate_for(engine.url)}
        )
    return engine


# --- whether a session's transaction wrote anything ------------------------------------

_WROTE = "palmgrid_wrote"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, sqlalchemy.TextClause):
        changes = not statement.text.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA"))
    else:
        changes = state.is_insert or state.is_update or state.is_delete
    if changes:
        state.session.info[_WROTE] = True


def wrote(session: Session) -> bool:
    """Whether `session`'s transaction has changed anything so far (pending ORM changes
    are flushed first): ORM flushes and executed INSERT / UPDATE / DELETE (upserts
    included) and textual statements other than reads count."""
    session.flush()
    return bool(session.info.get(_WROTE))


@contextmanager
def session_scope(
    engine: Engine, *, write: bool = False, wait: float | None = None
) -> Iterator[Session]:
    """A SQLModel session in one transaction: committed when the block succeeds, rolled
    back when it raises. `write=True` takes SQLite's write lock at BEGIN (see above),
    after waiting for the process's turn at most the busy timeout, or `wait` seconds
    when that is shorter (what is left of the call's deadline)."""
    if not write:
        with _session(engine, write=False) as session:
            yield session
        return
    with _write_turn(engine, wait), _session(engine, write=True) as session:
        yield session


@contextmanager
def write_transaction(engine: Engine, *, wait: float | None = None) -> Iterator[Connection]:
    """A connection in one write transaction, for SQLAlchemy Core statements: begun
    and ended as a write `session_scope` is (the process's turn, BEGIN IMMEDIATE)."""
    immediate = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    with _write_turn(engine, wait), immediate.begin() as connection:
        yield connection


@contextmanager
def _write_turn(engine: Engine, wait: float | None) -> Iterator[None]:
    """The process's turn to write to the engine's SQLite file (nothing to wait for on
    other databases); raises as a busy SQLite does when it does not come in time."""
    # Engines of ours on a SQLite file carry their gate and busy timeout; others pass.
    options = engine.get_execution_options()
    gate, timeout = options.get(_GATE_OPTION), options.get(_BUSY_OPTION)
    if gate is None or timeout is None:
        yield
        return
    gate.enter(timeout if wait is None else max(0.0, min(timeout, wait)))
    try:
        yield
    finally:
        gate.leave()


@contextmanager
def _session(engine: Engine, *, write: bool) -> Iterator[Session]:
    bind = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
