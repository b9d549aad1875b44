"""From readings to bills over a real server: issue, lines per tier, balance, revision
after a corrected reading, payment settling bills; late fees on overdue bills."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2
from servers.billing.bills import accrue_late_fees
from servers.billing.config import BillingConfig
from servers.billing.daily import run_daily
from servers.billing.ledger import balance_of, post_entry
from servers.billing.models import Bill, Customer, LedgerEntryKind, Meter, MeterReading
from servers.billing.months import Month
from servers.billing.recompute import recompute_customer
from servers.billing.resources import bill_resource
from servers.billing.tariff_catalog import install_tariffs, read_tariff_files
from servers.runtime import CHINA_STANDARD_TIME, SettableClock, session_scope
from tests.billing.core_support import BillingServer, start_billing
from tests.billing.records import customer_record, reading, readings_request, ts, upsert_request

KWH = 1000
CUSTOMER = "3100000001"


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)


def seed_two_months(billing: BillingServer, february_wh: int = 470 * KWH) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record(CUSTOMER)), metadata=billing.service()
    )
    billing.internal.BatchUpsertMeterReadings(
        readings_request(
            reading(CUSTOMER, "M1", "r-2024-01", month_start(2024, 1), 0),
            reading(CUSTOMER, "M1", "r-2024-02", month_start(2024, 2), 170 * KWH),
            reading(CUSTOMER, "M1", "r-2024-03", month_start(2024, 3), february_wh),
        ),
        metadata=billing.service(),
    )


def bills_of(billing: BillingServer) -> list[resources_pb2.Bill]:
    return list(
        billing.billing.ListBills(
            service_pb2.ListBillsRequest(parent=f"customers/{CUSTOMER}"),
            metadata=billing.customer(CUSTOMER),
        ).bills
    )


def test_readings_produce_bills_with_a_line_per_tier(billing: BillingServer) -> None:
    seed_two_months(billing)
    bills = bills_of(billing)
    assert [b.month for b in bills] == ["2024-02", "2024-01"]
    february, january = bills
    assert (january.energy_wh, january.amount_fen) == (170 * KWH, 7_745)
    assert [(line.tier, line.energy_wh) for line in january.lines] == [(1, 170 * KWH)]
    # 300 kWh: 170 at 0.4556, 90 at 0.5056, 40 at 0.7556.
    assert [(line.tier, line.energy_wh, line.amount_fen) for line in february.lines] == [
        (1, 170 * KWH, 7_745),
        (2, 90 * KWH, 4_550),
        (3, 40 * KWH, 3_022),
    ]
    assert february.amount_fen == sum(line.amount_fen for line in february.lines)
    assert february.lines[0].unit_price.value == "0.4556"
    assert february.tariff_version == "tariffs/residential-tiered/versions/2012-07-01"
    assert (february.opening_reading_wh, february.closing_reading_wh) == (170 * KWH, 470 * KWH)
    assert (february.period_start_date.month, february.period_end_date.day) == (2, 29)
    assert february.state == resources_pb2.BILL_STATE_ISSUED
    issued = february.issue_time.ToDatetime(tzinfo=UTC).astimezone(CHINA_STANDARD_TIME).date()
    due = date(february.due_date.year, february.due_date.month, february.due_date.day)
    assert due - issued == timedelta(days=15)
    assert february.outstanding_fen == february.amount_fen
    balance = billing.billing.GetBalance(
        service_pb2.GetBalanceRequest(name=f"customers/{CUSTOMER}/balance"),
        metadata=billing.customer(CUSTOMER),
    )
    assert (balance.balance_fen, balance.arrears_fen) == (0, 7_745 + 15_317)
    one = billing.billing.GetBill(
        service_pb2.GetBillRequest(name=f"customers/{CUSTOMER}/bills/2024-01"),
        metadata=billing.customer(CUSTOMER),
    )
    assert one == january


def test_monthly_usage_carries_energy_and_charge(billing: BillingServer) -> None:
    seed_two_months(billing)
    usage = billing.billing.GetMonthlyUsage(
        service_pb2.GetMonthlyUsageRequest(name=f"customers/{CUSTOMER}/monthlyUsage/2024-02"),
        metadata=billing.customer(CUSTOMER),
    )
    assert (usage.energy_wh, usage.charge_fen, usage.complete) == (300 * KWH, 15_317, True)
    page = billing.billing.ListMonthlyUsage(
        service_pb2.ListMonthlyUsageRequest(parent=f"customers/{CUSTOMER}", page_size=2),
        metadata=billing.customer(CUSTOMER),
    )
    months = [u.month for u in page.monthly_usage]
    assert months == sorted(months, reverse=True) and page.next_page_token
    with pytest.raises(grpc.RpcError) as caught:
        billing.billing.GetMonthlyUsage(
            service_pb2.GetMonthlyUsageRequest(name=f"customers/{CUSTOMER}/monthlyUsage/2019-01"),
            metadata=billing.customer(CUSTOMER),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_corrected_reading_revises_the_bills_and_books_the_difference(
    billing: BillingServer,
) -> None:
    seed_two_months(billing)
    corrected = reading(CUSTOMER, "M1", "r-2024-02", month_start(2024, 2), 160 * KWH)
    reply = billing.internal.BatchUpsertMeterReadings(
        readings_request(corrected), metadata=billing.service()
    )
    assert (reply.created_count, reply.updated_count) == (0, 1)
    january, february = sorted(bills_of(billing), key=lambda b: b.month)
    assert (january.energy_wh, january.revision) == (160 * KWH, 1)
    assert (february.energy_wh, february.revision) == (310 * KWH, 1)
    balance = billing.billing.GetBalance(
        service_pb2.GetBalanceRequest(name=f"customers/{CUSTOMER}/balance"),
        metadata=billing.customer(CUSTOMER),
    )
    assert balance.arrears_fen == january.amount_fen + february.amount_fen
    again = billing.internal.RecomputeCustomerBilling(
        internal_pb2.RecomputeCustomerBillingRequest(
            name=f"customers/{CUSTOMER}", start_month="2024-01", request_id=str(uuid.uuid4())
        ),
        metadata=billing.service(),
    )
    assert again.months[:2] == ["2024-01", "2024-02"]
    assert (list(again.revised_bills), again.net_change_fen) == ([], 0)


def test_an_unpaid_bill_turns_overdue_when_the_service_clock_passes_its_due_date(
    tmp_path: Path, database_url: str
) -> None:
    clock = SettableClock()
    server, billing = start_billing(
        tmp_path, database_url, BillingConfig(demo_data=False), clock=clock
    )
    try:
        seed_two_months(billing)
        february = bills_of(billing)[0]
        assert february.state == resources_pb2.BILL_STATE_ISSUED
        due = date(february.due_date.year, february.due_date.month, february.due_date.day)
        clock.set(datetime.combine(due + timedelta(days=1), time(9), CHINA_STANDARD_TIME))
        assert bills_of(billing)[0].state == resources_pb2.BILL_STATE_OVERDUE
    finally:
        billing.channel.close()
        server.stop(0)
        billing.runtime.close()


def test_a_payment_settles_the_oldest_bills_first(billing: BillingServer) -> None:
    seed_two_months(billing)
    with billing.runtime.session(write=True) as session:
        post_entry(
            session,
            customer_id=CUSTOMER,
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=10_000,
            reference="payments/test-1",
            occurred_at=datetime.now(UTC),
            now=datetime.now(UTC),
        )
    february, january = bills_of(billing)
    assert january.state == resources_pb2.BILL_STATE_PAID and january.outstanding_fen == 0
    assert february.state == resources_pb2.BILL_STATE_ISSUED
    assert february.paid_fen == 10_000 - 7_745
    assert february.outstanding_fen == 15_317 - (10_000 - 7_745)


def test_readings_of_unknown_meters_are_refused(billing: BillingServer) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record(CUSTOMER)), metadata=billing.service()
    )
    with pytest.raises(grpc.RpcError) as caught:
        billing.internal.BatchUpsertMeterReadings(
            readings_request(reading(CUSTOMER, "M9", "r1", month_start(2024, 1), 0)),
            metadata=billing.service(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "meterReadings[0].name" in caught.value.details()


def test_overdue_postpaid_bills_accrue_one_per_mille_a_day(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer(CUSTOMER)
    config = BillingConfig()
    issued = datetime(2024, 3, 2, 2, tzinfo=UTC)
    with session_scope(billing_engine, write=True) as session:
        install_tariffs(session, read_tariff_files(), issued)
        session.add(Meter(customer_id=CUSTOMER, id="M1"))
        for month, value in ((1, 0), (2, 170 * KWH), (3, 470 * KWH)):
            session.add(
                MeterReading(
                    customer_id=CUSTOMER,
                    meter_id="M1",
                    id=f"r{month}",
                    read_time=month_start(2024, month),
                    value_wh=value,
                    quality="ACTUAL",
                    source="REMOTE",
                )
            )
        session.flush()
        customer = session.get(Customer, CUSTOMER)
        assert customer is not None
        recompute_customer(session, customer, now=issued, config=config, start_month=Month(2024, 1))
    with session_scope(billing_engine, write=True) as session:
        customer = session.get(Customer, CUSTOMER)
        assert customer is not None
        february = session.get(Bill, (CUSTOMER, "2024-02"))
        assert february is not None and february.due_date == date(2024, 3, 17)
        # Ten days after the due date: 15317 fen × 1‰ × 10 = 153.17 → 153 fen;
        # January's 7745 fen → 77.45 → 77 fen.
        ten_days_late = datetime(2024, 3, 27, 4, tzinfo=UTC)
        booked = accrue_late_fees(
            session, customer, date(2024, 3, 27), now=ten_days_late, config=config
        )
        assert booked == 153 + 77
        assert february.state == "OVERDUE" and february.late_fee_fen == 153
        # The same day again books nothing; the next day books one more day.
        assert (
            accrue_late_fees(session, customer, date(2024, 3, 27), now=ten_days_late, config=config)
            == 0
        )
        assert (
            accrue_late_fees(session, customer, date(2024, 3, 28), now=ten_days_late, config=config)
            == 15 + 8
        )
        arrears = balance_of(session, CUSTOMER, ten_days_late).arrears_fen
        assert arrears == 7_745 + 15_317 + 153 + 77 + 15 + 8


def test_prepaid_customers_pay_no_late_fee(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    customer = add_customer(CUSTOMER, billing_mode="PREPAID")
    with session_scope(billing_engine, write=True) as session:
        session.add(
            Bill(
                customer_id=CUSTOMER,
                month="2024-01",
                period_start_date=date(2024, 1, 1),
                period_end_date=date(2024, 1, 31),
                energy_wh=KWH,
                amount_fen=1_000,
                tariff_version="tariffs/residential-tiered/versions/2012-07-01",
                issue_time=datetime(2024, 2, 1, tzinfo=UTC),
                due_date=date(2024, 2, 1),
            )
        )
        session.flush()
        booked = accrue_late_fees(
            session, customer, date(2024, 5, 1), now=datetime.now(UTC), config=BillingConfig()
        )
    assert booked == 0


def test_the_daily_run_books_late_fees_once_a_day(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer(CUSTOMER)
    add_customer("3100000002")
    with session_scope(billing_engine, write=True) as session:
        for customer_id, state in ((CUSTOMER, "ISSUED"), ("3100000002", "PAID")):
            session.add(
                Bill(
                    customer_id=customer_id,
                    month="2024-01",
                    period_start_date=date(2024, 1, 1),
                    period_end_date=date(2024, 1, 31),
                    energy_wh=100 * KWH,
                    amount_fen=10_000,
                    tariff_version="tariffs/residential-tiered/versions/2012-07-01",
                    issue_time=datetime(2024, 2, 1, tzinfo=UTC),
                    due_date=date(2024, 2, 16),
                    state=state,
                )
            )
    morning = datetime(2024, 2, 20, 1, tzinfo=UTC)  # 09:00 CST, four days late
    first = run_daily(billing_engine, morning, BillingConfig())
    assert (first.customers, first.late_fees_fen) == (1, 40)
    again = run_daily(billing_engine, morning + timedelta(hours=8), BillingConfig())
    assert (again.customers, again.late_fees_fen) == (0, 0)
    with session_scope(billing_engine) as session:
        bill = session.get(Bill, (CUSTOMER, "2024-01"))
        assert bill is not None and bill.late_fee_fen == 40 and bill.state == "OVERDUE"


def test_readings_are_listed_newest_first_in_pages(billing: BillingServer) -> None:
    seed_two_months(billing)
    seen: list[str] = []
    token = ""
    while True:
        page = billing.billing.ListMeterReadings(
            service_pb2.ListMeterReadingsRequest(
                parent=f"customers/{CUSTOMER}/meters/-", page_size=2, page_token=token
            ),
            metadata=billing.customer(CUSTOMER),
        )
        seen += [r.name.rsplit("/", 1)[1] for r in page.meter_readings]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["r-2024-03", "r-2024-02", "r-2024-01"]
    february_on = billing.billing.ListMeterReadings(
        service_pb2.ListMeterReadingsRequest(
            parent=f"customers/{CUSTOMER}/meters/M1", start_time=ts(month_start(2024, 2))
        ),
        metadata=billing.customer(CUSTOMER),
    )
    assert [r.value_wh for r in february_on.meter_readings] == [470 * KWH, 170 * KWH]


def test_a_bill_read_from_its_rendering_equals_one_built_from_its_columns(
    billing: BillingServer,
) -> None:
    seed_two_months(billing)
    served = bills_of(billing)
    with billing.runtime.session() as session:
        rows = session.exec(select(Bill).where(Bill.customer_id == CUSTOMER)).all()
        assert all(row.resource for row in rows)
        for row in rows:
            row.resource = None
        today = datetime.now(UTC).astimezone(CHINA_STANDARD_TIME).date()
        built = sorted((bill_resource(row, today) for row in rows), key=lambda b: b.month)
        session.rollback()
    assert sorted(served, key=lambda b: b.month) == built
