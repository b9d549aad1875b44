"""The tariff engine: published figures, tier boundaries, rounding, seasons, the
large-household allowance, annual tiers, time of use and proration."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.billing.charging import (
    NoTariffInForce,
    PricedVersion,
    charge_month,
    charge_segment,
    line_amount_fen,
    share_by_weights,
    tier_position,
)
from servers.billing.months import Month
from servers.billing.schedule import Schedule, ScheduleError
from servers.billing.tariff_catalog import TARIFF_DIR, read_tariff_file

KWH = 1000


def versions_of(tariff: str) -> list[PricedVersion]:
    file = read_tariff_file(TARIFF_DIR / f"{tariff}.toml")
    return [
        PricedVersion(f"tariffs/{file.id}/versions/{v.id}", v.effective_date, v.schedule)
        for v in file.versions
    ]


GUANGZHOU = versions_of("guangzhou-residential-2012")
DEMO = versions_of("residential-tiered")


def test_guangzhou_600_kwh_in_a_summer_month_costs_370_40_yuan() -> None:
    charge = charge_month(Month(2013, 7), GUANGZHOU, 600 * KWH)
    assert charge.amount_fen == 37_040
    assert [(line.tier, line.energy_wh, line.amount_fen) for line in charge.lines] == [
        (1, 260 * KWH, 15_314),
        (2, 340 * KWH, 21_726),
    ]


def test_guangzhou_600_kwh_in_a_non_summer_month_costs_423_40_yuan() -> None:
    charge = charge_month(Month(2013, 1), GUANGZHOU, 600 * KWH)
    assert charge.amount_fen == 42_340
    assert [(line.tier, line.energy_wh, line.amount_fen) for line in charge.lines] == [
        (1, 200 * KWH, 11_780),
        (2, 200 * KWH, 12_780),
        (3, 200 * KWH, 17_780),
    ]


def test_guangzhou_season_edges_are_may_and_october() -> None:
    prices = {
        m: charge_month(Month(2013, m), GUANGZHOU, 600 * KWH).amount_fen for m in range(1, 13)
    }
    summer = {m for m, fen in prices.items() if fen == 37_040}
    assert summer == {5, 6, 7, 8, 9, 10}


@pytest.mark.parametrize(
    ("energy_wh", "expected"),
    [
        (170 * KWH, [(1, 170 * KWH)]),
        (170 * KWH + 1, [(1, 170 * KWH), (2, 1)]),
        (260 * KWH, [(1, 170 * KWH), (2, 90 * KWH)]),
        (260 * KWH + 1, [(1, 170 * KWH), (2, 90 * KWH), (3, 1)]),
    ],
)
def test_demo_tier_boundaries_at_170_and_260_kwh(
    energy_wh: int, expected: list[tuple[int, int]]
) -> None:
    charge = charge_month(Month(2024, 3), DEMO, energy_wh)
    assert [(line.tier, line.energy_wh) for line in charge.lines] == expected


def test_demo_figures_at_the_boundaries() -> None:
    # 170 kWh × 0.4556 = 77.452 yuan → 7745.2 fen → 7745 fen.
    assert charge_month(Month(2024, 3), DEMO, 170 * KWH).amount_fen == 7_745
    # + 90 kWh × 0.5056 = 45.504 yuan → 4550 fen.
    assert charge_month(Month(2024, 3), DEMO, 260 * KWH).amount_fen == 7_745 + 4_550
    # + 40 kWh × 0.7556 = 30.224 yuan → 3022 fen.
    assert charge_month(Month(2024, 3), DEMO, 300 * KWH).amount_fen == 7_745 + 4_550 + 3_022


def test_line_amounts_round_half_up_to_whole_fen() -> None:
    # 1 kWh at 0.4556: 45.56 fen → 46; 1 Wh: 0.04556 fen → 0; 0.5 fen rounds up.
    assert line_amount_fen(1000, Decimal("0.4556")) == 46
    assert line_amount_fen(1, Decimal("0.4556")) == 0
    assert line_amount_fen(1000, Decimal("0.0045")) == 0
    assert line_amount_fen(1000, Decimal("0.005")) == 1
    # Negative adjustments round half away from zero.
    assert line_amount_fen(1000, Decimal("-0.005")) == -1


def test_large_household_allowance_is_charged_at_the_tier_1_price() -> None:
    normal = charge_month(Month(2024, 3), DEMO, 300 * KWH)
    large = charge_month(Month(2024, 3), DEMO, 300 * KWH, large_household=True)
    assert [(line.tier, line.energy_wh) for line in large.lines] == [(1, 270 * KWH), (2, 30 * KWH)]
    assert large.amount_fen < normal.amount_fen


def test_annual_tiers_continue_from_the_year_so_far() -> None:
    annual = versions_of("annual-residential")
    charge = charge_month(Month(2024, 11), annual, 300 * KWH, year_to_date_wh=2_000 * KWH)
    assert [(line.tier, line.energy_wh) for line in charge.lines] == [
        (1, 160 * KWH),
        (2, 140 * KWH),
    ]
    january = charge_month(Month(2024, 1), annual, 300 * KWH)
    assert [(line.tier, line.energy_wh) for line in january.lines] == [(1, 300 * KWH)]


def test_time_of_use_adds_a_line_per_period_with_its_adjustment() -> None:
    tou = versions_of("residential-time-of-use")
    charge = charge_month(
        Month(2024, 3),
        tou,
        200 * KWH,
        time_of_use_wh={"PEAK": 120 * KWH, "VALLEY": 80 * KWH},
    )
    tou_lines = [(line.period, line.amount_fen) for line in charge.lines if line.period]
    # Peak 120 kWh × +0.03 = 3.60 yuan; valley 80 kWh × −0.20 = −16.00 yuan.
    assert tou_lines == [("PEAK", 360), ("VALLEY", -1_600)]
    tier_total = charge_month(Month(2024, 3), tou, 200 * KWH).amount_fen
    assert charge.amount_fen == tier_total + 360 - 1_600


def two_versions(first: Schedule, second: Schedule, change: date) -> list[PricedVersion]:
    return [
        PricedVersion("tariffs/t/versions/old", date(2012, 1, 1), first),
        PricedVersion("tariffs/t/versions/new", change, second),
    ]


RAISED = Schedule.from_mapping(
    {
        "tier_period": "MONTHLY",
        "tiers": [
            {"upper_bound_wh": 170_000, "unit_price": "0.5000"},
            {"upper_bound_wh": 260_000, "unit_price": "0.5500"},
            {"unit_price": "0.8000"},
        ],
    }
)


def test_a_month_spanning_a_price_change_is_prorated_by_days() -> None:
    versions = two_versions(DEMO[0].schedule, RAISED, date(2024, 7, 11))
    charge = charge_month(Month(2024, 7), versions, 310 * KWH)
    assert [(s.version.name, s.days) for s in charge.segments] == [
        ("tariffs/t/versions/old", 10),
        ("tariffs/t/versions/new", 21),
    ]
    # 310 kWh × 10/31 = 100 kWh in the old version, whose tier-1 bound is 170 × 10/31.
    old = [(line.tier, line.energy_wh) for line in charge.lines if line.version.endswith("old")]
    assert old == [(1, 54_839), (2, 29_032), (3, 16_129)]
    assert charge.energy_wh == 310 * KWH
    assert charge.tariff_version == "tariffs/t/versions/new"


def test_charging_before_the_first_version_fails() -> None:
    with pytest.raises(NoTariffInForce):
        charge_month(Month(2011, 12), DEMO, KWH)


def test_tier_position_names_the_tier_of_the_next_wh() -> None:
    tiers = DEMO[0].schedule.tiers
    assert (tier_position(tiers, 0).tier.tier, tier_position(tiers, 0).remaining_wh) == (
        1,
        170 * KWH,
    )
    at_bound = tier_position(tiers, 170 * KWH)
    assert (at_bound.tier.tier, at_bound.remaining_wh) == (2, 90 * KWH)
    top = tier_position(tiers, 500 * KWH)
    assert (top.tier.tier, top.remaining_wh, top.next_tier) == (3, 0, None)


@pytest.mark.parametrize(
    "bad",
    [
        {"tier_period": "WEEKLY", "tiers": [{"unit_price": "0.5"}]},
        {"tier_period": "MONTHLY", "tiers": [{"upper_bound_wh": 10, "unit_price": "0.5"}]},
        {"tier_period": "MONTHLY", "tiers": [{"unit_price": 0.5}]},
        {
            "tier_period": "MONTHLY",
            "tiers": [
                {"upper_bound_wh": 200, "unit_price": "0.5"},
                {"upper_bound_wh": 100, "unit_price": "0.6"},
                {"unit_price": "0.7"},
            ],
        },
        {
            "tier_period": "MONTHLY",
            "tiers": [{"upper_bound_wh": 100, "unit_price": "0.6"}, {"unit_price": "0.5"}],
        },
        {
            "tier_period": "MONTHLY",
            "tiers": [{"unit_price": "0.5"}],
            "seasons": [
                {"start_month": 5, "end_month": 10, "tiers": [{"unit_price": "0.5"}]},
                {"start_month": 10, "end_month": 2, "tiers": [{"unit_price": "0.5"}]},
            ],
        },
    ],
)
def test_schedules_breaking_a_rule_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        Schedule.from_mapping(bad)


# -- properties ------------------------------------------------------------------------

prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=4).map(str)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    count = draw(st.integers(1, 4))
    bounds = sorted(draw(st.sets(st.integers(1, 900_000), min_size=count - 1, max_size=count - 1)))
    # Tier prices rise with the tier, as the schedule rules require.
    tier_prices = sorted((draw(prices) for _ in range(count)), key=Decimal)
    tiers: list[dict[str, object]] = [
        {"upper_bound_wh": bound, "unit_price": price}
        for bound, price in zip(bounds, tier_prices, strict=False)
    ]
    tiers.append({"unit_price": tier_prices[-1]})
    return Schedule.from_mapping(
        {
            "tier_period": draw(st.sampled_from(["MONTHLY", "ANNUAL"])),
            "tiers": tiers,
            "large_household_extra_wh": draw(st.sampled_from([0, 50_000])),
        }
    )


months = st.builds(Month, st.integers(2013, 2030), st.integers(1, 12))
energies = st.integers(0, 3_000_000)


@settings(max_examples=200, deadline=None)
@given(schedules(), schedules(), months, st.integers(1, 28), energies, st.booleans())
def test_line_amounts_sum_to_the_total_and_energy_is_conserved(
    first: Schedule, second: Schedule, month: Month, change_day: int, energy: int, large: bool
) -> None:
    versions = two_versions(first, second, date(month.year, month.month, change_day))
    charge = charge_month(month, versions, energy, large_household=large)
    assert charge.amount_fen == sum(line.amount_fen for line in charge.lines)
    assert charge.energy_wh == energy
    for line in charge.lines:
        assert line.amount_fen == line_amount_fen(line.energy_wh, line.unit_price)


@settings(max_examples=200, deadline=None)
@given(
    schedules(),
    schedules(),
    months,
    st.integers(1, 28),
    energies,
    energies,
    st.integers(0, 5_000_000),
    st.booleans(),
)
def test_more_energy_never_costs_less(
    first: Schedule,
    second: Schedule,
    month: Month,
    change_day: int,
    a: int,
    b: int,
    year_to_date: int,
    large: bool,
) -> None:
    versions = two_versions(first, second, date(month.year, month.month, change_day))
    low, high = sorted((a, b))

    def cost(energy: int) -> int:
        return charge_month(
            month, versions, energy, year_to_date_wh=year_to_date, large_household=large
        ).amount_fen

    assert cost(low) <= cost(high)


@settings(max_examples=200, deadline=None)
@given(schedules(), schedules(), months, st.integers(2, 28), energies, st.booleans())
def test_proration_over_a_tariff_change_equals_the_sum_of_its_parts(
    first: Schedule, second: Schedule, month: Month, change_day: int, energy: int, large: bool
) -> None:
    first = Schedule("MONTHLY", first.tiers, (), first.large_household_extra_wh)
    second = Schedule("MONTHLY", second.tiers, (), second.large_household_extra_wh)
    versions = two_versions(first, second, date(month.year, month.month, change_day))
    whole = charge_month(month, versions, energy, large_household=large)
    before, after = whole.segments
    assert before.days + after.days == month.days
    # Each part charged alone: its share of the energy, with bounds scaled to its days.
    first_share, second_share = share_by_weights(energy, [before.days, after.days])
    parts = charge_segment(
        before,
        month,
        energy_wh=first_share,
        bound_scale=Fraction(before.days, month.days),
        large_household=large,
    ) + charge_segment(
        after,
        month,
        energy_wh=second_share,
        bound_scale=Fraction(after.days, month.days),
        large_household=large,
    )
    assert list(whole.lines) == parts
    assert whole.amount_fen == sum(line.amount_fen for line in parts)


@settings(max_examples=200, deadline=None)
@given(schedules(), months, st.integers(2, 28), energies)
def test_a_change_to_the_same_prices_costs_what_no_change_costs(
    schedule: Schedule, month: Month, change_day: int, energy: int
) -> None:
    schedule = Schedule("MONTHLY", schedule.tiers)
    plain = charge_month(month, two_versions(schedule, schedule, date(2012, 1, 2)), energy)
    split = charge_month(
        month, two_versions(schedule, schedule, date(month.year, month.month, change_day)), energy
    )
    # Only the per-line and per-bound rounding may differ: at most a fen per line.
    assert abs(plain.amount_fen - split.amount_fen) <= len(split.lines) + 1
