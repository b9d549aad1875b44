"""The applied-record ledger: which version of each source record was applied, so a
record sent again changes nothing and an older version never overwrites a newer one."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select, tuple_

from servers.ingest.models import AppliedRecord
from servers.ingest.records import Record


class Standing(enum.Enum):
    """How a record compares with what was applied before."""

    NEW = "new"  # never applied, or a newer version: to be checked and applied
    UNCHANGED = "unchanged"  # the same version with the same content
    STALE = "stale"  # older than the version applied


def standings(session: Session, records: Sequence[Record]) -> list[Standing]:
    """Each record's standing; of several records with the same key in one batch, all
    but the newest (the last of equal ones) count as stale."""
    stored = _applied(session, records)
    newest: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        key = (record.kind, record.source_id)
        best = newest.get(key)
        if best is None or records[best].version_time <= record.version_time:
            newest[key] = index
    result: list[Standing] = []
    for index, record in enumerate(records):
        key = (record.kind, record.source_id)
        row = stored.get(key)
        if newest[key] != index:
            result.append(Standing.STALE)
        elif row is None or row.version_time < record.version_time:
            result.append(Standing.NEW)
        elif row.version_time > record.version_time:
            result.append(Standing.STALE)
        elif row.digest == record.digest:
            result.append(Standing.UNCHANGED)
        else:
            # The same version with other content: the source corrected it without a
            # new version; the later one wins.
            result.append(Standing.NEW)
    return result


def remember(session: Session, records: Sequence[Record], now: datetime) -> None:
    """Note these records as applied (in the caller's transaction)."""
    stored = _applied(session, records)
    for record in records:
        row = stored.get((record.kind, record.source_id))
        if row is None:
            row = AppliedRecord(
                kind=record.kind,
                source_id=record.source_id,
                version_time=record.version_time,
                digest=record.digest,
                apply_time=now,
            )
            stored[(record.kind, record.source_id)] = row
        elif row.version_time > record.version_time:
            continue
        row.version_time = record.version_time
        row.digest = record.digest
        row.apply_time = now
        session.add(row)


def _applied(session: Session, records: Sequence[Record]) -> dict[tuple[str, str], AppliedRecord]:
    """The ledger rows of these records' keys."""
    keys = list({(r.kind, r.source_id) for r in records})
    stored: dict[tuple[str, str], AppliedRecord] = {}
    for start in range(0, len(keys), 500):
        query = select(AppliedRecord).where(
            tuple_(col(AppliedRecord.kind), col(AppliedRecord.source_id)).in_(
                keys[start : start + 500]
            )
        )
        stored.update({(row.kind, row.source_id): row for row in session.exec(query)})
    return stored
