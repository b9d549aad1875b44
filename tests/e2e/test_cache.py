"""The edge's Memcached cache against the real billing service: hits after misses,
one upstream call for many concurrent misses, per-customer isolation, and fresh reads
after a payment and after an import."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import grpc
import pytest

from cachetags import CachePool, EntryStore, TagInvalidator, entry_key
from clients.edge_client import EdgeClient
from clients.edge_errors import PermissionDenied
from palmgrid.billing.v1 import (
    billing_internal_service_pb2,
    billing_internal_service_pb2_grpc,
    billing_service_pb2,
    payment_pb2,
)
from tests.e2e.binding_codes import bind
from tests.e2e.conftest import demo_customer, paid_in
from tests.e2e.system import System

NewCustomer = Callable[..., EdgeClient]
TARIFF = "/v1/tariffs/residential-tiered"
GET_TARIFF = "palmgrid.billing.v1.BillingService.GetTariff"


def test_a_read_is_a_hit_after_a_miss_and_billing_is_asked_once(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer(7)
    calls = system.billing_calls["ListMonthlyUsage"]
    first = client.monthly_usage_reply(demo_customer(7))
    second = client.monthly_usage_reply(demo_customer(7))
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.json == second.json and len(first.json["monthlyUsage"]) > 0
    assert system.billing_calls["ListMonthlyUsage"] == calls + 1
    # Another request (another page size) is another entry.
    assert client.monthly_usage_reply(demo_customer(7), pageSize=3).headers["x-cache"] == "MISS"


def test_a_hit_for_a_session_the_edge_holds_costs_one_memcached_round_trip(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer(13)
    time.sleep(1.1)  # past the login's own revocation mark, so the session record is usable
    client.monthly_usage(demo_customer(13))  # the session record and the entry stored
    pool = system.secure.pool
    assert pool is not None
    before = pool.round_trips
    reply = client.monthly_usage_reply(demo_customer(13))
    assert reply.headers["x-cache"] == "HIT"
    # The revocation mark, the entry and its tags' generations in one get_many.
    assert pool.round_trips - before == 1


def test_a_hit_is_the_stored_body_as_the_phone_received_it(
    system: System, client_for: Callable[..., EdgeClient]
) -> None:
    http = client_for().http
    first, second = http.get(TARIFF), http.get(TARIFF)
    assert second.headers["x-cache"] == "HIT"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    request = billing_service_pb2.GetTariffRequest(name="tariffs/residential-tiered")
    key = entry_key(GET_TARIFF, request.SerializeToString(deterministic=True), "global")
    with CachePool([system.memcached.address]) as pool:
        entry = EntryStore(pool).get(key)
    # The entry holds the JSON body itself, served byte for byte on a hit.
    assert entry is not None and entry.json_body and entry.payload == second.content


def test_concurrent_misses_make_one_upstream_call(
    system: System, new_customer: NewCustomer
) -> None:
    clients = [new_customer(8) for _ in range(4)]
    for client in clients:
        client.me()  # sessions checked and connections open before the race
    start = threading.Barrier(len(clients) * 5)
    results: list[str] = []
    calls = system.billing_calls["GetChargeEstimate"]

    def read(client: EdgeClient) -> None:
        start.wait()
        results.append(str(client.charge_estimate(demo_customer(8))))

    threads = [
        threading.Thread(target=read, args=(client,)) for client in clients for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and len(set(results)) == 1
    assert system.billing_calls["GetChargeEstimate"] == calls + 1


def test_users_share_an_entry_only_for_a_customer_both_may_see(
    system: System, new_customer: NewCustomer
) -> None:
    owner, stranger, co_owner = new_customer(9), new_customer(10), new_customer(9)
    assert owner.balance_reply(demo_customer(9)).headers["x-cache"] == "MISS"
    with pytest.raises(PermissionDenied) as refused:
        stranger.balance(demo_customer(9))
    assert refused.value.reason == "OUT_OF_SCOPE"  # billing's own check, not a cached answer
    calls = system.billing_calls["GetBalance"]
    assert co_owner.balance_reply(demo_customer(9)).headers["x-cache"] == "HIT"
    assert system.billing_calls["GetBalance"] == calls


def test_the_next_read_after_a_payment_is_fresh(system: System, new_customer: NewCustomer) -> None:
    client = new_customer(11)
    customer = demo_customer(11)
    before = client.balance(customer)
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    payment = client.pay(customer, 1000, "PAYMENT_CHANNEL_WECHAT_PAY")
    after = client.balance_reply(customer)
    assert after.headers["x-cache"] == "MISS"
    # Pending, or already confirmed when the sandbox was quicker than this read.
    assert paid_in(after.json) == paid_in(before) + 1000
    wait_until_succeeded(client, payment["name"])
    # Billing announces the confirmed payment after its commit, as its change hook does.
    assert TagInvalidator.shared([system.memcached.address]).bump_customers([customer])
    settled = client.balance_reply(customer)
    assert settled.headers["x-cache"] == "MISS"
    assert int(settled.json["balanceFen"]) == int(before["balanceFen"]) + 1000


def test_the_next_read_after_an_import_is_fresh(system: System, new_customer: NewCustomer) -> None:
    client = new_customer(12)
    customer = demo_customer(12)
    before = int(client.balance(customer)["balanceFen"])
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    import_counter_payment(system, customer, 2500)
    # The importing server bumps the customer's tag after its commit.
    assert TagInvalidator.shared([system.memcached.address]).bump_customers([customer])
    fresh = client.balance_reply(customer)
    assert fresh.headers["x-cache"] == "MISS"
    assert int(fresh.json["balanceFen"]) == before + 2500


def test_a_write_that_invalidates_a_user_refreshes_their_session(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer()
    time.sleep(1.1)
    client.me()
    bind(system, client, demo_customer(13))
    # The binding changed the caller's principal: the next call sees the new customer.
    assert client.balance(demo_customer(13))["name"].endswith("/balance")


def wait_until_succeeded(client: EdgeClient, payment: str) -> None:
    deadline = time.monotonic() + 10
    while client.send("GET", f"/v1/{payment}").json["state"] != "PAYMENT_STATE_SUCCEEDED":
        assert time.monotonic() < deadline, "the payment was not confirmed"
        time.sleep(0.1)


def import_counter_payment(system: System, customer: str, amount_fen: int) -> None:
    """What the marketing-system import does: record a payment made at a counter."""
    receipt = uuid.uuid4().hex[:16]
    payment = payment_pb2.Payment(
        name=f"customers/{customer}/payments/{receipt}",
        amount_fen=amount_fen,
        channel=payment_pb2.PAYMENT_CHANNEL_COUNTER,
        provider_order_id=receipt,
    )
    payment.complete_time.GetCurrentTime()
    # Payments made outside the app reach billing through ingest.
    credentials = system.settings.client_credentials("ingest")
    assert credentials is not None
    with grpc.secure_channel(system.services["billing"].target, credentials) as channel:
        stub = billing_internal_service_pb2_grpc.BillingInternalServiceStub(channel)
        reply = stub.BatchRecordExternalPayments(
            billing_internal_service_pb2.BatchRecordExternalPaymentsRequest(
                payments=[payment], request_id=str(uuid.uuid4())
            )
        )
    assert reply.recorded_count == 1


def test_a_hot_global_entry_is_answered_from_the_edges_memory(
    system: System, client_for: Callable[..., EdgeClient]
) -> None:
    http = client_for().http
    first = http.get(TARIFF)
    pool = system.secure.pool
    assert pool is not None
    before, near_before = pool.round_trips, system.secure.cache.stats["near"]
    again = [http.get(TARIFF) for _ in range(5)]
    # Copied when Memcached answered; the next reads inside the near cache's TTL
    # cost no Memcached round trip, and answer the same body and ETag as a hit.
    assert all(reply.headers["x-cache"] == "HIT" for reply in again)
    assert {reply.content for reply in again} == {first.content}
    assert {reply.headers["etag"] for reply in again} == {first.headers["etag"]}
    assert pool.round_trips - before <= 1  # at most the read that made the copy
    assert system.secure.cache.stats["near"] - near_before >= 4


def test_a_bump_made_elsewhere_reaches_the_edges_copy_within_its_ttl(
    system: System, client_for: Callable[..., EdgeClient]
) -> None:
    http = client_for().http
    calls = system.billing_calls["GetTariff"]
    http.get(TARIFF)
    http.get(TARIFF)  # a hit: copied into the near cache
    # Billing bumps `tariffs` in Memcached after a tariff change (not through this edge).
    assert TagInvalidator.shared([system.memcached.address]).bump(["tariffs"])
    time.sleep(system.secure.cache.near.options.ttl)
    fresh = http.get(TARIFF)
    assert fresh.headers["x-cache"] == "MISS"
    assert system.billing_calls["GetTariff"] > calls


@pytest.mark.parametrize(
    ("header", "value", "named"),
    [("Grpc-Timeout", "soon", "Grpc-Timeout"), ("Grpc-Metadata-trace-bin", "a", "trace-bin")],
)
def test_a_request_the_cache_could_answer_is_refused_for_bad_call_headers_all_the_same(
    system: System, client_for: Callable[..., EdgeClient], header: str, value: str, named: str
) -> None:
    http = client_for().http
    http.get(TARIFF)
    assert http.get(TARIFF).headers["x-cache"] == "HIT"
    refused = http.get(TARIFF, headers={header: value})
    # The upstream metadata is built only for a call, but the headers are checked first.
    assert refused.status_code == 400 and named in refused.json()["message"]
    assert http.get(TARIFF, headers={"Grpc-Timeout": "5S"}).headers["x-cache"] == "HIT"
