"""The notice dispatcher: delivers the outbox (`outage_notices`) in the background, so
announcing never waits for delivery.

It wakes when this process commits a change, and every `interval` seconds for notices
other replicas queued or that failed before. It claims pending notices in a short
transaction (row locks, `SKIP LOCKED` on PostgreSQL, so replicas share the work) by
leasing them: their next attempt moves `LEASE` ahead, so no one else takes them while
they are delivered and a crash leaves them to be taken again later. It hands each to
`notices.notify_affected` outside any transaction (no write lock is held while billing
and the notification service answer, so announcing never waits on SQLite), then marks
it delivered, or schedules another attempt with a growing delay when an upstream could
not be reached, in a second short transaction. Delivering again is safe: the messages'
request ids come from the notice.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlmodel import col, select

from servers.outage.loop import Loop
from servers.outage.models import NoticeRow
from servers.outage.notices import Notice, notify_affected
from servers.runtime import Clock, DomainError, Runtime

log = logging.getLogger("palmgrid.outage.delivery")

BATCH = 20
# How long a claimed notice is left to its claimer before another pass may take it.
LEASE = timedelta(minutes=5)
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
        claimed = self._claim(self._clock.now())
        outcomes: dict[int, int | DomainError] = {}
        for notice in claimed:
            try:
                outcomes[notice.id] = notify_affected(self._runtime, notice, timeout=self._timeout)
            except DomainError as error:
                outcomes[notice.id] = error
        delivered = self._mark(outcomes)
        return delivered, len(claimed) == BATCH and delivered == len(claimed)

    def _claim(self, now: datetime) -> list[Notice]:
        """Lease up to BATCH due notices to this pass; the notices to deliver."""
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
            claimed = []
            for row in rows:
                assert row.id is not None
                claimed.append(
                    Notice(
                        row.id,
                        row.outage_id,
                        list(row.area_codes),
                        row.template,
                        dict(row.parameters),
                        row.urgent,
                    )
                )
                row.next_attempt_time = now + LEASE
                session.add(row)
        return claimed

    def _mark(self, outcomes: dict[int, int | DomainError]) -> int:
        """Record each notice's outcome (recipients planned, or the error); how many were
        delivered."""
        now = self._clock.now()
        delivered = 0
        with self._runtime.session(write=True) as session:
            for notice_id, outcome in outcomes.items():
                row = session.get(NoticeRow, notice_id, with_for_update=True)
                if row is None or row.deliver_time is not None:
                    continue
                if isinstance(outcome, DomainError):
                    row.attempts += 1
                    row.next_attempt_time = now + backoff(row.attempts)
                    row.last_error = str(outcome)[:500]
                    log.warning(
                        "notice not delivered",
                        extra={"notice": row.id, "attempts": row.attempts, "error": str(outcome)},
                    )
                else:
                    row.recipient_count = outcome
                    row.deliver_time = now
                    delivered += 1
                session.add(row)
        return delivered
