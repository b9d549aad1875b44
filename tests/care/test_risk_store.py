"""Recording complaint-risk scores: two scorings of a subject that has no score yet, in
transactions that overlap, both succeed and leave one row (PostgreSQL, where they do
overlap; SQLite serializes writers)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from servers.care.models import ComplaintRiskRow
from servers.care.risk_store import NewScore, record
from servers.care.service import MIGRATIONS
from servers.runtime import create_engine, migrate

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _score(level: str, minutes: int) -> NewScore:
    return NewScore(
        subject="customers/3100000099",
        customer="customers/3100000099",
        supply_office="QJ-QL",
        score=90 if level == "CRITICAL" else 40,
        level=level,
        reasons=[],
        model_version="test",
        compute_time=NOW + timedelta(minutes=minutes),
    )


@pytest.mark.postgres
def test_overlapping_first_scorings_of_a_subject_both_succeed(postgres_url: str) -> None:
    migrate("care", postgres_url, MIGRATIONS)
    engine = create_engine(postgres_url)
    first_flushed = threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with Session(engine) as session:
                record(session, _score("MEDIUM", 0), NOW)
                first_flushed.set()
                # Hold the new row uncommitted while the second scoring inserts.
                threading.Event().wait(0.5)
                session.commit()
        except BaseException as error:  # reported to the test below
            failures.append(error)
            first_flushed.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_flushed.wait(5)
    with Session(engine) as session:
        recorded = record(session, _score("CRITICAL", 1), NOW)
        session.commit()
    thread.join(5)
    assert failures == []
    assert recorded.raised
    with Session(engine) as session:
        rows = session.exec(select(ComplaintRiskRow)).all()
    assert [(row.level, row.score) for row in rows] == [("CRITICAL", 90)]
    engine.dispose()
