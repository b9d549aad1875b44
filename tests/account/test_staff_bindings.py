"""Binding on staff's word (AccountAdminService.VerifyCustomerBinding), over real gRPC
with real billing and notification services: a staff member binds customers of their
supply offices only, with the limits and notices of a binding by code; and the
users-per-customer cap holds when bindings of one customer commit at once (on SQLite
and PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from sqlmodel import col, select

from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.billing.v1 import billing_internal_service_pb2, billing_internal_service_pb2_grpc
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from servers.account import models as account_models
from servers.account.config import AccountConfig, pepper_path
from servers.account.passwords import load_pepper
from servers.account.service import make_spec as account_spec
from servers.notification.service import make_spec as notification_spec
from servers.runtime import SettableClock, build_server
from servers.runtime.identity import ensure_key_pair
from tests.account import services
from tests.account.conftest import (
    DEV_PASSWORD,
    FAST_ARGON2,
    GOOD_PASSWORD,
    START,
    Account,
    base_settings,
    channel_as,
    error_reason,
    fails,
)
from tests.account.test_bindings import customer_record
from tests.conftest import module_database
from tests.notification.sandbox_process import free_port
from tests.notification.support import TESTER_ACCOUNTS, Notification, fast_config
from tests.tester import ensure_pki_with_tester

CAP = 2
IN_SCOPE = 1  # customer_record: odd numbers are in QJ-QL, even ones in QJ-ZY
OUT_OF_SCOPE = 2
PHONELESS = 11
CONTENDED = 3
DOCUMENT_NUMBER = "53030219800101123X"
EVIDENCE = admin_pb.BindingEvidence(
    document_type=admin_pb.IDENTITY_DOCUMENT_TYPE_RESIDENT_ID_CARD,
    note="holder in person",
    document_number=DOCUMENT_NUMBER,
)
STAFF_DAILY = 20


@dataclass
class System:
    account: Account
    notification: Notification
    agent: tuple[tuple[str, bytes], ...]


def _customers() -> list:
    records = [customer_record(n) for n in range(1, 11)]
    phoneless = customer_record(PHONELESS)
    phoneless.registered_phone = ""
    return [*records, phoneless]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    directory = tmp_path_factory.mktemp("staff-bindings")
    ensure_pki_with_tester(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    shared = base_settings(directory, "", service_accounts=TESTER_ACCOUNTS)
    billing = services.start(
        "billing",
        shared.model_copy(
            update={"billing_database_url": services.database_url(directory, "billing")}
        ),
    )
    with channel_as(shared, billing.port, "ingest") as channel:
        billing_internal_service_pb2_grpc.BillingInternalServiceStub(channel).BatchUpsertCustomers(
            billing_internal_service_pb2.BatchUpsertCustomersRequest(
                customers=_customers(), request_id=str(uuid.uuid4())
            )
        )
    clock = SettableClock(START)
    # Account queues notices through notification, which asks account for the users'
    # addresses: notification's port is chosen first.
    notification_target = f"127.0.0.1:{free_port()}"
    with module_database(request, tmp_path_factory, "account") as url:
        settings = shared.model_copy(
            update={
                "account_database_url": url,
                "billing_target": billing.target,
                "notification_target": notification_target,
            }
        )
        config = AccountConfig(
            **{
                **FAST_ARGON2.model_dump(),
                "binding_users_per_customer": CAP,
                "binding_verifications_per_staff": STAFF_DAILY,
            }
        )
        server, account_port, account_runtime = build_server(
            account_spec(clock=clock, config=config), settings, address="127.0.0.1:0"
        )
        server.start()
        account = Account(server, account_port, account_runtime, settings, clock)
        notification_settings = shared.model_copy(
            update={
                "notification_database_url": services.database_url(directory, "notification"),
                "account_target": f"127.0.0.1:{account_port}",
            }
        )
        server, port, runtime = build_server(
            notification_spec(clock=clock, config=fast_config("http://127.0.0.1:9")),
            notification_settings,
            address=notification_target,
        )
        server.start()
        notification = Notification(server, port, runtime, clock, settings=notification_settings)
        yield System(account, notification, _new_agent(account, "counteragent"))
        notification.close()
        account.close()
    services.stop(billing)


def _new_agent(account: Account, username: str) -> tuple[tuple[str, bytes], ...]:
    """A new agent of 麒麟 (QJ-QL), signed in (its temporary password changed)."""
    account.admin_stub.CreateStaffUser(
        admin_pb.CreateStaffUserRequest(
            user=account_pb.User(username=username),
            roles=["roles/agent"],
            supply_office_coverage=account_pb.SUPPLY_OFFICE_COVERAGE_LISTED,
            supply_offices=["QJ-QL"],
            temporary_password="Temp-pass-01!",
        ),
        metadata=account.signed_in("admin", DEV_PASSWORD),
    )
    # Until the temporary password is changed, the session may do nothing else.
    account.public.ChangePassword(
        account_service_pb2.ChangePasswordRequest(
            name="users/me", password="Temp-pass-01!", new_password=GOOD_PASSWORD
        ),
        metadata=account.signed_in(username, "Temp-pass-01!"),
    )
    return account.signed_in(username)


def _customer_user(system: System, username: str) -> str:
    return str(system.account.register(username).name)


def _verify(
    system: System, user: str, number: int, *, agent: object = None, **kwargs: object
) -> account_pb.CustomerBinding:
    return system.account.admin_stub.VerifyCustomerBinding(
        admin_pb.VerifyCustomerBindingRequest(
            parent=user, customer=f"customers/{3100000000 + number}", evidence=EVIDENCE, **kwargs
        ),
        metadata=agent or system.agent,
    )


def _notices(system: System, number: int) -> list:
    reply = system.notification.stub().ListMessages(
        notification_pb.ListMessagesRequest(sender="serviceAccounts/account", page_size=1000)
    )
    return [
        m
        for m in reply.messages
        if m.template == "binding.created" and m.parameters["customer"] == str(3100000000 + number)
    ]


def test_staff_bind_a_customer_of_their_office_and_those_bound_are_told(system: System) -> None:
    first = _customer_user(system, "counterfirst")
    second = _customer_user(system, "countersecond")
    request_id = str(uuid.uuid4())
    made = _verify(system, first, IN_SCOPE, request_id=request_id)
    assert made.name == f"{first}/customerBindings/{3100000000 + IN_SCOPE}"
    assert _verify(system, first, IN_SCOPE, request_id=request_id).name == made.name
    _verify(system, second, IN_SCOPE)
    notices = _notices(system, IN_SCOPE)
    # Each binding texts the registered phone; the second also tells the first user.
    assert sorted((list(m.channels), list(m.users)) for m in notices) == [
        ([account_pb.DELIVERY_CHANNEL_IN_APP], [first]),
        ([account_pb.DELIVERY_CHANNEL_SMS], []),
        ([account_pb.DELIVERY_CHANNEL_SMS], []),
    ]
    listed = system.account.public.ListCustomerBindings(
        requests_pb.ListCustomerBindingsRequest(parent="users/me"),
        metadata=system.account.signed_in("countersecond"),
    ).customer_bindings
    assert [b.customer for b in listed] == [f"customers/{3100000000 + IN_SCOPE}"]


def test_a_customer_without_a_phone_is_bound_at_the_counter(system: System) -> None:
    user = _customer_user(system, "counterphoneless")
    _verify(system, user, PHONELESS)
    # Nobody else bound and no phone to text: nothing to tell.
    assert _notices(system, PHONELESS) == []


def test_a_customer_outside_the_staff_offices_is_refused(system: System) -> None:
    user = _customer_user(system, "counterfar")
    error = fails(lambda: _verify(system, user, OUT_OF_SCOPE))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "OUT_OF_SCOPE"
    assert _notices(system, OUT_OF_SCOPE) == []


def test_a_user_bound_outside_the_staff_offices_is_not_bound_by_them(system: System) -> None:
    # Bound to a QJ-ZY customer: binding them to a QJ-QL one would make them, their
    # sessions and inbox readable to a QJ-QL agent.
    user = _customer_user(system, "counterelsewhere")
    with system.account.runtime.session(write=True) as session:
        session.add(
            account_models.CustomerBinding(
                user_id=user.removeprefix("users/"),
                customer=f"customers/{3100000000 + OUT_OF_SCOPE}",
                supply_office=customer_record(OUT_OF_SCOPE).supply_office,
                create_time=system.account.clock.now(),
            )
        )
    error = fails(lambda: _verify(system, user, IN_SCOPE + 4))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "OUT_OF_SCOPE"
    assert _notices(system, IN_SCOPE + 4) == []


def test_the_users_per_customer_cap_holds_under_concurrent_bindings(system: System) -> None:
    users = [_customer_user(system, f"contender{letter}") for letter in "abcdef"]

    def attempt(user: str) -> str:
        try:
            _verify(system, user, CONTENDED)
        except grpc.RpcError as error:
            return error_reason(error)
        return "BOUND"

    with ThreadPoolExecutor(len(users)) as pool:
        outcomes = list(pool.map(attempt, users))
    assert sorted(outcomes) == ["BOUND"] * CAP + ["QUOTA_EXCEEDED"] * (len(users) - CAP)
    with system.account.runtime.session() as session:
        from servers.account import bindings

        assert len(bindings.bound_users(session, f"customers/{3100000000 + CONTENDED}")) == CAP


def test_the_audit_record_keeps_a_keyed_hash_of_the_document_never_its_number(
    system: System,
) -> None:
    user = _customer_user(system, "counterdocument")
    made = _verify(system, user, 5)
    with system.account.runtime.session() as session:
        records = session.exec(
            select(account_models.AuditRecord).where(
                col(account_models.AuditRecord.resource) == made.name
            )
        ).all()
    assert len(records) == 1
    details = dict(records[0].details)
    pepper_hash = hmac.new(
        load_pepper(pepper_path(AccountConfig(), system.account.settings.data_dir), create=False),
        f"identity-document\x00{DOCUMENT_NUMBER}".encode(),
        hashlib.sha256,
    ).hexdigest()
    assert details["documentDigest"] == pepper_hash
    assert DOCUMENT_NUMBER not in repr(records[0].model_dump())


def test_a_staff_member_binds_at_most_so_many_customers_a_day(system: System) -> None:
    busy = _new_agent(system.account, "busycounter")
    user = _customer_user(system, "counterlimited")
    # Refused bindings (a customer outside the office) count as well.
    for _ in range(STAFF_DAILY):
        refused = fails(lambda: _verify(system, user, OUT_OF_SCOPE, agent=busy))
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    limited = fails(lambda: _verify(system, user, 7, agent=busy))
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(limited) == "RATE_LIMITED"
    # Another staff member is not held by it, and the next day this one may bind again.
    _verify(system, _customer_user(system, "counterother"), 7)
    system.account.clock.advance(timedelta(days=1, minutes=1))
    busy = system.account.signed_in("busycounter")  # yesterday's session has lapsed
    assert _verify(system, user, 9, agent=busy).customer == f"customers/{3100000000 + 9}"
