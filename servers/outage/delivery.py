"""The notice dispatcher: delivers the outbox (`outage_notices`) in the background, so
announcing never waits for delivery.

It wakes when this process commits a change, and every `interval` seconds for notices
other replicas queued or that failed before. It claims pending notices with row locks
(`SKIP LOCKED` on PostgreSQL, so replicas share the work), hands each to
`notices.notify_affected`, and marks it delivered, or schedules another attempt with a
growing delay when an upstream could not be reached.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlmodel import col, select

from servers.outage.loop import Loop
from servers.outage.models import NoticeRow
from servers.outage.notices import Notice, notify_affected
from servers.runtime import Clock, DomainError, Runtime

log = logging.getLogger("palmgrid.outage.delivery")

BATCH = 20
MAX_BACKOFF = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 5 s doubling, at most 10 min."""
    return min(timedelta(seconds=5 * 2 ** min(attempts - 1, 10)), MAX_BACKOFF)


class NoticeDispatcher:
    """Delivers pending notices; `deliver_due()` is one pass (tests call it directly)."""

    def __init__(self, runtime: Runtime, clock: Clock, *, interval: float, timeout: float) -> None:
        self._runtime = runtime
        self._clock = clock
        self._timeout = timeout
        self._pass = threading.Lock()
        self._loop = Loop("outage-notices", interval, self.deliver_due)

    def start(self) -> None:
        """Deliver in the background (again, after `stop`)."""
        self._loop.start()

    def stop(self) -> None:
        """Stop delivering in the background; `deliver_due` still works."""
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def deliver_due(self) -> int:
        """Deliver every notice due now; how many were delivered."""
        delivered = 0
        with self._pass:
            more = True
            while more:
                done, more = self._deliver_batch()
                delivered += done
        return delivered

    def _deliver_batch(self) -> tuple[int, bool]:
        now = self._clock.now()
        delivered = 0
        with self._runtime.session(write=True) as session:
            rows = session.exec(
                select(NoticeRow)
                .where(
                    col(NoticeRow.deliver_time).is_(None),
                    col(NoticeRow.next_attempt_time) <= now,
                )
                .order_by(col(NoticeRow.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                assert row.id is not None
                notice = Notice(row.id, row.outage_id, row.area_codes, row.title, row.body)
                try:
                    row.recipient_count = notify_affected(
                        self._runtime, notice, timeout=self._timeout
                    )
                    row.deliver_time = self._clock.now()
                    delivered += 1
                except DomainError as error:
                    row.attempts += 1
                    row.next_attempt_time = now + backoff(row.attempts)
                    row.last_error = str(error)[:500]
                    log.warning(
                        "notice not delivered",
                        extra={"notice": row.id, "attempts": row.attempts, "error": str(error)},
                    )
                session.add(row)
        return delivered, len(rows) == BATCH and delivered == len(rows)
