"""Daily usage over real gRPC: each meter's day stored once from ingest's pushes, read
as one entry per day with gaps shown as gaps, ranges checked, scope enforced."""

from __future__ import annotations

import grpc
import pytest

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2
from tests.billing.core_support import BillingServer
from tests.billing.records import (
    bad_fields,
    customer_record,
    daily_reading,
    daily_request,
    upsert_request,
)

MINE, OTHER = "3100000101", "3100000102"
ACTUAL = resources_pb2.READING_QUALITY_ACTUAL
ESTIMATED = resources_pb2.READING_QUALITY_ESTIMATED
MISSING = resources_pb2.READING_QUALITY_MISSING
# June 2026 for MINE: nothing for the 5th, the 7th estimated, the 8th reported missing.
JUNE = {1: 5_100, 2: 6_200, 3: 7_300, 4: 4_400, 6: 5_000, 7: 6_000, 9: 7_000, 10: 8_000}


@pytest.fixture(scope="module")
def billing(module_billing: BillingServer) -> BillingServer:
    module_billing.internal.BatchUpsertCustomers(
        upsert_request(
            customer_record(MINE, supply_office="QJ-QL"),
            customer_record(OTHER, supply_office="QJ-ZY", phone="13912345678"),
        ),
        metadata=module_billing.service(),
    )
    readings = [
        daily_reading(MINE, f"2026-06-{day:02d}", wh, quality=ESTIMATED if day == 7 else ACTUAL)
        for day, wh in JUNE.items()
    ]
    readings.append(daily_reading(MINE, "2026-06-08", None, quality=MISSING))
    readings.append(daily_reading(OTHER, "2026-06-01", 9_999))
    module_billing.internal.BatchUpsertDailyUsage(
        daily_request(*readings), metadata=module_billing.service()
    )
    return module_billing


def read(
    billing: BillingServer, start: str = "", end: str = "", customer: str = MINE, caller=None
) -> service_pb2.ListDailyUsageResponse:
    return billing.billing.ListDailyUsage(  # type: ignore[no-any-return]
        service_pb2.ListDailyUsageRequest(
            parent=f"customers/{customer}", start_date=start, end_date=end
        ),
        metadata=caller or billing.customer(MINE),
    )


def refusal(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_every_day_of_the_range_is_listed_and_a_gap_is_shown_as_a_gap(
    billing: BillingServer,
) -> None:
    days = read(billing, "2026-06-01", "2026-06-10").daily_usage
    assert [d.date for d in days] == [f"2026-06-{k:02d}" for k in range(1, 11)]
    gap = days[4]
    assert gap.name == f"customers/{MINE}/dailyUsage/2026-06-05"
    assert not gap.HasField("energy_wh")
    assert gap.reading_quality == MISSING
    assert list(gap.meter_usage) == []
    reported_missing = days[7]
    assert not reported_missing.HasField("energy_wh")
    assert reported_missing.reading_quality == MISSING
    assert reported_missing.meter_usage[0].meter == f"customers/{MINE}/meters/M1"
    assert days[6].energy_wh == 6_000 and days[6].reading_quality == ESTIMATED
    assert days[0].energy_wh == 5_100 and days[0].reading_quality == ACTUAL


def test_totals_count_only_days_with_a_figure(billing: BillingServer) -> None:
    response = read(billing, "2026-06-01", "2026-06-10")
    assert response.total_energy_wh == sum(JUNE.values())
    assert response.missing_day_count == 2
    assert (response.start_date, response.end_date) == ("2026-06-01", "2026-06-10")


def test_no_range_means_the_30_days_through_yesterday(billing: BillingServer) -> None:
    response = read(billing)  # the module clock stands at 2026-06-20 CST
    assert (response.start_date, response.end_date) == ("2026-05-21", "2026-06-19")
    assert len(response.daily_usage) == 30


def test_400_days_are_read_and_401_are_refused_naming_the_field(billing: BillingServer) -> None:
    assert len(read(billing, "2025-05-17", "2026-06-20").daily_usage) == 400
    error = refusal(lambda: read(billing, "2025-05-16", "2026-06-20"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(error) == ["endDate"]
    assert "401 days" in (error.details() or "")
    # Only a start that reaches too far back: the start is the field to blame.
    error = refusal(lambda: read(billing, "2024-01-01"))
    assert bad_fields(error) == ["startDate"]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-06-10", "2026-06-01", "endDate"),
        ("2026-02-30", "2026-03-01", "startDate"),
        ("2026-06-01", "2026-6-1", "endDate"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(
    billing: BillingServer, start: str, end: str, field: str
) -> None:
    error = refusal(lambda: read(billing, start, end))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(error) == [field]


def test_sending_a_day_again_replaces_it_and_an_equal_one_changes_nothing(
    billing: BillingServer,
) -> None:
    actual = daily_reading(MINE, "2026-05-31", 4_000, quality=ESTIMATED)
    first = billing.internal.BatchUpsertDailyUsage(
        daily_request(actual), metadata=billing.service()
    )
    assert first.created_count == 1
    replaced = daily_reading(MINE, "2026-05-31", 4_321)
    second = billing.internal.BatchUpsertDailyUsage(
        daily_request(replaced), metadata=billing.service()
    )
    again = billing.internal.BatchUpsertDailyUsage(
        daily_request(replaced), metadata=billing.service()
    )
    assert (second.updated_count, again.unchanged_count) == (1, 1)
    day = read(billing, "2026-05-31", "2026-05-31").daily_usage[0]
    assert (day.energy_wh, day.reading_quality) == (4_321, ACTUAL)


@pytest.mark.parametrize(
    ("reading", "field"),
    [
        (daily_reading(MINE, "2026-06-11", 100, meter="NOPE"), "dailyReadings[0].meter"),
        (daily_reading(MINE, "2026-06-11", 100, quality=MISSING), "dailyReadings[0].energyWh"),
        (daily_reading(MINE, "2026-06-11", None), "dailyReadings[0].energyWh"),
        (daily_reading(MINE, "2026-02-30", 100), "dailyReadings[0].date"),
    ],
)
def test_a_bad_daily_reading_is_refused_naming_the_field(
    billing: BillingServer, reading: object, field: str
) -> None:
    error = refusal(
        lambda: billing.internal.BatchUpsertDailyUsage(
            daily_request(reading),  # type: ignore[arg-type]
            metadata=billing.service(),
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(error) == [field]


def test_customers_read_bound_numbers_and_staff_their_offices(billing: BillingServer) -> None:
    assert read(billing, "2026-06-01", "2026-06-01").daily_usage[0].energy_wh == 5_100
    staff_here = billing.staff("QJ-QL")
    assert read(billing, "2026-06-01", "2026-06-01", caller=staff_here).daily_usage[0].energy_wh
    for customer, caller in [
        (OTHER, billing.customer(MINE)),
        (MINE, billing.staff("QJ-ZY")),
        ("3199999999", billing.customer(MINE)),
    ]:
        error = refusal(lambda c=customer, m=caller: read(billing, customer=c, caller=m))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    unknown = refusal(lambda: read(billing, customer="3199999999", caller=staff_here))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
