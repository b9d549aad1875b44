"""The audit log: what is recorded, nothing secret in it, append-only, tamper-evident
(the chain check finds an edited record, over gRPC and from the command line), and
records from other services through AuditClient."""

from __future__ import annotations

import contextvars
import time
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from palmgrid.account.v1 import account_admin_service_pb2 as admin_service_pb
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.billing.v1 import billing_admin_service_pb2, billing_admin_service_pb2_grpc
from servers.account import verify_audit
from servers.runtime import calls
from servers.runtime.audit import AuditClient, sanitize_details
from tests.account import services
from tests.account.conftest import DEV_PASSWORD, GOOD_PASSWORD, Account, channel_as, fails

LOGIN = "/palmgrid.account.v1.AccountService/CreateSession"


def records(account: Account, **filters: str) -> list:  # type: ignore[type-arg]
    admin = account.signed_in("admin", DEV_PASSWORD)
    return list(
        account.admin_stub.ListAuditRecords(
            system_pb.ListAuditRecordsRequest(page_size=1000, **filters), metadata=admin
        ).audit_records
    )


def verify(account: Account) -> system_pb.VerifyAuditChainResponse:
    admin = account.signed_in("admin", DEV_PASSWORD)
    return account.admin_stub.VerifyAuditChain(system_pb.VerifyAuditChainRequest(), metadata=admin)


def test_logins_logouts_displacements_and_lockouts_are_recorded(account_any_db: Account) -> None:
    account = account_any_db
    account.register("audited")
    first = account.login("audited")
    second = account.login("audited", metadata=(("x-request-id", "req-42"),))
    account.public.DeleteSession(
        account_service_pb2.DeleteSessionRequest(name="sessions/current"),
        metadata=account.metadata(second.token),
    )
    for _ in range(5):
        fails(lambda: account.login("audited", "Wrong-pass-1!"))
    fails(lambda: account.login("nosuchuser", "Wrong-pass-1!"))
    logins = [
        r for r in records(account, action=LOGIN) if r.actor_username in ("audited", "nosuchuser")
    ]
    events = [(r.error_reason, r.details.get("event", "")) for r in reversed(logins)]
    assert events == [
        ("", ""),  # first login
        ("", ""),  # second login
        ("SESSION_DISPLACED", "session.displaced"),
        *[("INVALID_CREDENTIALS", "")] * 5,
        ("ACCOUNT_LOCKED", "account.locked"),
        ("INVALID_CREDENTIALS", ""),  # the unknown username
    ]
    second_login = next(
        r for r in logins if r.resource == second.session.name and not r.error_reason
    )
    assert second_login.request_id == "req-42"
    assert second_login.client_ip == "127.0.0.1"
    assert second_login.actor.startswith("users/")
    assert second_login.event_time.ToDatetime()
    displaced = next(r for r in logins if r.error_reason == "SESSION_DISPLACED")
    assert displaced.resource == first.session.name
    logout = records(account, action="/palmgrid.account.v1.AccountService/DeleteSession")
    assert [r.resource for r in logout] == [second.session.name]
    assert verify(account).valid


def test_admin_actions_and_denials_are_recorded(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.register("promoted")
    user = account.authenticate(account.login("promoted").token).principal.user
    account.admin_stub.GrantRole(
        admin_service_pb.GrantRoleRequest(name=user, role="roles/agent"), metadata=admin
    )
    granted = records(account, action="/palmgrid.account.v1.AccountAdminService/GrantRole")
    assert [(r.resource, r.details["role"], r.actor_username) for r in granted] == [
        (user, "roles/agent", "admin")
    ]
    customer = account.customer("curious")
    fails(
        lambda: account.public.GetUser(
            account_service_pb2.GetUserRequest(name=user), metadata=customer
        )
    )
    denied = records(account, action="/palmgrid.account.v1.AccountService/GetUser")
    assert [(r.code, r.error_reason, r.resource) for r in denied] == [
        (grpc.StatusCode.PERMISSION_DENIED.value[0], "OUT_OF_SCOPE", user)
    ]


def test_nothing_secret_is_recorded(account: Account) -> None:
    account.register("secretive", phone="13812345678")
    token = account.login("secretive").token
    fails(lambda: account.login("secretive", "Wrong-but-close-9!"))
    everything = "".join(str(r) for r in records(account))
    for secret in (GOOD_PASSWORD, "Wrong-but-close-9!", token, "13812345678", "PALM7"):
        assert secret not in everything
    assert sanitize_details(
        {
            "password": "x",
            "newPassword": "y",
            "captchaAnswer": "z",
            "phone": "13812345678",
            "idNumber": "110101199003074578",
            "amountFen": "500",
        }
    ) == {"amountFen": "500", "idNumber": "110101********4578", "phone": "138****5678"}


def test_records_are_append_only(account_any_db: Account) -> None:
    account = account_any_db
    account.register("appender")
    with account.runtime.engine.connect() as connection, pytest.raises(DBAPIError):
        connection.execute(text("UPDATE account_audit_records SET resource = 'x'"))
    with account.runtime.engine.connect() as connection, pytest.raises(DBAPIError):
        connection.execute(text("DELETE FROM account_audit_records"))


def _tamper(account: Account, sql: str) -> None:
    """Edit the log around its triggers, as someone owning the database could."""
    sqlite = account.runtime.engine.dialect.name == "sqlite"
    with account.runtime.engine.begin() as connection:
        if sqlite:
            connection.execute(text("DROP TRIGGER account_audit_records_no_update"))
            connection.execute(text("DROP TRIGGER account_audit_records_no_delete"))
        else:
            connection.execute(text("ALTER TABLE account_audit_records DISABLE TRIGGER USER"))
        connection.execute(text(sql))


def test_chain_verification_finds_an_edited_record(
    account_any_db: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account = account_any_db
    account.register("tamperee")
    for _ in range(3):
        account.login("tamperee")
    assert verify(account).valid
    url = account.settings.account_database_url
    assert verify_audit.main(["--database-url", str(url)]) == 0
    _tamper(
        account,
        "UPDATE account_audit_records SET actor_username = 'someoneelse' WHERE sequence = 3",
    )
    result = verify(account)
    assert not result.valid
    assert result.first_invalid_record == "auditRecords/3"
    assert "hash mismatch" in result.problem
    assert result.verified_count == 2
    assert verify_audit.main(["--database-url", str(url)]) == 1
    assert "auditRecords/3" in capsys.readouterr().err


def test_chain_verification_finds_a_removed_record(account: Account) -> None:
    account.register("tamperee")
    account.login("tamperee")
    _tamper(account, "DELETE FROM account_audit_records WHERE sequence = 2")
    result = verify(account)
    assert not result.valid
    assert result.first_invalid_record == "auditRecords/2"
    assert result.problem == "missing record"


def test_other_services_append_through_the_audit_client(account: Account) -> None:
    client = AuditClient(account.channel("billing"))

    def write() -> object:
        calls.bind_call(
            calls.CallInfo(
                request_id="pay-1", method="/palmgrid.billing.v1.BillingService/CreatePayment"
            )
        )
        return client.record(
            resource="customers/3100000001/payments/p1",
            details={"amountFen": "500", "password": "never"},
            client_ip="198.51.100.7",
        )

    written = contextvars.copy_context().run(write)
    assert written.recorder == "serviceAccounts/billing"  # type: ignore[attr-defined]
    found = records(account, resource="customers/3100000001")
    assert len(found) == 1
    record = found[0]
    assert record.action == "/palmgrid.billing.v1.BillingService/CreatePayment"
    assert record.request_id == "pay-1"
    assert dict(record.details) == {"amountFen": "500"}
    assert verify(account).valid


def test_callers_without_the_permission_may_not_write_audit_records(account: Account) -> None:
    client = AuditClient(account.channel("cli"))
    error = fails(lambda: client.record(action="/x.y.Z/W"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_audit_records_can_be_filtered_and_fetched(account: Account) -> None:
    account.register("findme")
    account.login("findme")
    newest = records(account)
    admin = account.signed_in("admin", DEV_PASSWORD)
    one = account.admin_stub.GetAuditRecord(
        system_pb.GetAuditRecordRequest(name=newest[-1].name), metadata=admin
    )
    assert one.sequence == 1 and one.previous_hash == bytes(32)
    by_service = records(account, action="/palmgrid.account.v1.AccountService/")
    assert {r.action.rsplit("/", 1)[1] for r in by_service} >= {"CreateUser", "CreateSession"}


def test_refusals_in_other_services_reach_the_audit_log(account: Account, tmp_path: Path) -> None:
    """The runtime refuses a permission before any servicer runs; the refusal is still
    written to the audit log, with the actor, the method and the reason."""
    settings = account.settings.model_copy(
        update={
            "account_target": f"127.0.0.1:{account.port}",
            "billing_database_url": f"sqlite:///{tmp_path / 'billing.db'}",
        }
    )
    billing = services.start("billing", settings)
    try:
        customer = account.customer("refusedcustomer", service="billing")
        stub = billing_admin_service_pb2_grpc.BillingAdminServiceStub(
            channel_as(settings, billing.port, "cli")
        )
        refused = fails(
            lambda: stub.ListCustomers(
                billing_admin_service_pb2.ListCustomersRequest(), metadata=customer
            )
        )
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
        action = "/palmgrid.billing.v1.BillingAdminService/ListCustomers"
        deadline = time.monotonic() + 10
        found: list = []  # type: ignore[type-arg]
        while not found and time.monotonic() < deadline:
            found = [r for r in records(account, action=action) if r.error_reason]
            time.sleep(0.05)
        assert [(r.actor_username, r.error_reason) for r in found] == [
            ("refusedcustomer", "PERMISSION_DENIED")
        ]
        assert verify(account).valid
    finally:
        services.stop(billing)
