"""`palm imports` against a whole running system (its own, one for this module): the
demo staging customers imported at a pseudo-terminal with the progress bar and summary,
the jobs listed and shown, the quarantine worked through (a record fixed and
reprocessed, one still bad, one discarded), and 2,000 readings of those customers
imported from a CSV file of the staging table's shape."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from servers.billing.models import MeterReading
from tests.cli.conftest import Palm
from tests.cli.terminal import read_until, start_at_terminal
from tests.e2e.system import System

ADMIN = "admin"
# The demo staging customers (servers.ingest.demo) the import applies: all but the
# three that are bad on purpose.
BAD = {"3100001008", "3100001032", "3100001065"}
GOOD = [n for n in (f"31000{1001 + i:05d}" for i in range(100)) if n not in BAD]
READINGS = 2_000  # four batches of 500: enough for the bar to move
OWN_SYSTEM = True


def at_terminal(palm: Palm, user: str, *args: str) -> tuple[int, str]:
    """Run `palm` as `user` at a pseudo-terminal; its exit status and the screen
    without colours."""
    palm.as_(user, "whoami")  # signed in first
    env = {**palm.env, "PALMGRID_CLI_HOME": str(palm.home(user)), "TERM": "xterm-256color"}
    child, terminal = start_at_terminal([str(palm.executable), *args], env)
    try:
        screen = read_until(terminal, "", seconds=300)
        status = child.wait(timeout=60)
    finally:
        child.kill()
    return status, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


@pytest.fixture(scope="module")
def customers_import(palm: Palm) -> tuple[int, str]:
    """The demo staging customers imported at a terminal, 40 rows a call."""
    return at_terminal(palm, ADMIN, "imports", "run", "customers", "--batch", "40")


def test_the_demo_customers_import_with_a_progress_bar_then_the_quarantine(
    palm: Palm, customers_import: tuple[int, str], tmp_path: Path
) -> None:
    status, screen = customers_import
    assert status == 0, screen
    words = " ".join(screen.split())
    # The bar is drawn as the batches land (40, 80, then all 100 rows), then the summary.
    assert "40/100" in words and "100/100" in words, words
    assert ": SUCCEEDED" in words
    assert re.search(r"100 │ 97 │ 0 │ 3", words), words
    assert "first quarantined: 3100001008 INVALID_FIELD areaCode" in words

    jobs = palm.json(ADMIN, "imports", "list", "--source", "customers")["importJobs"]
    assert [(j["state"], j["readCount"], j["appliedCount"]) for j in jobs] == [
        ("IMPORT_JOB_STATE_SUCCEEDED", "100", "97")
    ]
    shown = palm.as_(ADMIN, "imports", "show", jobs[0]["name"])
    assert shown.code == 0 and "3100001032" in shown.out and "UNKNOWN_TARIFF" in shown.out

    listed = palm.json(
        ADMIN, "imports", "quarantine", "list", "--kind", "customer", "--source", jobs[0]["name"]
    )["quarantinedRecords"]
    by_id = {r["sourceId"]: r for r in listed}
    assert {k: r["reason"] for k, r in by_id.items()} == {
        "3100001008": "INVALID_FIELD",
        "3100001032": "UNKNOWN_TARIFF",
        "3100001065": "INVALID_FIELD",
    }

    # Fixed: the area code in upper case, sent as the record `show` prints.
    record = palm.json(ADMIN, "imports", "quarantine", "show", by_id["3100001008"]["name"])
    fixed = record["record"]
    fixed["customer"]["areaCode"] = "A03"
    corrected = tmp_path / "fixed.json"
    corrected.write_text(json.dumps(fixed), encoding="utf-8")
    resolved = palm.json(
        ADMIN,
        "imports", "quarantine", "reprocess", record["name"],
        "--record", str(corrected), "--etag", record["etag"],
    )  # fmt: skip
    assert resolved["state"] == "QUARANTINE_STATE_RESOLVED"
    # As stored, the unknown tariff is still unknown: it stays open.
    again = palm.json(ADMIN, "imports", "quarantine", "reprocess", by_id["3100001032"]["name"])
    assert (again["state"], again["reason"]) == ("QUARANTINE_STATE_OPEN", "UNKNOWN_TARIFF")
    discarded = palm.json(
        ADMIN,
        "imports", "quarantine", "discard", by_id["3100001065"]["name"],
        "--reason", "营销系统已更正",
    )  # fmt: skip
    assert discarded["state"] == "QUARANTINE_STATE_DISCARDED"
    assert discarded["discardReason"] == "营销系统已更正"
    still_open = palm.json(ADMIN, "imports", "quarantine", "list", "--kind", "customer")
    assert [r["sourceId"] for r in still_open["quarantinedRecords"]] == ["3100001032"]

    stale = palm.as_(ADMIN, "imports", "quarantine", "discard", record["name"], "--reason", "x")
    assert stale.code == 6, stale
    bad = palm.as_(ADMIN, "imports", "run", "kilowatts")
    assert bad.code == 2 and "kilowatts" in bad.err


def test_two_thousand_readings_from_a_csv_file_with_a_progress_bar(
    palm: Palm, system: System, customers_import: tuple[int, str], tmp_path: Path
) -> None:
    assert customers_import[0] == 0, customers_import[1]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=200)
    path = tmp_path / "readings.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["id", "update_time", "customer_number", "meter_id", "read_time", "value_wh",
             "quality", "source"]
        )  # fmt: skip
        for i in range(READINGS):
            k = i // len(GOOD)  # the customer's k-th reading, an hour after the one before
            read = start + timedelta(hours=k)
            writer.writerow(
                [f"csv-{i}", read.isoformat(), GOOD[i % len(GOOD)], "m1", read.isoformat(),
                 1_000_000 + 1_500 * k, "ACTUAL", "REMOTE"]
            )  # fmt: skip

    status, screen = at_terminal(
        palm, ADMIN, "imports", "run", "meter-readings", "--file", str(path)
    )
    assert status == 0, screen
    words = " ".join(screen.split())
    # The bar moves batch by batch (500 rows a call) to the whole file, then the summary.
    assert "500/2000" in words and "2000/2000" in words, words[-2000:]
    assert ": SUCCEEDED" in words
    assert re.search(r"2000 │ 2000 │ 0 │ 0", words), words[-2000:]

    billing = system.services["billing"].runtime
    with billing.session() as session:
        stored = session.exec(
            select(func.count())
            .select_from(MeterReading)
            .where(col(MeterReading.id).startswith("csv-"))
        ).one()
    assert stored == READINGS
    job = palm.json(ADMIN, "imports", "list", "--source", "meter-readings")["importJobs"][0]
    assert job["fromFile"] and job["readCount"] == str(READINGS)
    shown = palm.as_(ADMIN, "imports", "show", job["name"])
    assert shown.code == 0 and "a CSV file" in shown.out
