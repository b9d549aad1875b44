"""Complaint-risk scores through the real edge: care staff list and get the scores of
their supply offices over HTTPS, as JSON with levels, reasons and figures; a score of
another office is refused (403 OUT_OF_SCOPE), and the administrator sees every office.

The demo agent covers the 麒麟 office (QJ-QL); demo customer 6 is in 沾益 (QJ-ZY).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from clients.edge_client import EdgeClient
from servers.care.risk_store import NewScore, record
from tests.e2e.conftest import refusal
from tests.e2e.system import System

COMPUTED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SPIKE = {
    "kind": "BILL_SPIKE",
    "points": 30,
    "description": "latest bill 52000 fen, 3.47 times the usual 15000 fen",
    "figures": {"billRatio": 3.47, "latestBillFen": 52000, "usualBillFen": 15000},
}


@pytest.fixture(scope="module")
def scored(system: System) -> dict[str, str]:
    """Scores of demo customer 1 (QJ-QL, critical) and 6 (QJ-ZY, medium); subject →
    resource name."""
    names = {}
    with system.services["care"].runtime.session(write=True) as session:
        for subject, office, score, level in (
            ("customers/3100000001", "QJ-QL", 95, "CRITICAL"),
            ("customers/3100000006", "QJ-ZY", 45, "MEDIUM"),
        ):
            new = NewScore(subject, subject, office, score, level, [SPIKE], "test-1", COMPUTED)
            names[subject] = f"complaintRisks/{record(session, new, COMPUTED).row.id}"
    return names


def test_care_staff_read_the_scores_of_their_offices(
    scored: dict[str, str], staff: Callable[[str], EdgeClient]
) -> None:
    agent, admin = staff("agent"), staff("admin")
    listed = agent.send("GET", "/v1/complaintRisks", params={"pageSize": 50}).json
    mine = [r for r in listed["complaintRisks"] if r["subject"] in scored]
    assert [r["subject"] for r in mine] == ["customers/3100000001"]
    assert {r["supplyOffice"] for r in listed["complaintRisks"]} <= {"QJ-QL"}

    risk = agent.send("GET", f"/v1/{scored['customers/3100000001']}").json
    assert risk["level"] == "RISK_LEVEL_CRITICAL" and risk["score"] == 95
    assert risk["computeTime"] == "2026-03-02T08:00:00Z"
    assert risk["reasons"] == [
        {
            "kind": "RISK_REASON_KIND_BILL_SPIKE",
            "points": 30,
            "description": SPIKE["description"],
            "figures": SPIKE["figures"],
        }
    ]

    assert refusal(agent, f"/v1/{scored['customers/3100000006']}") == "403 OUT_OF_SCOPE"
    assert refusal(agent, "/v1/complaintRisks?supplyOffice=QJ-ZY") == "403 OUT_OF_SCOPE"
    everywhere = admin.send("GET", "/v1/complaintRisks", params={"minScore": 40}).json
    assert {r["subject"] for r in everywhere["complaintRisks"]} >= set(scored)
