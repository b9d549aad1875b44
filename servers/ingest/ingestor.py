"""One way in for every record, pushed or imported: compare with the version applied
before, check, apply through billing, remember what was applied, quarantine what was
not, then bump the affected customers' cache tags and report backwards readings to
inspection as metering anomalies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from cachetags import TagInvalidator
from palmgrid.inspection.v1 import resources_pb2 as inspection_resources
from servers.ingest import ledger
from servers.ingest.applying import apply_records
from servers.ingest.checks import Problem, check_records
from servers.ingest.models import QuarantineRow
from servers.ingest.quarantine import quarantine, supersede
from servers.ingest.records import Record
from servers.ingest.upstream import Upstream
from servers.runtime import Clock, Runtime
from servers.runtime.errors import DomainError
from servers.runtime.protoconv import timestamp
from servers.runtime.validation import RequestValidator

log = logging.getLogger("palmgrid.ingest")


@dataclass
class Outcome:
    """What became of a batch of records."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    # The records that could not be applied, with why, and their quarantine rows.
    failed: list[tuple[Record, Problem]] = field(default_factory=list)
    quarantined: list[QuarantineRow] = field(default_factory=list)
    # The records billing accepted.
    accepted: list[Record] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return self.created + self.updated


class Ingestor:
    """Checks and applies records for the push methods, the quarantine and imports."""

    def __init__(self, runtime: Runtime, upstream: Upstream, clock: Clock) -> None:
        self.runtime = runtime
        self.upstream = upstream
        self.clock = clock
        self.validator = RequestValidator()
        self.cache = TagInvalidator.shared(runtime.settings.memcached_servers)

    def ingest(
        self,
        records: Sequence[Record],
        source: str,
        *,
        also: Callable[[Session, Outcome], None] | None = None,
    ) -> Outcome:
        """Process a batch from `source`: apply what is new and valid, then, in one
        transaction, remember it, quarantine what failed and run `also` (an import job
        commits its progress there)."""
        outcome = self.process(records)
        self.commit(outcome, source, also=also)
        return outcome

    def process(self, records: Sequence[Record]) -> Outcome:
        """Apply what is new and valid through billing; nothing is stored here."""
        outcome = Outcome()
        with self.runtime.session() as session:
            standings = ledger.standings(session, records)
        fresh = [r for r, s in zip(records, standings, strict=True) if s is ledger.Standing.NEW]
        outcome.unchanged = standings.count(ledger.Standing.UNCHANGED)
        outcome.stale = standings.count(ledger.Standing.STALE)
        if not fresh:
            return outcome
        checked = check_records(fresh, self.validator, self.upstream)
        good = [r for i, r in enumerate(fresh) if i not in checked.problems]
        outcome.failed = [(fresh[i], p) for i, p in sorted(checked.problems.items())]
        applied = apply_records(good, checked.customers, self.upstream)
        outcome.created, outcome.updated = applied.created, applied.updated
        outcome.unchanged += applied.unchanged
        outcome.failed += applied.refused
        outcome.accepted = applied.accepted
        return outcome

    def commit(
        self,
        outcome: Outcome,
        source: str,
        *,
        also: Callable[[Session, Outcome], None] | None = None,
        keep_failed: bool = True,
    ) -> None:
        """Store what `process` did in one transaction, then tell the cache and
        inspection. `keep_failed=False`: the caller keeps the failures itself."""
        now = self.clock.now()
        with self.runtime.session(write=True) as session:
            if outcome.accepted:
                ledger.remember(session, outcome.accepted, now)
                supersede(session, outcome.accepted, now)
            if outcome.failed and keep_failed:
                outcome.quarantined = quarantine(session, outcome.failed, source, now)
            if also is not None:
                also(session, outcome)
        if outcome.accepted:
            # Billing bumps the tags of what it changed too; ingest bumps them for
            # every record it handed on, so no owning service is trusted to.
            self.cache.bump_customers({r.customer_id for r in outcome.accepted})
        self._report_backwards(outcome.failed)

    def _report_backwards(self, failed: Sequence[tuple[Record, Problem]]) -> None:
        for record, problem in failed:
            if problem.reason != "READING_BACKWARDS":
                continue
            reading = record.record.meter_reading
            _, customer, _, meter, _, reading_id = reading.name.split("/")
            anomaly = inspection_resources.Anomaly(
                customer=f"customers/{customer}",
                kind=inspection_resources.ANOMALY_KIND_OTHER,
                detect_time=timestamp(self.clock.now()),
                source_event=f"ingest:reading-backwards:{customer}:{meter}:{reading_id}"[:128],
                meter_number=meter,
                description=f"meter reading {reading_id}: {problem.message}"[:1000],
            )
            try:
                self.upstream.record_anomaly(anomaly)
            except DomainError as error:
                # The reading stays quarantined; staff see it there.
                log.warning(
                    "anomaly not recorded", extra={"reading": reading.name, "error": str(error)}
                )
