"""This month's forecast over real gRPC, on constructed histories whose answers are
worked out by hand (the module clock stands at 2026-06-20 10:00 CST, so the figures
run through 06-19)."""

from __future__ import annotations

from datetime import date

import pytest

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import insights_pb2, resources_pb2
from servers.billing.forecast import forecast_month
from servers.billing.months import Month
from tests.billing.core_support import BillingServer
from tests.billing.records import (
    customer_record,
    daily_reading,
    daily_request,
    month_start_readings,
    readings_request,
    upsert_request,
)

WITH_LAST_YEAR, WITHOUT_LAST_YEAR, NO_FIGURES = "3100000301", "3100000302", "3100000303"


@pytest.fixture(scope="module")
def billing(module_billing: BillingServer) -> BillingServer:
    service = module_billing.service()
    module_billing.internal.BatchUpsertCustomers(
        upsert_request(
            customer_record(WITH_LAST_YEAR),
            customer_record(WITHOUT_LAST_YEAR),
            customer_record(NO_FIGURES),
        ),
        metadata=service,
    )
    # June 2025 closed at 355 kWh: 10 kWh a day on the 1st–19th, 15 on the 20th–30th.
    module_billing.internal.BatchUpsertMeterReadings(
        readings_request(*month_start_readings(WITH_LAST_YEAR, {"2025-06": 355})),
        metadata=service,
    )
    last_year = [
        daily_reading(WITH_LAST_YEAR, f"2025-06-{d:02d}", 10_000 if d < 20 else 15_000)
        for d in range(1, 31)
    ]
    # June 2026: 12 kWh a day, the 5th never arrived and the 7th reported missing.
    this_year = [
        daily_reading(WITH_LAST_YEAR, f"2026-06-{d:02d}", 12_000)
        for d in range(1, 20)
        if d not in (5, 7)
    ]
    this_year.append(
        daily_reading(
            WITH_LAST_YEAR, "2026-06-07", None, quality=resources_pb2.READING_QUALITY_MISSING
        )
    )
    pace_only = [daily_reading(WITHOUT_LAST_YEAR, f"2026-06-{d:02d}", 12_000) for d in range(1, 20)]
    for batch in (last_year, this_year, pace_only):
        module_billing.internal.BatchUpsertDailyUsage(daily_request(*batch), metadata=service)
    return module_billing


def forecast(billing: BillingServer, customer: str) -> insights_pb2.UsageForecast:
    return billing.billing.GetUsageForecast(  # type: ignore[no-any-return]
        service_pb2.GetUsageForecastRequest(name=f"customers/{customer}/usageForecast"),
        metadata=billing.customer(customer),
    )


def test_the_same_days_last_year_scale_last_years_month(billing: BillingServer) -> None:
    result = forecast(billing, WITH_LAST_YEAR)
    assert result.method == insights_pb2.FORECAST_METHOD_SAME_DAYS_LAST_YEAR
    assert (result.month, result.as_of_date, result.reference_month) == (
        "2026-06",
        "2026-06-19",
        "2025-06",
    )
    # 17 days in both years (the 5th and 7th left out): 204 kWh against 170 kWh, so
    # last June's 355 kWh × 1.2 = 426 kWh.
    assert (result.energy_so_far_wh, result.days_with_figures) == (204_000, 17)
    assert result.forecast_energy_wh == 426_000
    # 426 kWh: 170 × 0.4556 = 77.452 → 7745, 90 × 0.5056 = 45.504 → 4550,
    # 166 × 0.7556 = 125.4296 → 12543; 24838 fen.
    assert result.forecast_charge_fen == 24_838
    assert result.forecast_tier == 3
    # 222 kWh over the 13 days without a figure: 17,076.9 → 17,077 Wh a day. 204 kWh are
    # in tier 2, 56 kWh short of tier 3: 3.28 days from 06-20 00:00, on the 23rd.
    assert result.remaining_daily_wh == 17_077
    assert result.next_tier_date == "2026-06-23"


def test_without_last_year_the_months_own_pace_is_used(billing: BillingServer) -> None:
    result = forecast(billing, WITHOUT_LAST_YEAR)
    assert result.method == insights_pb2.FORECAST_METHOD_PACE
    # 228 kWh in 19 days over June's 30 days: 360 kWh; 7745 + 4550 + 100 × 0.7556 →
    # 7556 = 19851 fen.
    assert (result.energy_so_far_wh, result.forecast_energy_wh) == (228_000, 360_000)
    assert result.forecast_charge_fen == 19_851
    assert result.reference_month == ""


def test_no_figures_no_forecast(billing: BillingServer) -> None:
    result = forecast(billing, NO_FIGURES)
    assert result.method == insights_pb2.FORECAST_METHOD_NONE
    assert (result.forecast_energy_wh, result.forecast_charge_fen) == (0, 0)


def test_the_forecast_is_never_below_what_was_used_and_29_february_is_left_out() -> None:
    month = Month(2028, 2)
    days = {date(2028, 2, d): 10_000 for d in range(1, 30)}
    last_year = {date(2027, 2, d): 20_000 for d in range(1, 29)}
    # Last February ran twice as high: half of its 300 kWh is less than used already.
    result = forecast_month(month, date(2028, 2, 29), days, last_year, 300_000)
    assert result.energy_so_far_wh == 290_000
    assert result.forecast_wh == 290_000
    assert result.method == "SAME_DAYS_LAST_YEAR"
