"""Data the marketing system pushes through ingest, seen through the edge: a pushed
batch with a bad record lands its good records, and the affected customer's cached
reads are fresh on the very next request."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from clients.edge_client import EdgeClient
from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as internal_grpc
from palmgrid.billing.v1 import payment_pb2
from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from servers.runtime.protoconv import timestamp
from tests.e2e.conftest import demo_customer
from tests.e2e.system import System

NewCustomer = Callable[..., EdgeClient]


def channel_as(system: System, service: str, account: str) -> grpc.Channel:
    """A channel to `service` holding `account`'s client certificate."""
    credentials = system.settings.client_credentials(account)
    assert credentials is not None
    return grpc.secure_channel(system.services[service].target, credentials)


def test_a_pushed_change_is_fresh_on_the_next_read_through_the_edge(
    system: System, new_customer: NewCustomer
) -> None:
    customer = demo_customer(4)
    client = new_customer(4)
    before = client.balance_reply(customer)
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    address_before = client.customer(customer)["address"]
    # The archive record as billing has it, changed the way the marketing system would.
    with channel_as(system, "billing", "ingest") as channel:
        record = (
            internal_grpc.BillingInternalServiceStub(channel)
            .BatchGetCustomers(
                internal_pb.BatchGetCustomersRequest(names=[f"customers/{customer}"])
            )
            .customers[0]
        )
    record.address = "曲靖市麒麟区推送新址9号"
    record.source_update_time.CopyFrom(timestamp(datetime.now(UTC)))
    bad = type(record)()
    bad.CopyFrom(record)
    bad.name = f"customers/{demo_customer(5)}"
    bad.area_code = "not-an-area"
    paid = payment_pb2.Payment(
        name=f"customers/{customer}/payments/{uuid.uuid4().hex[:16]}",
        amount_fen=4_321,
        channel=payment_pb2.PAYMENT_CHANNEL_COUNTER,
        provider_order_id="R20261206",
        complete_time=timestamp(datetime.now(UTC)),
    )
    with channel_as(system, "ingest", "marketing") as channel:
        stub = ingest_grpc.IngestServiceStub(channel)
        changes = stub.PushCustomerChanges(
            ingest_pb.PushCustomerChangesRequest(
                customers=[record, bad], request_id=str(uuid.uuid4())
            )
        )
        payments = stub.PushPayments(
            ingest_pb.PushPaymentsRequest(payments=[paid], request_id=str(uuid.uuid4()))
        )
        assert (changes.updated_count, changes.quarantined_count) == (1, 1)
        assert payments.created_count == 1

        after = client.balance_reply(customer)
        assert after.headers["x-cache"] == "MISS"
        grown = int(after.json["balanceFen"]) - int(before.json["balanceFen"])
        assert grown == 4_321
        shown = client.customer(customer)["address"]
        assert shown != address_before and "推送新址" in shown

        # The same batch again changes nothing: the cached read stays a hit.
        again = stub.PushCustomerChanges(
            ingest_pb.PushCustomerChangesRequest(
                customers=[record, bad], request_id=str(uuid.uuid4())
            )
        )
        assert (again.updated_count, again.unchanged_count) == (0, 1)
        assert client.balance_reply(customer).headers["x-cache"] == "HIT"
