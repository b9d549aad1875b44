"""Least privilege between processes (issue 16, finding 5), on the running system: each
process's certificate holds only its row of the service-account table, and each
identity assertion is for one service and one calling process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from clients.edge_client import EdgeClient
from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as internal_grpc
from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_internal_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_internal_grpc
from palmgrid.care.v1 import care_service_pb2, care_service_pb2_grpc
from servers.runtime.identity import METADATA_KEY
from tests.e2e.conftest import demo_customer
from tests.e2e.system import System


def channel_as(system: System, service: str, account: str) -> grpc.Channel:
    """A channel to `service` presenting `account`'s certificate, as that process does."""
    credentials = system.settings.client_credentials(account)
    assert credentials is not None
    return grpc.secure_channel(system.services[service].target, credentials)


def refusal(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_a_service_calling_a_method_outside_its_row_is_refused(system: System) -> None:
    customer = f"customers/{demo_customer(1)}"
    with channel_as(system, "billing", "care") as channel:
        stub = billing_internal_grpc.BillingInternalServiceStub(channel)
        # In care's row: the supply office of a customer, for routing feedback.
        found = stub.BatchGetCustomers(
            billing_internal_pb.BatchGetCustomersRequest(names=[customer]), timeout=5
        )
        assert [c.name for c in found.customers] == [customer]
        # Not in care's row: verifying bindings is the account service's business.
        error = refusal(
            lambda: stub.VerifyCustomerBinding(
                billing_internal_pb.VerifyCustomerBindingRequest(name=customer),
                timeout=5,
            )
        )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "billing.customers.verifyBinding" in (error.details() or "")
    # The worker, whose certificate used to hold everything, cannot upsert customers.
    with channel_as(system, "billing", "worker") as channel:
        stub = billing_internal_grpc.BillingInternalServiceStub(channel)
        error = refusal(
            lambda: stub.BatchUpsertCustomers(
                billing_internal_pb.BatchUpsertCustomersRequest(), timeout=5
            )
        )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def _assertions(system: System, client: EdgeClient) -> Any:
    """What the account service gives the edge for the client's session."""
    with channel_as(system, "account", "edge") as channel:
        stub = internal_grpc.AccountInternalServiceStub(channel)
        return stub.AuthenticateSession(
            internal_pb.AuthenticateSessionRequest(token=client.token or ""), timeout=5
        ).service_assertions


def _list_feedback(channel: grpc.Channel, assertion: Any) -> Any:
    return care_service_pb2_grpc.CareServiceStub(channel).ListFeedback(
        care_service_pb2.ListFeedbackRequest(),
        metadata=((METADATA_KEY, assertion.SerializeToString()),),
        timeout=5,
    )


def test_an_assertion_minted_for_billing_is_refused_by_care(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    client = new_customer(2)
    # Through the edge, each service gets the assertion minted for it.
    assert client.balance(demo_customer(2))["balanceFen"]
    assert client.send("GET", "/v1/feedback").json["feedback"] == []
    assertions = _assertions(system, client)
    with channel_as(system, "care", "edge") as channel:
        assert _list_feedback(channel, assertions["care"]).feedback == []
        error = refusal(lambda: _list_feedback(channel, assertions["billing"]))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "another audience" in (error.details() or "")


def test_an_assertion_replayed_by_another_process_is_refused(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    client = new_customer()
    for_care = _assertions(system, client)["care"]
    # The edge's assertion for care, presented by billing's certificate.
    with channel_as(system, "care", "billing") as channel:
        error = refusal(lambda: _list_feedback(channel, for_care))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "another caller" in (error.details() or "")
