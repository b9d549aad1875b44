"""`palm` (each command a process of its own) at the connection and inspection staff's
work against a running system: the demo applications listed, walked and refused as the
expansion service answers them, and an inspection task created for two inspectors, a
finding recorded with a photo from a file, the task completed; `--json` compared with
what the edge serves to another staff member, failures ending with the exit code of
their kind."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.cli.conftest import Palm

CUSTOMER = "3100000001"
EXPANSION = "palmgrid.expansion.v1.ExpansionService."
INSPECTION = "palmgrid.inspection.v1.InspectionService."
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(200))
# test_palm leaves the expander, who works the applications here, with a second factor.
OWN_SYSTEM = True


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# -- applications ----------------------------------------------------------------


def test_office_list_is_the_services_and_the_overdue_list_holds_the_late_one(
    palm: Palm, edge_as: Any
) -> None:
    # Read back by an agent through the edge (the expander's own login would end the
    # CLI's session); the service masks the applicant in lists for everyone.
    listed = palm.json("expander", "applications", "list", "--office", "QJ-QL")
    served = edge_as("caremanager").call(
        EXPANSION + "ListApplications",
        "GET",
        "/v1/applications",
        params={"supplyOffice": "QJ-QL", "pageSize": 50},
    )
    assert listed == served.json
    assert "applications/demo-zhanyi-new" not in [a["name"] for a in listed["applications"]]

    overdue = palm.json("expander", "applications", "list", "--overdue")
    assert [a["name"] for a in overdue["applications"]] == ["applications/demo-hv-overdue"]
    table = palm.as_("expander", "applications", "list", "--overdue").out
    assert "demo-hv-overdue" in table and "survey" in table

    # 沾益 is outside the expander's offices.
    assert palm.as_("expander", "applications", "list", "--office", "QJ-ZY").code == 4


def test_application_advanced_returned_resumed_and_rejected(palm: Palm, edge_as: Any) -> None:
    name = "applications/demo-residential-new"
    shown = palm.json("expander", "applications", "show", "demo-residential-new")
    served = edge_as("caremanager").call(EXPANSION + "GetApplication", "GET", f"/v1/{name}")
    assert shown == served.json
    assert shown["currentNode"] == "NODE_KIND_ACCEPTANCE"

    args = ["applications", "advance", "demo-residential-new", "--node", "acceptance"]
    advanced = palm.json("expander", *args, "--note", "资料齐全，已受理")
    assert advanced["currentNode"] == "NODE_KIND_CONNECTION"
    assert advanced["nodes"][0]["state"] == "NODE_STATE_COMPLETED"
    assert advanced["nodes"][0]["note"] == "资料齐全，已受理"
    # The same advance again names a node that is no longer current: nothing moves.
    stale = palm.as_("expander", *args, "--note", "again")
    assert stale.code == 6 and "FAILED_PRECONDITION" in stale.err

    timeline = palm.as_("expander", "applications", "show", name).out
    # The nodes as a timeline: acceptance done (●) with its note, connection current (▶).
    lines = timeline.splitlines()
    assert any("●" in line and "acceptance" in line and "资料齐全" in line for line in lines)
    assert any("▶" in line and "connection" in line for line in lines)

    returned = palm.json(
        "expander", "applications", "return", "demo-business-plan", "--missing", "营业执照复印件"
    )
    waiting = [n for n in returned["nodes"] if n["kind"] == returned["currentNode"]]
    assert waiting[0]["state"] == "NODE_STATE_WAITING_ON_CUSTOMER"
    assert returned["history"][-1]["action"] == "APPLICATION_ACTION_SENT_BACK"
    assert returned["history"][-1]["note"] == "营业执照复印件"
    resumed = palm.json("expander", "applications", "resume", "demo-business-plan")
    assert [n["state"] for n in resumed["nodes"] if n["kind"] == resumed["currentNode"]] == [
        "NODE_STATE_IN_PROGRESS"
    ]

    rejected = palm.json("expander", "applications", "reject", name, "--reason", "不具备接入条件")
    assert rejected["state"] == "APPLICATION_STATE_REJECTED"
    assert rejected["rejectReason"] == "不具备接入条件"
    assert palm.as_("expander", "applications", "reject", name, "--reason", "x").code == 6


def test_application_permission_and_not_found_exit_codes(palm: Palm) -> None:
    refused = palm.as_("inspector", "applications", "list")
    assert refused.code == 4 and "PERMISSION_DENIED" in refused.err
    missing = palm.as_("expander", "applications", "show", "no-such-application")
    assert missing.code == 5 and "NOT_FOUND" in missing.err


def test_time_limits_are_the_workflow_table(palm: Palm) -> None:
    high = palm.json("expander", "applications", "time-limits", "--kind", "high-voltage")
    limits = high["nodeTimeLimits"]
    assert [limit["sequence"] for limit in limits] == [1, 2, 3, 4, 5, 6, 7]
    plan = next(x for x in limits if x["name"] == "nodeTimeLimits/high-voltage-supply-plan")
    assert (plan["workingDays"], plan["dualSupplyWorkingDays"]) == (15, 30)
    table = palm.as_("expander", "applications", "time-limits").out
    assert "15 working days" in table and "low voltage residential" in table


# -- inspections -----------------------------------------------------------------


def test_inspection_created_found_with_a_photo_and_completed(
    palm: Palm, edge_as: Any, tmp_path: Path
) -> None:
    me = palm.json("inspector", "whoami")["name"]
    patroller = palm.json("patroller", "whoami")["name"]
    due = iso(datetime.now(UTC) + timedelta(days=2))
    created = palm.json(
        "inspector",
        *["inspections", "create", "--customer", CUSTOMER, "--kind", "special", "--due", due],
        *["--assignee", "me", "--assignee", patroller, "--description", "春检专项"],
    )
    assert created["assignees"] == [me, patroller]
    assert created["state"] == "INSPECTION_STATE_PENDING"
    task = created["name"]

    mine = palm.json("patroller", "inspections", "list", "--mine")
    assert task in [i["name"] for i in mine["inspections"]]
    shown = palm.json("inspector", "inspections", "show", task)
    assert shown == edge_as("admin").call(INSPECTION + "GetInspection", "GET", f"/v1/{task}").json

    photo = tmp_path / "seal.jpg"
    photo.write_bytes(JPEG)
    checks = all_passed(created)
    recorded = palm.json(
        "patroller",
        *["inspections", "finding", task, *checks, "--photo", str(photo)],
        *["--meter", "M3100000001", "--reading-kwh", "12345.67", "--at", "25.49,103.79"],
    )
    assert recorded["photos"][0]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert recorded["photos"][0]["sizeBytes"] == str(len(JPEG))
    assert recorded["meterReading"]["registerWh"] == "12345670"
    assert len(recorded["checkedItems"]) == len(created["checklist"])

    table = palm.as_("inspector", "inspections", "show", task).out
    assert recorded["name"].rsplit("/", 1)[-1] in table and "春检专项" in table

    completed = palm.json(
        "patroller", "inspections", "complete", task, "--outcome", "no-issue", "--note", "正常"
    )
    assert completed["state"] == "INSPECTION_STATE_COMPLETED"
    assert completed["outcome"] == "INSPECTION_OUTCOME_NO_ISSUE"
    again = palm.as_("patroller", "inspections", "complete", task, "--outcome", "no-issue")
    assert again.code == 6


def all_passed(task: dict[str, Any]) -> list[str]:
    """`--check` options passing every item of the task's checklist."""
    return [
        f"--check={item.removeprefix('CHECK_ITEM_').lower().replace('_', '-')}=pass"
        for item in task["checklist"]
    ]


def test_confirmed_theft_completed_with_its_notice_and_penalty(palm: Palm) -> None:
    patroller = palm.json("patroller", "whoami")["name"]
    due = iso(datetime.now(UTC) + timedelta(days=1))
    created = palm.json(
        "inspector",
        *["inspections", "create", "--customer", CUSTOMER, "--kind", "special", "--due", due],
        *["--assignee", "me", "--assignee", patroller],
    )
    task = created["name"]
    palm.json(
        "inspector",
        *["inspections", "finding", task, *all_passed(created), "--at", "25.49,103.79"],
        *["--violation", "electricity-theft", "--seal", "broken", "--witness", "王五"],
    )
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(days=15)
    completed = palm.json(
        "inspector",
        *["inspections", "complete", task, "--outcome", "violation-confirmed"],
        *["--notice", "拆除私接线路", "--notice-deadline", iso(deadline)],
        *["--theft-use", "power", "--theft-watts", "5000", "--theft-price", "0.5283"],
    )
    # docs/inspection.md's worked example: 5 kW, a power user, the period unknown.
    penalty = completed["theftPenalty"]
    assert (penalty["days"], penalty["hoursPerDay"]) == (180, 12)
    assert (penalty["energyWh"], penalty["totalFen"]) == ("10800000", "2282256")
    assert completed["notice"]["text"] == "拆除私接线路" and completed["notice"]["noticeNumber"]
    table = palm.as_("inspector", "inspections", "show", task).out
    assert "¥22,822.56" in table


def test_inspection_failures_exit_by_kind(palm: Palm, tmp_path: Path) -> None:
    due = iso(datetime.now(UTC) + timedelta(days=2))
    alone = palm.as_(
        "inspector",
        *["inspections", "create", "--customer", CUSTOMER, "--kind", "periodic"],
        *["--due", due, "--assignee", "me"],
    )
    assert alone.code == 2 and "field inspection.assignees" in alone.err

    # An inspector may not reassign a task; the manager may.
    demo = wait_for_demo_task(palm)
    inspectors = [palm.json(user, "whoami")["name"] for user in ("inspector", "patroller")]
    pair = ["--assignee", inspectors[0], "--assignee", inspectors[1]]
    refused = palm.as_("inspector", "inspections", "assign", demo, *pair)
    assert refused.code == 4 and "PERMISSION_DENIED" in refused.err
    assigned = palm.json("inspmanager", "inspections", "assign", demo, *pair, "--note", "原班")
    assert assigned["assignees"] == inspectors
    # Naming a colleague by username needs account.users.list, which inspectors lack:
    # they give `users/ID` (`palm whoami`, the task lists).
    by_username = palm.as_("inspmanager", "inspections", "assign", demo, "--assignee", "patroller")
    assert by_username.code == 4

    missing = palm.as_("inspector", "inspections", "show", "no-such-task")
    assert missing.code == 5 and "NOT_FOUND" in missing.err

    # A check the CLI cannot read is a usage error that lists the items.
    unreadable = ["--check", "meter=ok", "--at", "25.49,103.79"]
    typo = palm.as_("inspector", "inspections", "finding", demo, *unreadable)
    assert typo.code == 2 and "meter-seal" in typo.err

    # A file named .jpg that is no JPEG is refused by the service, naming the photo.
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"%PDF-1.7 not a photo")
    bad = palm.as_(
        "inspector",
        *["inspections", "finding", demo, "--check", "meter-seal=pass", "--at", "25.49,103.79"],
        *["--photo", str(fake)],
    )
    assert bad.code == 2 and "finding.photos[0].data" in bad.err


def wait_for_demo_task(palm: Palm) -> str:
    """The demo periodic task, seeded once account and billing answer (a background
    thread of the inspection service)."""
    deadline = time.monotonic() + 60
    while True:
        listed = palm.json("inspmanager", "inspections", "list")
        names = [i["name"] for i in listed["inspections"]]
        if "inspections/demo-periodic-1" in names or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "inspections/demo-periodic-1" in names, names
    return "inspections/demo-periodic-1"
