"""The dev profile's demo data, as CONTRACT.md describes it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2
from servers.billing import demo, demo_daily
from servers.billing.models import BalanceRow, Bill, Customer, LedgerEntry
from servers.billing.months import Month, months_between
from servers.billing.tariff_catalog import install_tariffs, read_tariff_files
from servers.runtime import session_scope
from tests.billing.core_support import BillingServer


def test_a_thousand_customers_with_areas_and_phones_from_their_number(
    demo_billing: BillingServer,
) -> None:
    names = [f"customers/{3100000000 + n}" for n in (1, 7, 10, 11, 1000)]
    customers = demo_billing.internal.BatchGetCustomers(
        internal_pb2.BatchGetCustomersRequest(names=names), metadata=demo_billing.service()
    ).customers
    assert [c.area_code for c in customers] == ["A01", "A07", "A10", "A01", "A10"]
    assert [c.registered_phone[-4:] for c in customers] == ["0001", "0007", "0010", "0011", "1000"]
    assert {c.tariff for c in customers} == {"tariffs/residential-tiered"}
    with demo_billing.runtime.session() as session:
        count = session.exec(
            select(func.count()).where(col(Customer.id).between("3100000001", "3100001000"))
        ).one()
    assert count == 1000


def test_a_demo_customer_can_be_bound(demo_billing: BillingServer) -> None:
    answer = demo_billing.internal.VerifyCustomerBinding(
        internal_pb2.VerifyCustomerBindingRequest(name="customers/3100000042"),
        metadata=demo_billing.service(),
    )
    assert answer.verified and answer.registered_phone.endswith("0042")


def test_24_complete_months_of_bills_end_last_month(demo_billing: BillingServer) -> None:
    last_month = Month.of(datetime.now(UTC)).previous()
    bills = demo_billing.billing.ListBills(
        service_pb2.ListBillsRequest(parent="customers/3100000123", page_size=100),
        metadata=demo_billing.customer("3100000123"),
    ).bills
    assert [b.month for b in bills] == [str(last_month.plus(-k)) for k in range(24)]
    assert all(b.state == resources_pb2.BILL_STATE_PAID for b in bills)
    assert all(b.amount_fen == sum(line.amount_fen for line in b.lines) for b in bills)
    usage = demo_billing.billing.ListMonthlyUsage(
        service_pb2.ListMonthlyUsageRequest(parent="customers/3100000123", page_size=100),
        metadata=demo_billing.customer("3100000123"),
    ).monthly_usage
    assert [u.complete for u in usage] == [False] + [True] * 24
    assert [u.charge_fen for u in usage[1:]] == [b.amount_fen for b in bills]


def test_every_demo_customer_has_a_positive_balance_equal_to_its_ledger(
    demo_billing: BillingServer,
) -> None:
    with demo_billing.runtime.session() as session:
        balances = dict(session.exec(select(BalanceRow.customer_id, BalanceRow.net_fen)).all())
        sums = dict(
            session.exec(
                select(LedgerEntry.customer_id, func.sum(LedgerEntry.amount_fen)).group_by(
                    LedgerEntry.customer_id
                )
            ).all()
        )
        bills = session.exec(select(func.count()).select_from(Bill)).one()
    assert len(balances) == 1000 and bills == 24_000
    assert all(net > 0 for net in balances.values())
    assert balances == sums


def test_recomputing_demo_customers_changes_nothing(demo_billing: BillingServer) -> None:
    for n in (1, 5, 500, 1000):
        reply = demo_billing.internal.RecomputeCustomerBilling(
            internal_pb2.RecomputeCustomerBillingRequest(
                name=f"customers/{3100000000 + n}",
                start_month=str(Month.of(datetime.now(UTC)).plus(-24)),
                request_id=str(uuid.uuid4()),
            ),
            metadata=demo_billing.service(),
        )
        assert len(reply.months) == 25
        assert (list(reply.revised_bills), reply.net_change_fen) == ([], 0)


def test_the_current_month_has_an_estimate(demo_billing: BillingServer) -> None:
    estimate = demo_billing.billing.GetChargeEstimate(
        service_pb2.GetChargeEstimateRequest(name="customers/3100000009/chargeEstimate"),
        metadata=demo_billing.customer("3100000009"),
    )
    assert estimate.month == str(Month.of(datetime.now(UTC)))
    assert estimate.current_tier >= 1


def test_seeding_again_adds_nothing(demo_billing: BillingServer) -> None:
    assert demo.seed(demo_billing.runtime.engine, datetime.now(UTC)) == 0


def test_demo_data_from_an_earlier_month_is_brought_up_to_last_month(
    billing_engine: Engine,
) -> None:
    now = datetime.now(UTC)
    earlier = now - timedelta(days=70)
    with session_scope(billing_engine, write=True) as session:
        install_tariffs(session, read_tariff_files(), earlier)
    assert demo.seed(billing_engine, earlier, customers=3) == 3
    added = demo.top_up(billing_engine, now, customers=3)
    assert added == len(months_between(Month.of(earlier), Month.of(now).previous()))
    with session_scope(billing_engine) as session:
        months = session.exec(
            select(Bill.month).where(Bill.customer_id == "3100000002").order_by(col(Bill.month))
        ).all()
        balances = session.exec(select(BalanceRow.net_fen)).all()
    assert months[-1] == str(Month.of(now).previous())
    assert len(months) == 24 + added
    assert all(net > 0 for net in balances)
    assert demo.top_up(billing_engine, now, customers=3) == 0


def test_400_days_of_daily_usage_through_yesterday_with_gaps_and_whole_months_adding_up(
    demo_billing: BillingServer,
) -> None:
    customer = "3100000123"
    now = datetime.now(UTC)
    response = demo_billing.billing.ListDailyUsage(
        service_pb2.ListDailyUsageRequest(parent=f"customers/{customer}"),
        metadata=demo_billing.customer(customer),
    )
    yesterday = date.fromisoformat(response.end_date)
    first = yesterday - timedelta(days=399)
    full = demo_billing.billing.ListDailyUsage(
        service_pb2.ListDailyUsageRequest(
            parent=f"customers/{customer}",
            start_date=first.isoformat(),
            end_date=yesterday.isoformat(),
        ),
        metadata=demo_billing.customer(customer),
    )
    gaps = [d for d in full.daily_usage if not d.HasField("energy_wh")]
    assert gaps and all(d.reading_quality == resources_pb2.READING_QUALITY_MISSING for d in gaps)
    assert any(
        d.reading_quality == resources_pb2.READING_QUALITY_ESTIMATED for d in full.daily_usage
    )
    # The day before the range has nothing: 400 days were seeded, no more.
    before = demo_billing.billing.ListDailyUsage(
        service_pb2.ListDailyUsageRequest(
            parent=f"customers/{customer}",
            start_date=(first - timedelta(days=1)).isoformat(),
            end_date=(first - timedelta(days=1)).isoformat(),
        ),
        metadata=demo_billing.customer(customer),
    )
    assert not before.daily_usage[0].HasField("energy_wh")
    # A month's days add up to the month's energy, which the bills use: the days shown
    # plus the shares of the days that never arrived (which are not shown).
    last_month = Month.of(now).previous()
    days = [d for d in full.daily_usage if d.date.startswith(str(last_month))]
    usage = demo_billing.billing.GetMonthlyUsage(
        service_pb2.GetMonthlyUsageRequest(name=f"customers/{customer}/monthlyUsage/{last_month}"),
        metadata=demo_billing.customer(customer),
    )
    shares = demo_daily.month_days_wh(123, last_month, usage.energy_wh)
    unseen = sum(shares[date.fromisoformat(d.date)] for d in days if not d.HasField("energy_wh"))
    assert sum(d.energy_wh for d in days) + unseen == usage.energy_wh
    assert [d.energy_wh for d in days if d.HasField("energy_wh")] == [
        shares[date.fromisoformat(d.date)] for d in days if d.HasField("energy_wh")
    ]
