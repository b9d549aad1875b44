"""A month explained and the yearly trend, over real gRPC, on a constructed history
whose figures are worked out by hand: the average price exact to the fen from a known
bill, the tier standing and the day the next tier starts at the pace so far, the
comparisons, and 12 months of energy, charges and carbon."""

from __future__ import annotations

from datetime import datetime

import grpc
import pytest

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import insights_pb2, tariff_pb2
from servers.billing.analysis import average_price, change_percent, rounded_ratio
from servers.runtime import CHINA_STANDARD_TIME
from tests.billing.core_support import BillingServer
from tests.billing.records import (
    customer_record,
    month_start_readings,
    reading,
    readings_request,
    upsert_request,
)

CUSTOMER, WITHOUT_FIGURES = "3100000201", "3100000203"
# kWh per month on residential-tiered (170 / 260 kWh at 0.4556 / 0.5056 / 0.7556).
HISTORY = {
    "2025-03": 180,
    "2025-04": 250,
    **{f"2025-{m:02d}": 200 for m in range(5, 13)},
    "2026-01": 200,
    "2026-02": 220,
    "2026-03": 240,
    "2026-04": 300,
    "2026-05": 310,
}
# June so far: 150 kWh in the ten days to 2026-06-11 00:00 CST (the clock: 06-20).
JUNE_READING = datetime(2026, 6, 11, tzinfo=CHINA_STANDARD_TIME)


@pytest.fixture(scope="module")
def billing(module_billing: BillingServer) -> BillingServer:
    module_billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record(CUSTOMER), customer_record(WITHOUT_FIGURES)),
        metadata=module_billing.service(),
    )
    readings = month_start_readings(CUSTOMER, HISTORY)
    readings.append(reading(CUSTOMER, "M1", "june", JUNE_READING, readings[-1].value_wh + 150_000))
    module_billing.internal.BatchUpsertMeterReadings(
        readings_request(*readings), metadata=module_billing.service()
    )
    return module_billing


def analysis(billing: BillingServer, month: str) -> insights_pb2.UsageAnalysis:
    return billing.billing.GetUsageAnalysis(  # type: ignore[no-any-return]
        service_pb2.GetUsageAnalysisRequest(name=f"customers/{CUSTOMER}/usageAnalyses/{month}"),
        metadata=billing.customer(CUSTOMER),
    )


def test_the_average_price_of_a_known_bill_is_exact_to_the_fen(billing: BillingServer) -> None:
    april = analysis(billing, "2026-04")
    # 300 kWh: 170 × 0.4556 = 77.452 → 7745, 90 × 0.5056 = 45.504 → 4550,
    # 40 × 0.7556 = 30.224 → 3022 fen; 15317 fen / 300 kWh = 51.0566… → 51.06 fen/kWh.
    assert (april.energy_wh, april.charge_fen, april.billed) == (300_000, 15_317, True)
    assert april.average_price_fen_per_kwh.value == "51.06"
    bill = billing.billing.GetBill(
        service_pb2.GetBillRequest(name=f"customers/{CUSTOMER}/bills/2026-04"),
        metadata=billing.customer(CUSTOMER),
    )
    assert sum(line.amount_fen for line in bill.lines) == april.charge_fen


def test_a_month_is_compared_with_last_year_and_the_three_months_before(
    billing: BillingServer,
) -> None:
    april = analysis(billing, "2026-04")
    last_year = april.same_month_last_year
    # 250 kWh: 7745 + 80 × 0.5056 = 40.448 → 4045 = 11790 fen.
    assert (list(last_year.months), last_year.energy_wh, last_year.charge_fen) == (
        ["2025-04"],
        250_000,
        11_790,
    )
    assert last_year.energy_change_percent.value == "20.0"  # 300 / 250 − 1
    assert last_year.charge_change_percent.value == "29.9"  # 15317 / 11790 − 1 = 29.915 %
    before = april.last_three_months
    assert list(before.months) == ["2026-01", "2026-02", "2026-03"]
    assert before.energy_wh == 220_000  # (200 + 220 + 240) / 3
    # 200 kWh: 7745 + 30 × 0.5056 = 15.168 → 1517 = 9262; 220: 7745 + 2528 = 10273;
    # 240: 7745 + 3539 = 11284; their average 10273 fen.
    assert before.charge_fen == 10_273
    assert before.energy_change_percent.value == "36.4"  # 300 / 220 − 1 = 36.36 %


def test_a_closed_month_stands_in_the_tiers_without_a_pace(billing: BillingServer) -> None:
    standing = analysis(billing, "2026-04").tier_standing
    assert standing.tier_period == tariff_pb2.TIER_PERIOD_MONTHLY
    assert (standing.current_tier, standing.top_tier, standing.tier_remaining_wh) == (3, True, 0)
    assert not standing.HasField("next_unit_price")
    assert (standing.next_tier_date, standing.daily_pace_wh) == ("", 0)


def test_the_month_in_progress_shows_energy_left_and_when_the_next_tier_starts(
    billing: BillingServer,
) -> None:
    june = analysis(billing, "2026-06")
    assert (june.complete, june.billed, june.energy_wh) == (False, False, 150_000)
    standing = june.tier_standing
    # 150 of 170 kWh used: 20 kWh left in tier 1. 150 kWh in 10 days is 15 kWh a day,
    # so 20 kWh more take 1⅓ days from 06-11 00:00: 06-12 08:00, the 12th.
    assert (standing.current_tier, standing.tier_remaining_wh) == (1, 20_000)
    assert standing.current_unit_price.value == "0.4556"
    assert standing.next_unit_price.value == "0.5056"
    assert standing.daily_pace_wh == 15_000
    assert standing.next_tier_date == "2026-06-12"
    # 150 kWh all in tier 1: 150 × 0.4556 = 68.34 yuan.
    assert june.charge_fen == 6_834
    assert june.average_price_fen_per_kwh.value == "45.56"


def test_a_month_without_figures_is_not_found_and_others_are_refused(
    billing: BillingServer,
) -> None:
    with pytest.raises(grpc.RpcError) as missing:
        analysis(billing, "2024-01")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as other:
        billing.billing.GetUsageAnalysis(
            service_pb2.GetUsageAnalysisRequest(name=f"customers/{CUSTOMER}/usageAnalyses/2026-04"),
            metadata=billing.customer("3100000202"),
        )
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED


def trend(billing: BillingServer, customer: str) -> insights_pb2.UsageTrend:
    return billing.billing.GetUsageTrend(  # type: ignore[no-any-return]
        service_pb2.GetUsageTrendRequest(name=f"customers/{customer}/usageTrend"),
        metadata=billing.customer(customer),
    )


def test_the_yearly_trend_has_the_12_months_ending_last_month_with_carbon(
    billing: BillingServer,
) -> None:
    result = trend(billing, CUSTOMER)
    assert [m.month for m in result.months][::11] == ["2025-06", "2026-05"]
    assert len(result.months) == 12
    april = result.months[10]
    # 300 kWh × 0.5366 kg/kWh = 160.98 kg.
    assert (april.energy_wh, april.charge_fen, april.carbon_grams) == (300_000, 15_317, 160_980)
    # 8 months of 200 kWh (9262 fen each), then 220, 240, 300 and 310 kWh (10273, 11284,
    # 15317 and 7745 + 4550 + 50 × 0.7556 = 37.78 → 3778 = 16073 fen).
    assert result.total_energy_wh == 2_670_000
    assert result.total_charge_fen == 8 * 9_262 + 10_273 + 11_284 + 15_317 + 16_073
    assert result.total_carbon_grams == 1_432_722  # 2670 kWh × 0.5366
    factor = result.emission_factor
    assert (factor.kg_per_kwh.value, factor.data_year) == ("0.5366", 2022)
    assert "生态环境部" in factor.source


def test_months_without_figures_are_left_empty_in_the_trend(billing: BillingServer) -> None:
    result = trend(billing, WITHOUT_FIGURES)
    assert len(result.months) == 12
    assert not any(m.HasField("energy_wh") or m.HasField("carbon_grams") for m in result.months)
    assert result.total_energy_wh == 0


@pytest.mark.parametrize(
    ("numerator", "denominator", "places", "expected"),
    [(15317 * 1000, 300_000, 2, "51.06"), (5, 2, 0, "3"), (-5, 2, 0, "-3"), (1, 3, 1, "0.3")],
)
def test_ratios_round_half_away_from_zero(
    numerator: int, denominator: int, places: int, expected: str
) -> None:
    assert str(rounded_ratio(numerator, denominator, places)) == expected


def test_no_energy_has_no_average_price_and_no_base_no_change() -> None:
    assert average_price(0, 0) is None and change_percent(5, 0) is None
    assert str(change_percent(90, 120)) == "-25.0"
