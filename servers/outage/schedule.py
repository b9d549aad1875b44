"""What the clock moves: a scheduled outage becomes ACTIVE at its start, a planned one is
RESTORED at its planned end, and subscribers are reminded of a planned outage
`reminder_lead` before it starts (once; again only if it is moved later).

`ClockJobs.run_due()` is one pass, idempotent: the ticker calls it every
`jobs_interval_seconds`, and a worker or a test may call it any time. A reminder is due
only for outages announced before their reminder time: one announced within a day of
its start was news already.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from servers.outage.changes import Announcer, queue_notice, record
from servers.outage.models import OutageKind, OutageRow, OutageState
from servers.outage.notice_texts import NoticeEvent
from servers.runtime import Clock, Runtime

log = logging.getLogger("palmgrid.outage.schedule")


@dataclass(frozen=True)
class JobsDone:
    """What one pass did."""

    started: int
    ended: int
    reminded: int


def _changed(row: OutageRow, now: datetime) -> None:
    row.version += 1
    row.update_time = now


class ClockJobs:
    """The clock's transitions and reminders."""

    def __init__(
        self, runtime: Runtime, clock: Clock, announcer: Announcer, *, reminder_lead: timedelta
    ) -> None:
        self._runtime = runtime
        self._clock = clock
        self._announcer = announcer
        self._lead = reminder_lead
        self._pass = threading.Lock()

    def run_due(self) -> JobsDone:
        """Move every outage the clock has moved, and queue the reminders now due."""
        now = self._clock.now()
        with self._pass, self._runtime.session(write=True) as session:
            done = JobsDone(
                started=self._start(session, now),
                ended=self._end(session, now),
                reminded=self._remind(session, now),
            )
        if done.started or done.ended or done.reminded:
            self._announcer.committed()
            log.info("outages moved by the clock", extra=done.__dict__)
        return done

    def _due(
        self, session: Session, state: OutageState, *conditions: ColumnElement[bool]
    ) -> list[OutageRow]:
        query = select(OutageRow).where(col(OutageRow.state) == state.value, *conditions)
        return list(session.exec(query.with_for_update(skip_locked=True)).all())

    def _start(self, session: Session, now: datetime) -> int:
        rows = self._due(session, OutageState.SCHEDULED, col(OutageRow.start_time) <= now)
        for row in rows:
            row.state = OutageState.ACTIVE.value
            _changed(row, now)
            record(session, row, "STARTED", now)
        return len(rows)

    def _end(self, session: Session, now: datetime) -> int:
        rows = self._due(
            session,
            OutageState.ACTIVE,
            col(OutageRow.kind) == OutageKind.PLANNED.value,
            col(OutageRow.end_time) <= now,
        )
        for row in rows:
            row.state = OutageState.RESTORED.value
            row.restore_time = row.end_time
            _changed(row, now)
            record(session, row, "RESTORED", now, notify=NoticeEvent.RESTORED)
        return len(rows)

    def _remind(self, session: Session, now: datetime) -> int:
        rows = self._due(
            session,
            OutageState.SCHEDULED,
            col(OutageRow.kind) == OutageKind.PLANNED.value,
            col(OutageRow.remind_time).is_(None),
            col(OutageRow.start_time) <= now + self._lead,
        )
        reminded = 0
        for row in rows:
            row.remind_time = now
            if row.create_time <= row.start_time - self._lead:
                queue_notice(session, row, NoticeEvent.REMINDER, now)
                reminded += 1
            session.add(row)
        return reminded
