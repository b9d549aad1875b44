"""Customer bindings (户号) in the account service: at most five per user, billing asked
whether a customer can be bound; and the scope that follows: a customer reaches only
bound customers. Binding by the code sent to the registered phone, its limits and its
notices are tested through the real edge (tests/e2e/test_binding_possession.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.billing.v1 import (
    billing_internal_service_pb2,
    billing_internal_service_pb2_grpc,
    billing_service_pb2,
    billing_service_pb2_grpc,
)
from palmgrid.billing.v1 import resources_pb2 as billing_resources
from servers.account import models as account_models
from tests.account import services
from tests.account.conftest import (
    CAPTCHA,
    Account,
    StartAccount,
    base_settings,
    channel_as,
    error_reason,
    fails,
)

SUPPLY_OFFICE = "QJ-QL"


def customer_record(number: int) -> billing_resources.Customer:
    record = billing_resources.Customer(
        name=f"customers/{3100000000 + number}",
        holder_name="张三明",
        registered_phone=f"1380000{number:04d}",
        address="1 Example Road",
        supply_office=SUPPLY_OFFICE if number % 2 else "QJ-ZY",
        area_code=f"A{(number - 1) % 10 + 1:02d}",
        tariff="tariffs/residential-tiered",
        billing_mode=billing_resources.BILLING_MODE_PREPAID,
        state=billing_resources.CUSTOMER_STATE_ACTIVE,
    )
    record.source_update_time.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    return record


@pytest.fixture
def billing(data_dir: Path, tmp_path: Path) -> Iterator[services.Running]:
    settings = base_settings(
        data_dir, "", billing_database_url=services.database_url(tmp_path, "billing")
    )
    running = services.start("billing", settings)
    with channel_as(settings, running.port, "ingest") as channel:
        stub = billing_internal_service_pb2_grpc.BillingInternalServiceStub(channel)
        stub.BatchUpsertCustomers(
            billing_internal_service_pb2.BatchUpsertCustomersRequest(
                customers=[customer_record(n) for n in range(1, 11)], request_id=str(uuid.uuid4())
            )
        )
    yield running
    services.stop(running)


@pytest.fixture
def bound_account(start_account: StartAccount, billing: services.Running) -> Account:
    return start_account(billing_target=billing.target)


def user_id_of(account: Account, metadata: object) -> str:
    user: account_pb.User = account.public.GetUser(
        account_service_pb2.GetUserRequest(name="users/me"), metadata=metadata
    )
    return user.name.removeprefix("users/")


def bind(account: Account, metadata: object, number: int) -> None:
    """Bind demo customer `number` as a verified code would (the code itself is the
    e2e tests' business)."""
    with account.runtime.session(write=True) as session:
        session.add(
            account_models.CustomerBinding(
                user_id=user_id_of(account, metadata),
                customer=f"customers/{3100000000 + number}",
                supply_office=customer_record(number).supply_office,
                create_time=account.clock.now(),
            )
        )


def send_code(account: Account, metadata: object, number: int) -> None:
    account.public.SendCustomerBindingCode(
        requests_pb.SendCustomerBindingCodeRequest(
            parent="users/me",
            customer=f"customers/{3100000000 + number}",
            captcha=account.captcha(),
            captcha_answer=CAPTCHA,
        ),
        metadata=metadata,
    )


def test_at_most_five_bindings(bound_account: Account) -> None:
    metadata = bound_account.customer("binderc")
    for number in range(1, 6):
        bind(bound_account, metadata, number)
    error = fails(lambda: send_code(bound_account, metadata, 6))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(error) == "QUOTA_EXCEEDED"
    bound_account.public.DeleteCustomerBinding(
        requests_pb.DeleteCustomerBindingRequest(name="users/me/customerBindings/3100000001"),
        metadata=metadata,
    )
    bind(bound_account, metadata, 6)
    listed = bound_account.public.ListCustomerBindings(
        requests_pb.ListCustomerBindingsRequest(parent="users/me"), metadata=metadata
    ).customer_bindings
    assert [b.customer[-1] for b in listed] == ["2", "3", "4", "5", "6"]


def test_bound_customers_reach_the_assertion_and_only_they_pass_billing_scope(
    bound_account: Account, billing: services.Running
) -> None:
    metadata = bound_account.customer("ownera")
    bind(bound_account, metadata, 5)
    token_metadata = bound_account.signed_in("ownera")
    principal = bound_account.authenticate(bound_account.login("ownera").token).principal
    assert list(principal.customers) == ["customers/3100000005"]
    with channel_as(bound_account.settings, billing.port, "cli") as channel:
        stub = billing_service_pb2_grpc.BillingServiceStub(channel)
        fresh = bound_account.signed_in("ownera", service="billing")
        own = stub.GetCustomer(
            billing_service_pb2.GetCustomerRequest(name="customers/3100000005"), metadata=fresh
        )
        assert own.name == "customers/3100000005"
        other = fails(
            lambda: stub.GetCustomer(
                billing_service_pb2.GetCustomerRequest(name="customers/3100000007"), metadata=fresh
            )
        )
        assert other.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_reason(other) == "OUT_OF_SCOPE"
    del token_metadata


def test_staff_reach_only_customers_of_their_supply_offices(
    bound_account: Account, billing: services.Running
) -> None:
    # The demo agent covers QJ-QL: odd customer numbers in this archive.
    agent = bound_account.signed_in("agent", "Palm-dev-2026!", "billing")
    with channel_as(bound_account.settings, billing.port, "cli") as channel:
        stub = billing_service_pb2_grpc.BillingServiceStub(channel)
        inside = stub.GetCustomer(
            billing_service_pb2.GetCustomerRequest(name="customers/3100000003"), metadata=agent
        )
        assert inside.supply_office == SUPPLY_OFFICE
        outside = fails(
            lambda: stub.GetCustomer(
                billing_service_pb2.GetCustomerRequest(name="customers/3100000004"), metadata=agent
            )
        )
        assert error_reason(outside) == "OUT_OF_SCOPE"
        admin = bound_account.signed_in("admin", "Palm-dev-2026!", "billing")
        assert stub.GetCustomer(
            billing_service_pb2.GetCustomerRequest(name="customers/3100000004"), metadata=admin
        ).name


def test_billing_down_is_unavailable_not_a_failed_verification(start_account: StartAccount) -> None:
    account = start_account(billing_target="127.0.0.1:1")
    metadata = account.customer("patience")
    error = fails(lambda: send_code(account, metadata, 3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_an_unknown_customer_is_answered_alike_and_keeps_no_code(bound_account: Account) -> None:
    metadata = bound_account.customer("binderu")
    send_code(bound_account, metadata, 999)
    with bound_account.runtime.session() as session:
        assert (
            session.get(
                account_models.BindingCode,
                (user_id_of(bound_account, metadata), "customers/3100000999"),
            )
            is None
        )
    error = fails(
        lambda: bound_account.public.CreateCustomerBinding(
            requests_pb.CreateCustomerBindingRequest(
                parent="users/me",
                customer_binding=account_pb.CustomerBinding(
                    customer="customers/3100000999", verification="123456"
                ),
            ),
            metadata=metadata,
        )
    )
    assert error_reason(error) == "VERIFICATION_FAILED"
