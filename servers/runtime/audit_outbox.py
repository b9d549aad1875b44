"""The audit outbox: audit records kept in the service's own database and forwarded
until the account service's log has them.

Two kinds of row:

- **ready**: a record the log could not take when its call ended (the log went away
  after the call was admitted), or a refusal's record; forwarded at once.
- **pending**: written by `hold` inside an audited call's first transaction that
  changes anything (`servers.runtime.auditing.enlist`), so the record of a change
  commits with the change. When the call ends, `settle` deletes it (the log took the
  call's record) or replaces it with that record. Only a call that never ended — its
  process died between the commit and the log write — leaves it; after
  `pending_grace` it is forwarded as it stands (outcome unknown, the change committed).

Each entry keeps its CreateAuditRecord request id (a pending row the same as its call's
final record), so a forward retried after an unclear failure, or of a pending row whose
final record did reach the log, is recorded once; entries go in the order they were
kept, and forwarding stops at the first failure to keep that order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servers.runtime.audit import AuditEntry, AuditSink
from servers.runtime.clock import SYSTEM_CLOCK, Clock
from servers.runtime.db import write_transaction
from servers.runtime.runtime_tables import audit_outbox_table

log = logging.getLogger("palmgrid.audit")

_MAX_BACKOFF = timedelta(minutes=5)
_BATCH = 100
READY = "ready"
PENDING = "pending"
# How long a pending record waits for its call to end: far beyond any call's deadline.
PENDING_GRACE = timedelta(minutes=10)


class AuditOutbox:
    """Entries waiting for the audit log in `service`'s database at `engine`."""

    def __init__(
        self,
        engine: Engine,
        service: str,
        sink: AuditSink,
        *,
        clock: Clock = SYSTEM_CLOCK,
        interval: float = 2.0,
        pending_grace: timedelta = PENDING_GRACE,
    ) -> None:
        self._engine = engine
        self._pending_grace = pending_grace
        self._table = audit_outbox_table(service)
        self._sink = sink
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()  # one forwarder at a time keeps the order
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _row(self, entry: AuditEntry, state: str) -> dict[str, object]:
        now = self._clock.now()
        due = now + self._pending_grace if state == PENDING else now
        return {
            "entry": entry.to_json(),
            "attempts": 0,
            "last_error": "",
            "create_time": now,
            "next_attempt_time": due,
            "state": state,
        }

    def keep(self, entries: Sequence[AuditEntry]) -> None:
        """Store `entries` durably (one transaction); raises when the database cannot."""
        with write_transaction(self._engine) as connection:
            connection.execute(sa.insert(self._table), [self._row(e, READY) for e in entries])

    def hold(self, session: Session, entry: AuditEntry) -> int:
        """Write `entry` as pending in `session`'s transaction (it commits with the
        call's changes or not at all); its row id, for `settle`."""
        result = session.execute(sa.insert(self._table).values(**self._row(entry, PENDING)))
        return int(result.inserted_primary_key[0])  # type: ignore[attr-defined]

    def settle(self, pending_id: int, entries: Sequence[AuditEntry]) -> None:
        """The call of pending row `pending_id` ended: replace the row by `entries` (the
        records the log did not take; none when it took them), in one transaction."""
        with write_transaction(self._engine) as connection:
            connection.execute(sa.delete(self._table).where(self._table.c.id == pending_id))
            if entries:
                connection.execute(sa.insert(self._table), [self._row(e, READY) for e in entries])

    def pending(self) -> int:
        """How many entries are waiting."""
        with self._engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(self._table)).scalar()
                or 0
            )

    def forward(self) -> int:
        """Hand the waiting entries to the log, oldest first, until one fails; returns
        how many were delivered."""
        delivered = 0
        with self._lock:
            while True:
                # Pending rows of calls still running wait (their call settles them).
                due = sa.or_(
                    self._table.c.state == READY,
                    self._table.c.next_attempt_time <= self._clock.now(),
                )
                with self._engine.connect() as connection:
                    rows = connection.execute(
                        sa.select(self._table).where(due).order_by(self._table.c.id).limit(_BATCH)
                    ).all()
                if not rows:
                    return delivered
                if delivered == 0 and rows[0].next_attempt_time > self._clock.now():
                    return delivered  # backing off after a failure
                for row in rows:
                    try:
                        self._sink.write([AuditEntry.from_json(row.entry)])
                    except Exception as exc:
                        self._failed(row, exc)
                        return delivered
                    with write_transaction(self._engine) as connection:
                        connection.execute(sa.delete(self._table).where(self._table.c.id == row.id))
                    delivered += 1

    def _failed(self, row: sa.Row[object], error: Exception) -> None:
        attempts = int(row.attempts) + 1  # type: ignore[attr-defined]
        backoff = min(timedelta(seconds=2 ** min(attempts, 9)), _MAX_BACKOFF)
        with write_transaction(self._engine) as connection:
            connection.execute(
                sa.update(self._table)
                .where(self._table.c.id == row.id)  # type: ignore[attr-defined]
                .values(
                    # A pending row tried once is an ordinary waiting record from now on.
                    state=READY,
                    attempts=attempts,
                    last_error=str(error)[:500],
                    next_attempt_time=self._clock.now() + backoff,
                )
            )
        log.warning("audit records still waiting for the log", extra={"attempts": attempts})

    # --- the background forwarder ------------------------------------------------------

    def start(self) -> None:
        """Forward every `interval` seconds in a daemon thread until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.forward()
            except Exception:  # the forwarder must outlive a database hiccup
                log.exception("audit outbox not forwarded")
