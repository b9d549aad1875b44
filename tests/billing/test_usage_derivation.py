"""Monthly usage from cumulative readings: month boundaries, register rollover, meter
replacement, missing readings, multipliers and time-of-use registers."""

from __future__ import annotations

from datetime import datetime, timedelta

from servers.billing.months import Month
from servers.billing.usage import (
    Reading,
    intervals,
    monthly_figures,
    register_delta,
    year_to_date,
)
from servers.runtime import CHINA_STANDARD_TIME

KWH = 1000


def at(year: int, month: int, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CHINA_STANDARD_TIME)


def monthly(readings: list[Reading], now: datetime, multipliers: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    figures = monthly_figures(intervals(readings, multipliers or {}), now=now)
    return {str(f.month): f for f in figures}


def test_readings_on_month_starts_give_each_month_its_difference() -> None:
    figures = monthly(
        [
            Reading("M1", at(2024, 1), 1_000 * KWH),
            Reading("M1", at(2024, 2), 1_150 * KWH),
            Reading("M1", at(2024, 3), 1_420 * KWH),
        ],
        now=at(2024, 3, 10),
    )
    assert {m: f.energy_wh for m, f in figures.items()} == {
        "2024-01": 150 * KWH,
        "2024-02": 270 * KWH,
        "2024-03": 0,
    }
    assert figures["2024-01"].complete and figures["2024-02"].complete
    assert not figures["2024-03"].complete
    assert figures["2024-02"].opening and figures["2024-02"].opening.value_wh == 1_150 * KWH
    assert figures["2024-02"].closing and figures["2024-02"].closing.value_wh == 1_420 * KWH


def test_a_reading_across_a_month_boundary_is_shared_by_time() -> None:
    # 10 days in January, 10 in February: 200 kWh split evenly, to the Wh.
    figures = monthly(
        [Reading("M1", at(2024, 1, 22), 0), Reading("M1", at(2024, 2, 11), 200 * KWH)],
        now=at(2024, 3, 5),
    )
    assert figures["2024-01"].energy_wh == 100 * KWH
    assert figures["2024-02"].energy_wh == 100 * KWH
    assert not figures["2024-02"].complete  # no reading at or after 1 March


def test_register_rollover_counts_past_the_capacity() -> None:
    assert register_delta(99_950 * KWH, 30 * KWH) == 80 * KWH
    assert register_delta(999_900 * KWH + 500, 100 * KWH) == 200 * KWH - 500
    figures = monthly(
        [Reading("M1", at(2024, 1), 99_950 * KWH), Reading("M1", at(2024, 2), 30 * KWH)],
        now=at(2024, 2, 2),
    )
    assert figures["2024-01"].energy_wh == 80 * KWH


def test_a_replaced_meter_adds_both_meters_energy() -> None:
    # The old meter is read out on 15 January; the new one starts at 5 kWh.
    figures = monthly(
        [
            Reading("OLD", at(2024, 1), 8_000 * KWH),
            Reading("OLD", at(2024, 1, 15), 8_070 * KWH),
            Reading("NEW", at(2024, 1, 15), 5 * KWH),
            Reading("NEW", at(2024, 2), 95 * KWH),
        ],
        now=at(2024, 2, 3),
    )
    assert figures["2024-01"].energy_wh == 160 * KWH
    assert figures["2024-01"].complete


def test_missing_readings_are_skipped_and_the_gap_is_estimated() -> None:
    figures = monthly(
        [
            Reading("M1", at(2024, 1), 0),
            Reading("M1", at(2024, 2), 0, quality="MISSING"),
            Reading("M1", at(2024, 3), 300 * KWH),
        ],
        now=at(2024, 3, 2),
    )
    assert figures["2024-01"].energy_wh + figures["2024-02"].energy_wh == 300 * KWH
    assert figures["2024-01"].energy_wh == round(300 * KWH * 31 / 60)
    assert figures["2024-01"].quality == "ESTIMATED"


def test_the_worst_reading_quality_marks_the_month() -> None:
    figures = monthly(
        [
            Reading("M1", at(2024, 1), 0),
            Reading("M1", at(2024, 2), 100 * KWH, quality="ESTIMATED"),
            Reading("M1", at(2024, 3), 200 * KWH),
        ],
        now=at(2024, 3, 2),
    )
    assert figures["2024-01"].quality == "ESTIMATED"
    assert figures["2024-02"].quality == "ESTIMATED"


def test_the_multiplier_scales_register_differences() -> None:
    figures = monthly(
        [Reading("CT", at(2024, 1), 100 * KWH), Reading("CT", at(2024, 2), 102 * KWH)],
        now=at(2024, 2, 2),
        multipliers={"CT": 50},
    )
    assert figures["2024-01"].energy_wh == 100 * KWH


def test_time_of_use_registers_are_differenced_per_period() -> None:
    figures = monthly(
        [
            Reading("M1", at(2024, 1), 0, registers={"PEAK": 0, "VALLEY": 0}),
            Reading(
                "M1",
                at(2024, 2),
                250 * KWH,
                registers={"PEAK": 150 * KWH, "VALLEY": 100 * KWH},
            ),
        ],
        now=at(2024, 2, 2),
    )
    assert figures["2024-01"].time_of_use_wh == {"PEAK": 150 * KWH, "VALLEY": 100 * KWH}


def test_year_to_date_counts_earlier_months_of_the_same_year() -> None:
    readings = [
        Reading("M1", at(2023, 12) + timedelta(days=k * 31), k * 100 * KWH) for k in range(4)
    ]
    figures = monthly_figures(intervals(readings, {}), now=at(2024, 4, 1))
    assert year_to_date(figures, Month(2024, 3)) == sum(
        f.energy_wh for f in figures if f.month in (Month(2024, 1), Month(2024, 2))
    )
    assert year_to_date(figures, Month(2024, 1)) == 0
