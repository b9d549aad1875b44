"""The worker's job state in its database, and the claims that keep a job to one
worker at a time.

A worker claims due jobs in one transaction: `SELECT … FOR UPDATE SKIP LOCKED` on the
due rows whose lease is free (none, or lapsed), then writes itself in as the lease
owner until now + the lease. On PostgreSQL a row another worker is claiming at that
moment is skipped, and a row claimed a moment ago is no longer due-and-free when the
next worker looks, so no two workers hold one job. (On SQLite the clause is left out;
BEGIN IMMEDIATE serializes the claims, and a lock file keeps to one worker anyway.)

While the job runs its owner renews the lease; the end of the run records the outcome,
moves `next_run_time` on and frees the lease. A worker killed mid-run renews nothing:
once its lease lapses the next claim takes the job again, and the dead run's record
is closed as INTERRUPTED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from servers.runtime import Clock, session_scope
from servers.worker.models import FAILED, JobRow, JobRunRow
from servers.worker.schedule import Schedule

INTERRUPTED = "INTERRUPTED"
MESSAGE_LIMIT = 1000


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: its run record and when the run started."""

    job: str
    run_id: int
    start_time: datetime


class JobStore:
    """Job rows and run records, for one worker (`owner`, unique per process)."""

    def __init__(self, engine: Engine, clock: Clock, owner: str, lease: timedelta) -> None:
        self.engine = engine
        self.clock = clock
        self.owner = owner
        self.lease = lease

    def sync(self, schedules: Mapping[str, Schedule]) -> None:
        """Add a row for each job new to the database; a job whose schedule changed
        is rescheduled by its new one."""
        now = self.clock.now()
        with session_scope(self.engine, write=True) as session:
            rows = {row.name: row for row in session.exec(select(JobRow).with_for_update())}
            for name, schedule in schedules.items():
                row = rows.get(name)
                if row is None:
                    row = JobRow(
                        name=name, schedule=schedule.text, next_run_time=schedule.first_run(now)
                    )
                elif row.schedule != schedule.text:
                    row.schedule, row.next_run_time = schedule.text, schedule.first_run(now)
                else:
                    continue
                session.add(row)

    def claim_due(self, names: Iterable[str], *, force: bool = False) -> list[Claim]:
        """Claim the jobs among `names` that are due (any of them with `force`) and not
        held by a live lease."""
        now = self.clock.now()
        query = select(JobRow).where(
            col(JobRow.name).in_(list(names)),
            or_(col(JobRow.lease_expire_time).is_(None), col(JobRow.lease_expire_time) <= now),
        )
        if not force:
            query = query.where(col(JobRow.next_run_time) <= now)
        claims = []
        with session_scope(self.engine, write=True) as session:
            for row in session.exec(query.with_for_update(skip_locked=True)).all():
                if row.lease_owner:  # its last run never ended: that worker died
                    _close_runs(session, row.name, now, f"{row.lease_owner} stopped mid-run")
                row.lease_owner, row.lease_expire_time = self.owner, now + self.lease
                row.last_start_time = now
                run = JobRunRow(job=row.name, worker=self.owner, start_time=now)
                session.add(row)
                session.add(run)
                session.flush()
                assert run.id is not None
                claims.append(Claim(row.name, run.id, now))
        return claims

    def renew(self, job: str) -> bool:
        """Extend this worker's lease of `job`; False when another worker took it."""
        now = self.clock.now()
        with session_scope(self.engine, write=True) as session:
            result = session.execute(
                update(JobRow)
                .where(col(JobRow.name) == job, col(JobRow.lease_owner) == self.owner)
                .values(lease_expire_time=now + self.lease)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish(self, claim: Claim, schedule: Schedule, outcome: str, message: str) -> bool:
        """Record the end of a run and free the lease; False when the lease had been
        lost (the run is recorded, the job row is then the new owner's)."""
        now = self.clock.now()
        message = message[:MESSAGE_LIMIT]
        with session_scope(self.engine, write=True) as session:
            run = session.get(JobRunRow, claim.run_id)
            if run is not None:
                run.end_time, run.outcome, run.message = now, outcome, message
                session.add(run)
            row = session.exec(
                select(JobRow)
                .where(col(JobRow.name) == claim.job, col(JobRow.lease_owner) == self.owner)
                .with_for_update()
            ).first()
            if row is None:
                return False
            row.last_end_time = now
            row.last_duration_ms = int((now - claim.start_time).total_seconds() * 1000)
            row.last_outcome, row.last_message = outcome, message
            row.run_count += 1
            row.failure_count += outcome == FAILED
            row.next_run_time = schedule.next_after(now)
            row.lease_owner, row.lease_expire_time = "", None
            session.add(row)
        return True

    def release(self, claim: Claim) -> None:
        """Give up a run that did not end (shutdown): the job stays due, so another
        worker runs it at once."""
        now = self.clock.now()
        with session_scope(self.engine, write=True) as session:
            _close_runs(session, claim.job, now, f"{self.owner} shut down mid-run")
            session.execute(
                update(JobRow)
                .where(col(JobRow.name) == claim.job, col(JobRow.lease_owner) == self.owner)
                .values(lease_owner="", lease_expire_time=None)
            )

    def prune_runs(self, keep: timedelta) -> None:
        """Delete run records older than `keep`."""
        cutoff = self.clock.now() - keep
        with session_scope(self.engine, write=True) as session:
            session.execute(delete(JobRunRow).where(col(JobRunRow.start_time) < cutoff))


def _close_runs(session: Session, job: str, now: datetime, message: str) -> None:
    session.execute(
        update(JobRunRow)
        .where(col(JobRunRow.job) == job, col(JobRunRow.end_time).is_(None))
        .values(end_time=now, outcome=INTERRUPTED, message=message)
    )
