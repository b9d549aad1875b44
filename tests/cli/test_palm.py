"""`palm` (each command a process of its own) against a running system: every group of
commands does its task, `--json` is the service's own answer (read back through the edge
by another staff member or anonymously), failures end with the exit code of their kind,
and the session token stays in a file only its owner can read."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from rich.cells import cell_len

from palmgrid.worker.v1 import worker_service_pb2
from servers.care.risk_store import NewScore, record
from servers.worker.models import OK
from tests.cli.conftest import JobsWorker, Palm
from tests.cli.terminal import read_until, start_at_terminal
from tests.e2e.second_factor import enrolled, fresh_code
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD, System
from tools.ports import free_port

# Each staff member the CLI signs in as; the edge reads back as `caremanager` (another
# login of the same user would end the CLI's session).
CUSTOMER = "3100000001"
OUTSIDE_SCOPE = "3100000006"  # area A06: the other supply office
CARE = "palmgrid.care.v1.CareService."


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def announce_args(
    *areas: str, start: datetime, hours: int = 8, reason: str = "计划检修"
) -> list[str]:
    """`palm outages announce` arguments of a planned outage of `areas`."""
    args = ["outages", "announce", "--start", iso(start), "--reason", reason]
    args += ["--end", iso(start + timedelta(hours=hours))]
    for area in areas:
        args += ["--area", area]
    return args


# -- the tool --------------------------------------------------------------------


def test_login_keeps_the_token_owner_only_and_never_prints_it(palm: Palm) -> None:
    signed = palm.login("dispatcher")
    assert signed.code == 0, signed
    palm.signed_in.add("dispatcher")
    session_file = palm.home("dispatcher") / "session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700
    token = json.loads(session_file.read_text())["token"]
    assert token and token not in signed.out + signed.err

    me = palm.json("dispatcher", "whoami")
    assert me["username"] == "dispatcher" and me["roles"] == ["roles/dispatcher"]
    shown = palm.as_("dispatcher", "whoami")
    assert "dispatcher" in shown.out and token not in shown.out + shown.err


def test_a_wrong_password_is_an_authentication_failure_with_its_reason(palm: Palm) -> None:
    done = palm.run("intruder", "login", "agent", "--password-stdin", stdin="Wrong-pass-1!\n")
    assert done.code == 3
    assert "UNAUTHENTICATED" in done.err and "reason: INVALID_CREDENTIALS" in done.err


def test_commands_before_login_and_after_logout_exit_3(palm: Palm) -> None:
    assert palm.run("nobody", "whoami").code == 3
    assert palm.login("inspector").code == 0
    assert palm.run("inspector", "logout").code == 0
    assert not (palm.home("inspector") / "session").exists()
    after = palm.run("inspector", "whoami")
    assert after.code == 3 and "palm login" in after.err


def test_health_lists_every_service_its_database_and_memcached_and_exits_7_when_one_is_down(
    palm: Palm, system: System
) -> None:
    done = palm.run("anyone", "health", "--json")
    report = json.loads(done.out)
    for part in ("services", "databases"):
        states = report[part]
        assert {states[name] for name in ("account", "billing", "outage", "care", "worker")} == {
            "SERVING"
        }, report
    assert report["memcached"] == {system.memcached.address: "UP"}
    assert done.code == (0 if report["status"] == "SERVING" else 7)

    dead = f"127.0.0.1:{free_port()}"
    down = palm.run(
        "anyone",
        "health",
        "--json",
        env={
            "PALMGRID_OUTAGE_TARGET": f"127.0.0.1:{free_port()}",
            "PALMGRID_MEMCACHED_SERVERS": f"{system.memcached.address},{dead}",
        },
    )
    report = json.loads(down.out)
    assert report["services"]["outage"] == report["databases"]["outage"] == "UNAVAILABLE"
    assert report["memcached"] == {system.memcached.address: "UP", dead: "DOWN"}
    assert report["status"] == "NOT_SERVING" and down.code == 7


def test_usage_errors_exit_2(palm: Palm) -> None:
    assert palm.run("anyone", "outages", "list", "--kind", "sometimes").code == 2
    args = ["outages", "announce", "--area", "A01", "--reason", "x", "--start", "2027-01-01T09:00"]
    naive = palm.as_("dispatcher", *args)
    assert naive.code == 2 and "no zone" in naive.err


# -- outages ---------------------------------------------------------------------


def test_outage_announced_changed_and_cancelled(palm: Palm, edge_as: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    announced = palm.json(
        "dispatcher",
        *announce_args("A01", "A02", start=start, reason="10千伏线路检修"),
        "--description",
        "麒麟南路",
    )
    assert announced["state"] == "OUTAGE_STATE_SCHEDULED"
    assert announced["areaCodes"] == ["A01", "A02"]
    outage_id = announced["name"].removeprefix("outages/")

    shown = palm.json("dispatcher", "outages", "show", outage_id)
    assert shown == edge_as(None).send("GET", f"/v1/{announced['name']}").json

    later = start + timedelta(hours=1)
    changed = palm.json("dispatcher", "outages", "change", outage_id, "--start", iso(later))
    assert changed["startTime"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = palm.json("dispatcher", "outages", "list", "--area", "A02")
    assert announced["name"] in [o["name"] for o in listed["outages"]]
    table = palm.as_("dispatcher", "outages", "list", "--area", "A02")
    assert outage_id in table.out and "10千伏线路检修" in table.out

    cancelled = palm.json("dispatcher", "outages", "cancel", outage_id, "--reason", "推迟")
    assert cancelled["state"] == "OUTAGE_STATE_CANCELLED" and cancelled["cancelReason"] == "推迟"
    again = palm.as_("dispatcher", "outages", "cancel", outage_id, "--reason", "twice")
    assert again.code == 6, again


def test_unplanned_outage_restored(palm: Palm) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    unplanned = ["outages", "announce", "--kind", "unplanned", "--area", "A03", "--reason", "故障"]
    unplanned += ["--start", iso(now - timedelta(minutes=5))]
    unplanned += ["--estimated-restore", iso(now + timedelta(hours=2))]
    announced = palm.json("dispatcher", *unplanned)
    restored = palm.json("dispatcher", "outages", "restore", announced["name"], "--note", "已修复")
    assert restored["state"] == "OUTAGE_STATE_RESTORED" and restored["restoreNote"] == "已修复"


def test_outage_errors_name_the_field_and_exit_by_kind(palm: Palm) -> None:
    start = iso(datetime.now(UTC) + timedelta(days=20))
    args = ["outages", "announce", "--area", "A01", "--start", start, "--reason", "x"]
    no_end = palm.as_("dispatcher", *args)
    assert no_end.code == 2 and "INVALID_ARGUMENT" in no_end.err
    assert "field outage" in no_end.err and "end_time" in no_end.err

    missing = palm.as_("dispatcher", "outages", "show", "nosuchoutage")
    assert missing.code == 5 and "NOT_FOUND" in missing.err

    # An agent reads outages but may not announce them.
    refused = palm.as_("agent", *announce_args("A01", start=datetime.now(UTC) + timedelta(days=20)))
    assert refused.code == 4 and "PERMISSION_DENIED" in refused.err and "reason:" in refused.err


# -- care ------------------------------------------------------------------------


def test_feedback_worked_through_the_queue(palm: Palm, edge_as: Any) -> None:
    queue = palm.json("agent", "feedback", "queue")
    names = [f["name"] for f in queue["feedback"]]
    open_items = [f for f in queue["feedback"] if f["state"] != "FEEDBACK_STATE_CLOSED"]
    assert open_items, "the demo data has open feedback"
    # Open feedback comes before closed in the work list.
    assert names[: len(open_items)] == [f["name"] for f in open_items]

    target = open_items[0]["name"]
    shown = palm.json("agent", "feedback", "show", target)
    # The edge seals sensitive fields (the actors' names) for the app; `call` opens them.
    served = edge_as("caremanager").call(CARE + "GetFeedback", "GET", f"/v1/{target}")
    assert shown == served.json

    assigned = palm.json("agent", "feedback", "assign", target, "--to", "agent")
    me = palm.json("agent", "whoami")
    assert assigned["assignee"] == me["name"]
    replied = palm.json("agent", "feedback", "reply", target, "师傅今天下午上门检查")
    assert replied["history"][-1]["text"] == "师傅今天下午上门检查"
    resolved = palm.json("agent", "feedback", "resolve", target, "--resolution", "已更换电表")
    assert resolved["state"] == "FEEDBACK_STATE_RESOLVED"
    closed = palm.json("agent", "feedback", "close", target, "--reason", "客户确认")
    assert closed["state"] == "FEEDBACK_STATE_CLOSED"

    table = palm.as_("agent", "feedback", "show", target)
    assert table.code == 0 and "已更换电表" in table.out


@pytest.fixture(scope="module")
def scored(system: System) -> str:
    """A critical complaint-risk score of demo customer 1 (as the scoring job would
    record it); its resource name."""
    computed = datetime(2026, 12, 1, tzinfo=UTC)
    reason = {"kind": "BILL_SPIKE", "points": 40, "figures": {"billRatio": 3.5}}
    subject = f"customers/{CUSTOMER}"
    new = NewScore(subject, subject, "QJ-QL", 95, "CRITICAL", [reason], "test-1", computed)
    with system.services["care"].runtime.session(write=True) as session:
        return f"complaintRisks/{record(session, new, computed).row.id}"


def test_risks_are_those_the_service_lists(palm: Palm, edge_as: Any, scored: str) -> None:
    listed = palm.json("agent", "risks", "list", "--office", "QJ-QL")
    served = edge_as("caremanager").send(
        "GET", "/v1/complaintRisks", params={"supplyOffice": "QJ-QL", "pageSize": 50}
    )
    assert listed["complaintRisks"] == served.json["complaintRisks"]
    assert scored in [r["name"] for r in listed["complaintRisks"]]
    of_customer = palm.json("agent", "risks", "list", "--customer", CUSTOMER)
    assert [r["name"] for r in of_customer["complaintRisks"]] == [scored]
    shown = palm.as_("agent", "risks", "show", scored).out
    assert "critical" in shown and "billRatio=3.5" in shown

    # The queue says which customers' feedback comes first for their risk.
    queue = palm.as_("agent", "feedback", "queue").out
    assert any(CUSTOMER in line and "critical" in line for line in queue.splitlines())


def test_article_written_in_markdown_published_and_withdrawn(
    palm: Palm, edge_as: Any, tmp_path: Path
) -> None:
    notice = tmp_path / "notice.md"
    notice.write_text(
        "# 春节期间营业时间调整\n\n除夕至初三营业厅休息。\n\n线上缴费不受影响。\n", encoding="utf-8"
    )
    created = palm.json("editor", "articles", "create", str(notice), "--kind", "notice")
    assert created["title"] == "春节期间营业时间调整"
    assert created["summary"] == "除夕至初三营业厅休息。"
    assert created["state"] == "ARTICLE_STATE_DRAFT"
    drafts = palm.json("editor", "articles", "list", "--state", "draft")
    assert created["name"] in [a["name"] for a in drafts["articles"]]

    published = palm.json("editor", "articles", "publish", created["name"])
    assert published["state"] == "ARTICLE_STATE_PUBLISHED"
    public = edge_as(None).send("GET", f"/v1/{created['name']}").json
    assert public["title"] == published["title"] and public["body"] == published["body"]

    withdrawn = palm.json("editor", "articles", "withdraw", created["name"], "--reason", "作废")
    assert withdrawn["state"] == "ARTICLE_STATE_WITHDRAWN"

    # Chinese titles are two cells wide: every line of the table is as wide as its top.
    table = palm.as_("editor", "articles", "list").out.splitlines()
    framed = [line for line in table if line[:1] in "┏┃┡│└"]
    assert "春节期间营业时间调整" in "".join(framed)
    assert len({cell_len(line) for line in framed}) == 1


# -- customers -------------------------------------------------------------------


def test_customer_figures_are_the_services(palm: Palm, edge_as: Any) -> None:
    staff = edge_as("caremanager")
    balance = palm.json("agent", "customers", "balance", CUSTOMER)
    assert balance == staff.balance(CUSTOMER)
    usage = palm.json("agent", "customers", "usage", CUSTOMER)
    assert usage == staff.monthly_usage(CUSTOMER, pageSize=24)
    assert len(usage["monthlyUsage"]) == 24
    bills = palm.json("agent", "customers", "bills", CUSTOMER, "--limit", "3")
    assert bills["bills"] == staff.bills(CUSTOMER, pageSize=3)["bills"]
    payments = palm.json("agent", "customers", "payments", CUSTOMER)
    assert payments["payments"] == staff.payments(CUSTOMER)["payments"]
    shown = palm.json("agent", "customers", "show", CUSTOMER)
    assert shown["areaCode"] == "A01" and shown["name"] == f"customers/{CUSTOMER}"

    chart = palm.as_("agent", "customers", "usage", CUSTOMER).out
    months = [m["month"] for m in usage["monthlyUsage"]]
    assert all(month in chart for month in months) and "█" in chart
    # Oldest month at the top.
    assert chart.index(months[-1]) < chart.index(months[0])


def test_a_customer_outside_the_offices_is_a_permission_error(palm: Palm) -> None:
    refused = palm.as_("agent", "customers", "balance", OUTSIDE_SCOPE)
    assert refused.code == 4 and "PERMISSION_DENIED" in refused.err
    missing = palm.as_("agent", "customers", "show", "3100099999")
    assert missing.code == 5


# -- administration --------------------------------------------------------------


def test_staff_account_lifecycle(palm: Palm) -> None:
    new_user = ["users", "create", "zhangwei", "--name", "张伟", "--role", "agent"]
    created = palm.as_("admin", *new_user, "--office", "QJ-QL")
    assert created.code == 0, created
    temporary = created.out.split("temporary password: ")[1].split()[0]
    user = palm.json("admin", "users", "show", "zhangwei")
    assert user["displayName"] == "张伟" and user["roles"] == ["roles/agent"]

    granted = palm.json("admin", "users", "grant", "zhangwei", "editor")
    assert sorted(granted["user"]["roles"]) == ["roles/agent", "roles/editor"]
    revoked = palm.json("admin", "users", "revoke", "zhangwei", "editor")
    assert revoked["user"]["roles"] == ["roles/agent"]

    # The new member signs in with the temporary password; the admin sees the session.
    done = palm.run("zhangwei", "login", "zhangwei", "--password-stdin", stdin=temporary + "\n")
    assert done.code == 0, done
    sessions = palm.json("admin", "users", "sessions", "list", "zhangwei")
    assert [s["state"] for s in sessions["sessions"]] == ["SESSION_STATE_ACTIVE"]

    reset = palm.as_("admin", "users", "reset-password", "zhangwei")
    assert reset.code == 0 and "1 session(s) ended" in reset.out
    disabled = palm.json("admin", "users", "disable", "zhangwei", "--reason", "调岗")
    assert disabled["user"]["state"] == "USER_STATE_DISABLED"

    assert palm.as_("admin", "users", "show", "nosuchuser").code == 5
    assert (
        palm.as_("agent", "users", "create", "lisilisi", "--name", "x", "--role", "agent").code == 4
    )


def test_roles_params_and_audit(palm: Palm) -> None:
    roles = palm.json("admin", "roles", "list")
    assert {"roles/dispatcher", "roles/agent", "roles/editor"} <= {
        r["name"] for r in roles["roles"]
    }
    dispatcher = palm.json("admin", "roles", "show", "dispatcher")
    assert "outage.outages.create" in dispatcher["permissions"]

    changed = palm.json("admin", "params", "set", "captchaLifetime", "240s")
    assert changed["captchaLifetime"] == "240s"
    assert palm.as_("admin", "params", "get", "captchaLifetime").out.strip() == '"240s"'
    assert palm.as_("admin", "params", "set", "noSuchParameter", "1").code == 2

    records = palm.json("admin", "audit", "query", "--actor", "admin", "--limit", "100")
    actions = [r["action"] for r in records["auditRecords"]]
    assert any(a.endswith("/UpdateSystemParameters") for a in actions)
    verified = palm.json("admin", "audit", "verify")
    assert verified["valid"] is True and int(verified["verifiedCount"]) >= len(actions)

    assert palm.as_("editor", "audit", "query").code == 4


def test_outage_notice_seen_in_the_outbox(palm: Palm) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    announced = palm.json(
        "dispatcher", *announce_args("A04", start=start, hours=4, reason="变压器更换")
    )
    deadline = time.monotonic() + 30
    while True:
        listed = palm.json("admin", "messages", "list", "--topic", "outage")
        sent = [m for m in listed["messages"] if m["target"] == announced["name"]]
        if sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(sent) == 1, listed
    shown = palm.json("admin", "messages", "show", sent[0]["name"])
    assert shown == sent[0]
    assert shown["parameters"]["reason"] == "变压器更换"
    deliveries = palm.json("admin", "messages", "deliveries", sent[0]["name"])
    assert len(deliveries["deliveries"]) == int(shown["stats"]["totalCount"])
    assert palm.as_("agent", "messages", "list").code == 4


# -- outlets ---------------------------------------------------------------------


def test_outlet_added_changed_and_removed(palm: Palm, edge_as: Any) -> None:
    outlet = ["outlets", "create", "--name", "麒麟南路营业厅", "--address", "麒麟南路9号"]
    outlet += ["--lat", "25.49", "--lon", "103.80", "--office", "QJ-QL", "--phone", "0874-3123456"]
    outlet += ["--hours", "mon-fri 08:30-17:30", "--hours", "sat 09:00-12:00"]
    created = palm.json("editor", *outlet, "--service", "bill-payment")
    days = [period["day"] for period in created["openingHours"]]
    assert days == ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]
    assert created["services"] == ["OUTLET_SERVICE_BILL_PAYMENT"]

    changed = palm.json(
        "editor", "outlets", "change", created["name"], "--hours-note", "节假日休息"
    )
    assert changed["hoursNote"] == "节假日休息"
    shown = palm.json("editor", "outlets", "show", created["name"])
    assert shown == edge_as(None).send("GET", f"/v1/{created['name']}").json
    table = palm.as_("editor", "outlets", "show", created["name"]).out
    assert "mon-fri 08:30-17:30, sat 09:00-12:00" in table

    assert palm.as_("editor", "outlets", "delete", created["name"]).code == 0
    assert palm.as_("editor", "outlets", "show", created["name"]).code == 5
    bad_hours = palm.as_("editor", "outlets", "change", created["name"], "--hours", "weekdays")
    assert bad_hours.code == 2 and "mon-fri 08:30-17:30" in bad_hours.err


def test_login_at_a_terminal_draws_the_captcha_and_saves_it(palm: Palm) -> None:
    """Without PALMGRID_DEV_CAPTCHA the captcha is asked for: drawn in the (pseudo-)
    terminal and saved to a file whose path is printed. (The test system's services
    still accept the dev answer, so the login succeeds.)"""
    env = {k: v for k, v in palm.env.items() if k != "PALMGRID_DEV_CAPTCHA"}
    env |= {"PALMGRID_CLI_HOME": str(palm.home("expander")), "TERM": "xterm-256color"}
    env["COLORTERM"] = "truecolor"
    # On its controlling terminal, the password prompt reads with echo off.
    child, terminal = start_at_terminal([str(palm.executable), "login", "expander"], env)
    # A prompt's last character is written once the terminal is set up to read the
    # answer (click writes it through getpass or readline): wait for it.
    screen = read_until(terminal, "password: ")
    os.write(terminal, (STAFF_PASSWORD + "\r").encode())
    screen += read_until(terminal, "captcha: ")
    os.write(terminal, (CAPTCHA + "\r").encode())
    screen += read_until(terminal, "")
    try:
        status = child.wait(timeout=60)
    finally:
        child.kill()
        os.close(terminal)

    assert status == 0, screen
    assert "signed in as expander" in screen and STAFF_PASSWORD not in screen
    assert screen.count("▀") >= 32 * 8  # the picture, in colour cells
    plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)  # without colours
    saved = Path(plain.split("captcha image: ")[1].split()[0])
    assert saved.read_bytes().startswith(b"\x89PNG")


# -- second factor ---------------------------------------------------------------


def test_login_asks_for_the_second_factor_code_of_an_enrolled_staff_member(
    palm: Palm, edge_as: Any
) -> None:
    totp, spent = enrolled(edge_as("expander"))
    without = palm.run("expander", "login", "expander", "--password-stdin", stdin=STAFF_PASSWORD)
    assert without.code == 3 and "reason: SECOND_FACTOR_REQUIRED" in without.err
    stdin = f"{STAFF_PASSWORD}\n{fresh_code(totp, spent)}\n"
    signed = palm.run("expander", "login", "expander", "--password-stdin", stdin=stdin)
    assert signed.code == 0, signed
    assert "second-factor code" in signed.out + signed.err
    assert palm.run("expander", "whoami").code == 0
    replayed = palm.run("expander", "login", "expander", "--password-stdin", stdin=stdin)
    assert replayed.code == 3 and "reason: SECOND_FACTOR_INVALID" in replayed.err


def test_jobs_are_the_workers_with_their_last_runs(palm: Palm, jobs_worker: JobsWorker) -> None:
    # A real job, run by the worker against the running account service.
    outcome, message = jobs_worker.worker.run_now("account.housekeeping") or ("", "")
    assert outcome == OK, message
    listed = palm.json("admin", "jobs", "list")
    stub, metadata = jobs_worker.stub()
    answer = stub.ListJobs(worker_service_pb2.ListJobsRequest(), metadata=metadata)
    assert listed == json_format.MessageToDict(answer, always_print_fields_with_no_presence=True)
    jobs = {job["name"]: job for job in listed["jobs"]}
    housekeeping = jobs["jobs/account.housekeeping"]
    assert housekeeping["lastRun"]["outcome"] == "JOB_RUN_OUTCOME_OK"
    assert housekeeping["runCount"] == "1" and housekeeping["schedule"] == "every 15m"
    table = palm.as_("admin", "jobs", "list").out
    assert "account.housekeeping" in table and "every 15m" in table and "never run" in table

    runs = palm.json("admin", "jobs", "runs", "account.housekeeping")
    assert [run["name"] for run in runs["jobRuns"]] == [housekeeping["lastRun"]["name"]]
    made = palm.json("admin", "jobs", "run", "account.housekeeping")
    assert datetime.fromisoformat(made["nextRunTime"]) <= datetime.now(UTC)

    assert palm.as_("dispatcher", "jobs", "list").code == 4
    missing = palm.as_("admin", "jobs", "runs", "billing.no-such-job")
    assert missing.code == 5 and "NOT_FOUND" in missing.err
