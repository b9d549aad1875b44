"""The audit outbox: audit records the account service's log could not take when their
call ended, kept in the service's own database and forwarded until the log has them.

An audited call is refused before it runs when the log cannot be reached
(`servers.runtime.auditing`), so the outbox only holds the records of calls that
passed that check and lost the log meanwhile (and the refusals' own records). Each
entry keeps its CreateAuditRecord request id, so a forward retried after an unclear
failure is recorded once; entries go in the order they were kept, and forwarding stops
at the first failure to keep that order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from servers.runtime.audit import AuditEntry, AuditSink
from servers.runtime.clock import SYSTEM_CLOCK, Clock
from servers.runtime.runtime_tables import audit_outbox_table

log = logging.getLogger("palmgrid.audit")

_MAX_BACKOFF = timedelta(minutes=5)
_BATCH = 100


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
    ) -> None:
        self._engine = engine
        self._table = audit_outbox_table(service)
        self._sink = sink
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()  # one forwarder at a time keeps the order
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def keep(self, entries: Sequence[AuditEntry]) -> None:
        """Store `entries` durably (one transaction); raises when the database cannot."""
        now = self._clock.now()
        rows = [
            {
                "entry": entry.to_json(),
                "attempts": 0,
                "last_error": "",
                "create_time": now,
                "next_attempt_time": now,
            }
            for entry in entries
        ]
        with self._engine.begin() as connection:
            connection.execute(sa.insert(self._table), rows)

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
                with self._engine.connect() as connection:
                    rows = connection.execute(
                        sa.select(self._table).order_by(self._table.c.id).limit(_BATCH)
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
                    with self._engine.begin() as connection:
                        connection.execute(sa.delete(self._table).where(self._table.c.id == row.id))
                    delivered += 1

    def _failed(self, row: sa.Row[object], error: Exception) -> None:
        attempts = int(row.attempts) + 1  # type: ignore[attr-defined]
        backoff = min(timedelta(seconds=2 ** min(attempts, 9)), _MAX_BACKOFF)
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(self._table)
                .where(self._table.c.id == row.id)  # type: ignore[attr-defined]
                .values(
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
