"""The back-office web console in a real headless browser (Debian's chromium driven by
Playwright) against one running system whose demo staff have the dev second factor:
sign-in with the captcha and a TOTP code computed here, what each role is offered and
refused, an article published, feedback answered and resolved, an outage announced,
the application timeline; no console errors or CSP violations, and axe-core finds no
serious accessibility problem on the sign-in page and the dashboard."""

from __future__ import annotations

import os
import shutil
import ssl
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from clients.edge_client import EdgeClient
from servers.runtime import SYSTEM_CLOCK
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.runner import Worker
from tests.e2e.conftest import demo_customer, fresh_address
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD, System, start_system

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

# The tests publish articles, announce outages and reset a demo staff member's second
# factor: a system of the module's own, so other modules see the demo data as it was.
OWN_SYSTEM = True
CHROMIUM = Path("/usr/bin/chromium")
TOTP_SECRET = "PALMGRIDCONSOLETESTSECRET234567A"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
CARE = "palmgrid.care.v1.CareService."
# Serious and critical axe findings fail; minor and moderate ones are reported only.
SERIOUS = {"serious", "critical"}
# China Standard Time: what the console's date inputs mean.
CST = timezone(timedelta(hours=8), "CST")

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (nox -s system)", allow_module_level=True)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(
        tmp_path_factory.mktemp("system"), settings_overrides={"dev_totp_secret": TOTP_SECRET}
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Tab:
    """One signed-in browser tab, with every console error and CSP violation it saw."""

    def __init__(self, browser: Any, system: System) -> None:
        self.context = browser.new_context(
            ignore_https_errors=True,
            viewport={"width": 1366, "height": 768},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            # Its own client address (through the trusted proxy): per-address limits
            # of one tab do not reach another.
            extra_http_headers={"X-Forwarded-For": fresh_address()},
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.url = f"{system.url}/console/"

    def open(self) -> Any:
        self.page.goto(self.url)
        # CSP violations are reported as DOM events too, with the directive broken.
        self.page.evaluate(
            """() => document.addEventListener('securitypolicyviolation',
                   e => console.error('CSP ' + e.violatedDirective + ' ' + e.blockedURI))"""
        )
        self.page.wait_for_selector("img.captcha[src^='data:image/png']")
        return self.page

    def sign_in(self, username: str, code: str | None) -> Any:
        page = self.page
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(STAFF_PASSWORD)
        page.get_by_label("验证码").fill(CAPTCHA)
        page.get_by_label("动态码").fill(code or "")
        page.get_by_role("button", name="登录").click()
        return page

    def go(self, hash_path: str) -> Any:
        self.page.goto(f"{self.url}#/{hash_path}")
        self.page.wait_for_selector("main section:not([aria-busy])")
        return self.page


class SignedIn:
    """Tabs signed in as demo staff users, one per user for the module: a TOTP code is
    accepted only for a later time step than the user's last, so each signs in once."""

    def __init__(self, browser: Any, system: System) -> None:
        self.browser = browser
        self.system = system
        self.tabs: dict[str, Tab] = {}

    def __call__(self, username: str) -> Tab:
        if username not in self.tabs:
            tab = Tab(self.browser, self.system)
            tab.open()
            tab.sign_in(username, pyotp.TOTP(TOTP_SECRET).now())
            tab.page.wait_for_selector("nav a")
            self.tabs[username] = tab
        return self.tabs[username]

    def close(self) -> None:
        for tab in self.tabs.values():
            tab.context.close()


@pytest.fixture(scope="module")
def signed_in(browser: Any, system: System) -> Iterator[SignedIn]:
    tabs = SignedIn(browser, system)
    yield tabs
    tabs.close()


def console_calls(page: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """What the server answers the console's own session for each (method, path,
    options) call through api.js: "allowed", or the refusal's status and reason."""
    return page.evaluate(  # type: ignore[no-any-return]
        """async (calls) => {
            const api = await import('./js/api.js');
            const out = [];
            for (const [method, path, options] of calls) {
              try { await api.call(method, path, options); out.push('allowed'); }
              catch (e) { out.push(e.status + ' ' + e.reason); }
            }
            return out;
        }""",
        calls,
    )


def serious_violations(page: Any) -> list[str]:
    results = axe_module.Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


def save_screenshot(page: Any, folder: Path, name: str) -> None:
    """Into the test's output folder; also into docs/console/ (the pictures of
    docs/console.md) when PALMGRID_UPDATE_SCREENSHOTS=1, so a test run leaves the
    checkout as it was."""
    shot = folder / name
    page.screenshot(path=str(shot))
    if os.environ.get("PALMGRID_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / name)


def test_the_edge_serves_the_console_with_a_strict_csp(system: System) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=system.ca_file)) as http:
        page = http.get(f"{system.url}/console/")
        script = http.get(f"{system.url}/console/js/main.js")
        escape = http.get(f"{system.url}/console/../edge/app.py")
        missing = http.get(f"{system.url}/console/js/nothing.js")
        redirect = http.get(f"{system.url}/console")
        head = http.head(f"{system.url}/console/console.css")
        post = http.post(f"{system.url}/console/index.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert script.headers["content-type"].startswith("text/javascript")
    assert (escape.status_code, missing.status_code) == (404, 404)
    assert (redirect.status_code, redirect.headers["location"]) == (308, "/console/")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")


def test_staff_sign_in_asks_for_the_totp_code_and_the_pages_pass_axe(
    browser: Any, system: System, signed_in: SignedIn, tmp_path: Path
) -> None:
    tab = Tab(browser, system)
    signed_in.tabs["admin"] = tab  # signed in below, for the later tests
    page = tab.open()
    assert serious_violations(page) == []
    tab.sign_in("admin", None)
    alert = page.locator("form.signin [role=status]")
    alert.filter(has_text="请输入身份验证器中的 6 位动态码").wait_for()
    # The browser logs the refused sign-in (401) as an error; that one is expected.
    assert [p for p in tab.problems if "401" not in p] == []
    tab.problems.clear()
    # The captcha was spent: a new one is shown, and the code completes the sign-in.
    page.wait_for_selector("img.captcha[src^='data:image/png']")
    tab.sign_in("admin", pyotp.TOTP(TOTP_SECRET).now())
    page.wait_for_selector("nav a")
    offered = page.locator("nav a").all_inner_texts()
    assert {"工作台", "用户与角色", "系统参数", "审计日志"} <= set(offered)
    page.locator(".dashboard .card").first.wait_for()
    page.wait_for_selector("main section:not([aria-busy])")
    assert page.locator(".dashboard h2").all_inner_texts()[:1] == ["临近或超过时限的业扩申请"]
    assert serious_violations(page) == []
    save_screenshot(page, tmp_path, "dashboard.png")
    assert tab.problems == []


def test_an_editor_publishes_an_article_that_the_public_route_shows(
    signed_in: SignedIn, client_for: Callable[..., EdgeClient]
) -> None:
    tab = signed_in("editor")
    page = tab.go("articles/new")
    title = f"检修通知 {uuid.uuid4().hex[:6]}"
    page.get_by_label("标题").fill(title)
    page.get_by_label("正文（Markdown）").fill("## 停电范围\n\n- 麒麟区 **A01** 台区\n")
    assert page.locator(".preview h3").inner_text() == "停电范围"
    assert page.locator(".preview li strong").inner_text() == "A01"
    page.get_by_role("button", name="保存草稿").click()
    page.get_by_role("button", name="发布").click()
    page.get_by_text("状态：已发布").wait_for()
    public = client_for().send("GET", "/v1/articles").json["articles"]
    assert title in [a["title"] for a in public]
    assert tab.problems == []


def test_an_editor_is_not_offered_and_is_refused_the_users_page(
    signed_in: SignedIn,
) -> None:
    tab = signed_in("editor")
    page = tab.go("users")
    assert "用户与角色" not in page.locator("nav a").all_inner_texts()
    assert page.get_by_role("alert").inner_text() == "您没有使用此页面的权限。"
    # The console's own session asks anyway: the server refuses.
    assert console_calls(page, [("GET", "/v1/users", {})]) == ["403 PERMISSION_DENIED"]


def test_a_handler_answers_and_resolves_feedback(
    signed_in: SignedIn, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = new_customer(1)
    made = customer.call(
        CARE + "CreateFeedback",
        "POST",
        "/v1/feedback",
        {
            "kind": "FEEDBACK_KIND_COMPLAINT",
            "customer": f"customers/{demo_customer(1)}",
            "content": "电压不稳，灯光闪烁",
        },
    ).json
    tab = signed_in("agent")
    page = tab.go(f"feedback/{made['name'].split('/')[-1]}")
    page.get_by_role("button", name="分派给我").click()
    # Each action re-reads the item: its history shows the step once done.
    page.locator(".timeline li", has_text="分派").wait_for()
    page.get_by_label("答复内容").fill("已安排人员上门检查线路。")
    page.get_by_role("button", name="答复", exact=True).click()
    page.locator(".timeline").get_by_text("已安排人员上门检查线路。").wait_for()
    page.get_by_label("处理结果").fill("更换老化接头，电压恢复正常。")
    page.get_by_role("button", name="办结").click()
    page.locator("#feedback-state").filter(has_text="已解决").wait_for()
    seen = customer.send("GET", f"/v1/{made['name']}").json
    assert seen["state"] == "FEEDBACK_STATE_RESOLVED"
    assert seen["resolution"] == "更换老化接头，电压恢复正常。"
    assert tab.problems == []


def test_a_dispatcher_announces_an_outage_the_customer_route_lists_then_cancels_it(
    signed_in: SignedIn, new_customer: Callable[..., EdgeClient]
) -> None:
    tab = signed_in("dispatcher")
    page = tab.go("outages")
    start = datetime.now(UTC).astimezone(CST) + timedelta(days=8)
    page.get_by_label("台区编码").fill("A01")
    page.get_by_label("停电范围说明").fill("麒麟区 A01 台区")
    page.get_by_label("开始时间（北京时间）").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("结束 / 预计恢复时间").fill(
        (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("原因", exact=True).fill("线路检修")
    page.get_by_role("button", name="发布停电公告").click()
    announced = page.locator("[role=status]").filter(has_text="已发布：")
    announced.wait_for()
    outage_id = announced.inner_text().split("：")[-1].strip()
    customer = new_customer(1)
    route = f"/v1/customers/{demo_customer(1)}/outages"
    assert f"outages/{outage_id}" in [
        o["name"] for o in customer.send("GET", route).json["outages"]
    ]
    # Cancelled from its row (with the etag read): the customer's route drops it.
    row = page.locator("main table tr", has_text=outage_id)
    row.get_by_role("button", name="取消").click()
    page.locator("main table tr", has_text=outage_id).wait_for(state="detached")
    states = {o["name"]: o["state"] for o in customer.send("GET", route).json["outages"]}
    assert states.get(f"outages/{outage_id}", "gone") in {"gone", "OUTAGE_STATE_CANCELLED"}
    assert tab.problems == []


def test_the_application_timeline(signed_in: SignedIn, tmp_path: Path) -> None:
    tab = signed_in("expander")
    page = tab.go("applications")
    # A high-voltage application: the longest timeline.
    page.locator("main table tr", has_text="高压").locator("a").first.click()
    page.wait_for_selector("ol.nodes li")
    completed_before = page.locator("ol.nodes li.node-state-completed").count()
    save_screenshot(page, tmp_path, "application-timeline.png")
    page.get_by_label("备注 / 原因").fill("资料齐全")
    page.get_by_role("button", name="完成当前环节").click()
    # (Locators, not a predicate string: the console's CSP forbids eval.)
    page.locator("ol.nodes li.node-state-completed").nth(completed_before).wait_for()
    assert tab.problems == []


def test_an_administrator_resets_a_second_factor_and_the_user_enrols_with_the_qr_code(
    browser: Any, system: System, signed_in: SignedIn
) -> None:
    admin = signed_in("admin").page
    signed_in.tabs["admin"].go("users")
    admin.get_by_label("用户名开头").fill("patroller")
    admin.get_by_role("button", name="查找").click()
    row = admin.locator("main table tr", has_text="patroller")
    row.get_by_role("button", name="重置二次验证").click()
    admin.get_by_text("已重置。").wait_for()

    tab = Tab(browser, system)
    try:
        tab.open()
        tab.sign_in("patroller", None)  # the password alone, after the reset
        tab.page.wait_for_selector("nav a")
        page = tab.go("second-factor")
        page.get_by_role("button", name="开始绑定身份验证器").click()
        qr = page.get_by_role("img", name="身份验证器二维码")
        qr.wait_for()
        assert qr.locator("rect").count() > 200  # a QR code's dark modules
        secret = page.locator("code.secret").inner_text()
        page.get_by_label("身份验证器显示的 6 位动态码").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="确认").click()
        page.locator("ol.recovery li").nth(9).wait_for()
        assert page.locator("ol.recovery li").count() == 10
        assert tab.problems == []
    finally:
        tab.context.close()


def test_an_administrator_checks_the_audit_chain_reads_a_customer_and_an_inspection(
    signed_in: SignedIn,
) -> None:
    tab = signed_in("admin")
    page = tab.go("audit")
    assert page.locator("main table tbody tr").count() > 0
    page.get_by_role("button", name="校验哈希链").click()
    page.get_by_text("链完整").wait_for()
    page = tab.go(f"customers/{demo_customer(1)}")
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() == 24
    balance = page.locator("dl.facts dt", has_text="余额").locator("xpath=following-sibling::dd[1]")
    assert balance.inner_text().startswith("¥")
    assert balance.inner_text()[-3] == "."
    page = tab.go("inspections")
    page.locator("main table a").first.click()
    page.get_by_role("heading", name="现场记录").wait_for()
    page = tab.go("parameters")
    assert page.get_by_text("secondFactorRoles").count() == 1
    assert tab.problems == []


def test_an_administrator_revokes_a_session_and_that_tab_is_signed_out(
    signed_in: SignedIn,
) -> None:
    editor = signed_in("editor")
    admin = signed_in("admin")
    page = admin.go("users")
    page.get_by_label("用户名开头").fill("editor")
    page.get_by_role("button", name="查找").click()
    page.locator("main table tr", has_text="Content editor").get_by_role(
        "link", name="会话"
    ).click()
    active = page.locator("main table tr", has_text="ACTIVE")
    active.get_by_role("button", name="强制下线").click()
    active.wait_for(state="detached")
    assert admin.problems == []
    # The editor's next call is refused (401): the console forgets the token and asks
    # for a sign-in.
    editor.page.goto(f"{editor.url}#/articles")
    editor.page.wait_for_selector("form.signin")


def test_an_administrator_imports_a_csv_file_and_discards_its_quarantined_record(
    signed_in: SignedIn,
) -> None:
    # One assignment of a demo customer to the tariff it has (unchanged), one of an
    # unknown customer (quarantined).
    csv_file = (
        "id,update_time,tariff\n"
        f"{demo_customer(20)},2026-12-06T10:00:00+08:00,residential-tiered\n"
        "3199999999,2026-12-06T10:00:00+08:00,residential-tiered\n"
    ).encode()
    tab = signed_in("admin")
    page = tab.go("imports")
    page.get_by_label("数据来源").select_option("IMPORT_SOURCE_TARIFF_ASSIGNMENTS")
    page.get_by_label("CSV 文件（不选则读中间库）").set_input_files(
        {"name": "assignments.csv", "mimeType": "text/csv", "buffer": csv_file}
    )
    page.get_by_role("button", name="开始导入").click()
    # The job's own progress ("busy") says 已完成 too, before the list is reloaded and
    # the closing line ("ok") gives the counts: the closing line is the one read.
    done = page.locator("[role=status].ok").filter(has_text="已完成，已读 2 / 2")
    done.wait_for()
    assert done.inner_text().endswith("应用 0，未变 1，隔离 1")
    job_id = done.inner_text().split("：")[0]
    job_row = page.locator("main table tr", has_text=job_id)
    assert job_row.locator("td").all_inner_texts()[1:7] == [
        "电价变更",
        "已完成",
        "2 / 2",
        "0",
        "1",
        "1",
    ]
    record = page.locator("main table tr", has_text="3199999999")
    assert "UNKNOWN_CUSTOMER" in record.inner_text()
    assert f"importJobs/{job_id}" in record.inner_text()
    record.get_by_role("textbox").fill("营销系统无此户号")
    record.get_by_role("button", name="丢弃").click()
    record.wait_for(state="detached")
    assert tab.problems == []


def test_a_staff_member_without_the_permission_is_refused_the_import_routes(
    signed_in: SignedIn,
) -> None:
    # A dispatcher (the editor's session is revoked by an earlier test).
    tab = signed_in("dispatcher")
    page = tab.go("imports")
    assert "数据导入" not in page.locator("nav a").all_inner_texts()
    calls = [
        ("GET", "/v1/importJobs", {}),
        ("GET", "/v1/quarantinedRecords", {}),
        ("POST", "/v1/quarantinedRecords/q1:discard", {"body": {"reason": "dup"}}),
    ]
    assert console_calls(page, calls) == ["403 PERMISSION_DENIED"] * 3


def test_an_administrator_sees_the_workers_jobs_and_their_runs_and_runs_one_now(
    signed_in: SignedIn, system: System
) -> None:
    # The system serves the worker's jobs API without its loop: a worker on the same job
    # database registers the jobs and runs one (it needs only the account service).
    worker = Worker(system.services["worker"].runtime, WorkerConfig(), load_jobs(), SYSTEM_CLOCK)
    worker.store.sync(worker.schedules)
    assert worker.run_now("account.housekeeping") is not None
    tab = signed_in("admin")
    page = tab.go("jobs")
    rows = page.locator("main table tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names == sorted(worker.jobs)
    housekeeping = page.locator("main table tr", has_text="account.housekeeping")
    cells = housekeeping.locator("td").all_inner_texts()
    assert cells[1] == "every 15m"
    assert cells[3].startswith("成功")
    assert cells[6] == "1 / 0"
    # Run now: the job becomes due at once.
    reminders = page.locator("main table tr", has_text="expansion.reminders")
    reminders.get_by_role("button", name="立即运行").click()
    page.locator("[role=status]").filter(has_text="expansion.reminders 已排队").wait_for()
    page.get_by_role("link", name="account.housekeeping").click()
    page.get_by_role("heading", name="account.housekeeping 的运行记录").wait_for()
    run = page.locator("main table tbody tr")
    assert run.count() == 1
    assert run.locator("td").nth(3).inner_text().startswith("成功")
    assert tab.problems == []


def console_get(page: Any, path: str) -> Any:
    """What a GET route answers the console's own session (JSON)."""
    return page.evaluate(
        "async (path) => (await import('./js/api.js')).get(path)",
        path,
    )


def test_an_administrator_creates_a_staff_user_sets_its_offices_and_edits_a_role(
    signed_in: SignedIn,
) -> None:
    tab = signed_in("admin")
    page = tab.go("users")
    # Usernames are ASCII letters only.
    username = "clerk" + "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:10])
    page.get_by_label("用户名（6–32 个英文字母）").fill(username)
    page.get_by_label("姓名").fill("营业厅新员工")
    page.get_by_label("初始密码").fill("Initial-Passw0rd-42")
    page.locator("fieldset input[value='roles/dispatcher']").check()
    page.get_by_label("供电所范围").select_option("SUPPLY_OFFICE_COVERAGE_LISTED")
    page.get_by_label("供电所编号（逗号分隔）").fill("QJ-QL")
    with page.expect_request("**/v1/users:createStaff") as sent:
        page.get_by_role("button", name="新建员工").click()
    # The password leaves the browser sealed to the edge's key, never in plain text.
    assert sent.value.post_data_json["temporaryPassword"].startswith("pgfe1.")
    page.get_by_text(f"已新建员工 {username}").wait_for()
    [listed] = console_get(page, f"/v1/users?usernamePrefix={username}")["users"]
    user = console_get(page, f"/v1/{listed['name']}")
    assert (user["username"], user["displayName"]) == (username, "营业厅新员工")
    assert user["roles"] == ["roles/dispatcher"]
    assert user["supplyOfficeCoverage"] == "SUPPLY_OFFICE_COVERAGE_LISTED"
    assert user["supplyOffices"] == ["QJ-QL"]
    assert user["passwordChangeRequired"] is True

    # 设置供电所 from the user's row: every supply office from now on.
    page.get_by_label("用户名开头").fill(username)
    page.get_by_role("button", name="查找").click()
    row = page.locator("main table tr", has_text=username)
    row.get_by_role("button", name="设置供电所").click()
    form = page.locator("form", has=page.get_by_role("button", name="保存供电所"))
    form.get_by_label("供电所范围").select_option("SUPPLY_OFFICE_COVERAGE_ALL")
    form.get_by_role("button", name="保存供电所").click()
    page.get_by_role("heading", name="已设置供电所").wait_for()
    user = console_get(page, f"/v1/{listed['name']}")
    assert user["supplyOfficeCoverage"] == "SUPPLY_OFFICE_COVERAGE_ALL"
    assert user.get("supplyOffices", []) == []

    # A role's permissions, one a line: one taken away, then the list put back.
    before = console_get(page, "/v1/roles/care-manager")["permissions"]
    kept = before[:-1]
    page = tab.go("users")
    row = page.locator("main table tr", has_text="（care-manager）")
    row.get_by_text("编辑").click()
    for permissions in (kept, before):
        row.get_by_role("textbox").fill("\n".join(permissions))
        row.get_by_role("button", name="保存权限").click()
        row.get_by_text(f"已保存，共 {len(permissions)} 项权限").wait_for()
        assert console_get(page, "/v1/roles/care-manager")["permissions"] == permissions
    assert tab.problems == []


def test_an_administrator_changes_a_staff_users_roles_and_resets_their_password(
    system: System, signed_in: SignedIn
) -> None:
    tab = signed_in("admin")
    page = tab.go("users")
    username = "clerk" + "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:10])
    created = page.evaluate(
        """async (body) => {
            const api = await import('./js/api.js');
            body.temporaryPassword = await api.sealField(
              body.temporaryPassword,
              'palmgrid.account.v1.AccountAdminService.CreateStaffUser',
              'temporaryPassword');
            return api.post('/v1/users:createStaff', body);
        }""",
        {
            "user": {"username": username, "displayName": "调岗员工"},
            "roles": ["roles/dispatcher"],
            "supplyOfficeCoverage": "SUPPLY_OFFICE_COVERAGE_ALL",
            "temporaryPassword": "Initial-Passw0rd-42",
            "requestId": str(uuid.uuid4()),
        },
    )
    page.get_by_label("用户名开头").fill(username)
    page.get_by_role("button", name="查找").click()

    # 设置角色: dispatcher taken away, inspector and expander given, in one save.
    page.locator("main table tr", has_text=username).get_by_role("button", name="设置角色").click()
    form = page.locator("form", has=page.get_by_role("button", name="保存角色"))
    assert form.locator("input[value='roles/dispatcher']").is_checked()
    form.locator("input[value='roles/dispatcher']").uncheck()
    form.locator("input[value='roles/inspector']").check()
    form.locator("input[value='roles/expander']").check()
    form.get_by_role("button", name="保存角色").click()
    page.get_by_role("heading", name="已保存角色").wait_for()
    user = console_get(page, f"/v1/{created['name']}")
    assert sorted(user["roles"]) == ["roles/expander", "roles/inspector"]
    changes = console_get(page, f"/v1/auditRecords?pageSize=20&resource={created['name']}")
    actions = {record["action"].rsplit("/", 1)[-1] for record in changes["auditRecords"]}
    assert {"GrantRole", "RevokeRole"} <= actions, changes

    # 重置密码: a temporary password, sealed before it leaves the browser; the user then
    # signs in with it and is told to change it.
    page.locator("main table tr", has_text=username).get_by_role("button", name="重置密码").click()
    form = page.locator("form", has=page.get_by_role("button", name="确认重置"))
    form.get_by_label("临时密码").fill("Reset-Passw0rd-77")
    with page.expect_request("**/*:resetPassword") as sent:
        form.get_by_role("button", name="确认重置").click()
    assert sent.value.post_data_json["temporaryPassword"].startswith("pgfe1.")
    page.get_by_text(f"已重置 {username} 的密码").wait_for()
    with EdgeClient(
        system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": fresh_address()}
    ) as staff:
        signed = staff.login(username, "Reset-Passw0rd-77", captcha_answer=CAPTCHA)
    assert signed["passwordChangeRequired"] is True
    assert tab.problems == []
