"""Audited mutations fail closed (issue 16, finding 6), through the real edge: with the
audit log (the account service) out of the services' reach, an audited change is
refused before it runs and nothing changes; the refusal's own record reaches the log
once it is back. A system of its own: its services reach the account service through a
relay the test cuts, as a network partition would (the edge still reaches it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from palmgrid.account.v1 import account_admin_service_pb2_grpc
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as admin_requests
from tests.e2e.conftest import demo_customer
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD, TESTER, System, start_system
from tests.tcp_relay import TcpRelay

# Far from the demo outlets, so that the nearest outlets here are only new ones.
LATITUDE, LONGITUDE = 26.5, 106.7
OUTLET = {
    "displayName": "审计测试营业厅",
    "address": "贵阳市审计路1号",
    "location": {"latitude": LATITUDE, "longitude": LONGITUDE},
    "services": ["OUTLET_SERVICE_BILL_PAYMENT"],
}


def _records(system: System, request_id: str) -> list[object]:
    credentials = system.settings.client_credentials(TESTER)
    assert credentials is not None
    with grpc.secure_channel(system.services["account"].target, credentials) as channel:
        stub = account_admin_service_pb2_grpc.AccountAdminServiceStub(channel)
        found = stub.ListAuditRecords(
            admin_requests.ListAuditRecordsRequest(page_size=1000), timeout=5
        ).audit_records
    return [r for r in found if r.request_id == request_id]


@pytest.fixture(scope="module")
def relay() -> Iterator[TcpRelay]:
    running = TcpRelay()
    yield running
    running.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, relay: TcpRelay) -> Iterator[System]:
    running = start_system(
        tmp_path_factory.mktemp("system"), settings_overrides={"account_target": relay.address}
    )
    relay.target = running.services["account"].target
    yield running
    running.stop()


def _refused(call: Callable[[], object]) -> EdgeApiError:
    with pytest.raises(EdgeApiError) as caught:
        call()
    return caught.value


def _outlet_names(client: EdgeClient) -> list[str]:
    outlets = client.outlets(LATITUDE, LONGITUDE)["outlets"]
    return [o["displayName"] for o in outlets if o["distanceMeters"] < 10_000]


def test_an_audited_mutation_with_the_audit_log_down_is_refused_and_nothing_changed(
    system: System,
    relay: TcpRelay,
    new_customer: Callable[..., EdgeClient],
    client_for: Callable[..., EdgeClient],
) -> None:
    client = new_customer(3)
    customer = demo_customer(3)
    editor = client_for()
    editor.login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)
    balance = client.balance(customer)["balanceFen"]
    assert client.payments(customer)["payments"] == []
    assert _outlet_names(editor) == []

    relay.cut()  # the audit log is down for the services
    try:
        # The edge still knows the session (cached); the services refuse to act.
        outlet = _refused(
            lambda: editor.send(
                "POST", "/v1/outlets", body=OUTLET, headers={"X-Request-Id": "audit-down-1"}
            )
        )
        payment = _refused(lambda: client.pay(customer, 500, "PAYMENT_CHANNEL_WECHAT_PAY"))
    finally:
        relay.restore()
    # Refused by the services themselves (the edge words 503s for the phone).
    assert (outlet.status, outlet.reason, outlet.domain) == (
        503,
        "UPSTREAM_UNAVAILABLE",
        "care.palmgrid",
    )
    assert (payment.status, payment.reason, payment.domain) == (
        503,
        "UPSTREAM_UNAVAILABLE",
        "billing.palmgrid",
    )

    # Nothing changed: no outlet, no payment, the same balance.
    assert _outlet_names(editor) == []
    assert client.payments(customer)["payments"] == []
    assert client.balance(customer)["balanceFen"] == balance
    # The refusal itself was not lost: its record reaches the log once it is back.
    deadline = time.monotonic() + 15
    while not (found := _records(system, "audit-down-1")):
        assert time.monotonic() < deadline, "the refusal's record never reached the log"
        time.sleep(0.2)
    [record] = found
    assert record.action == "/palmgrid.care.v1.CareService/CreateOutlet"  # type: ignore[attr-defined]
    assert record.code == grpc.StatusCode.UNAVAILABLE.value[0]  # type: ignore[attr-defined]
    assert record.recorder == "serviceAccounts/care"  # type: ignore[attr-defined]

    # With the log back, the same change goes through and is recorded.
    made = editor.send("POST", "/v1/outlets", body=OUTLET).json
    assert _outlet_names(editor) == [OUTLET["displayName"]]
    assert made["name"].startswith("outlets/")
