"""Tariffs and tariff versions as API resources, and drafts from the API back to
schedules. The API form carries everything the engine uses, so a client can compute
charges from `GET /v1/tariffs/{tariff}` alone (clients/billing_calc.py does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from palmgrid.billing.v1 import tariff_pb2
from servers.billing.models import Tariff, TariffVersion
from servers.billing.schedule import Schedule, Tier
from servers.billing.tariff_catalog import PUBLISHED, version_name
from servers.runtime.protoconv import (
    date_message,
    decimal_message,
    time_of_day,
    time_of_day_text,
    timestamp,
)


def _tier_messages(tiers: Sequence[Tier]) -> list[tariff_pb2.TariffTier]:
    return [
        tariff_pb2.TariffTier(
            tier=t.tier,
            upper_bound_wh=t.upper_bound_wh or 0,
            unit_price=decimal_message(t.unit_price),
        )
        for t in tiers
    ]


def version_resource(row: TariffVersion, end_date: date | None = None) -> tariff_pb2.TariffVersion:
    """The API form of a stored version; `end_date` is the next published version's
    effective date, if any."""
    schedule = Schedule.from_json(row.schedule)
    return tariff_pb2.TariffVersion(
        name=version_name(row.tariff_id, row.id),
        state=tariff_pb2.TariffVersionState.Value(f"TARIFF_VERSION_STATE_{row.state}"),
        effective_date=date_message(row.effective_date),
        end_date=date_message(end_date),
        tier_period=tariff_pb2.TierPeriod.Value(f"TIER_PERIOD_{schedule.tier_period}"),
        tiers=_tier_messages(schedule.tiers),
        seasons=[
            tariff_pb2.TariffSeason(
                display_name=s.display_name,
                start_month=s.start_month,
                end_month=s.end_month,
                tiers=_tier_messages(s.tiers),
            )
            for s in schedule.seasons
        ],
        large_household_extra_wh=schedule.large_household_extra_wh,
        time_of_use_prices=[
            tariff_pb2.TimeOfUsePrice(
                period=tariff_pb2.TimeOfUsePeriod.Value(f"TIME_OF_USE_PERIOD_{p.period}"),
                windows=[
                    tariff_pb2.TimeWindow(start_time=time_of_day(a), end_time=time_of_day(b))
                    for a, b in p.windows
                ],
                unit_price_adjustment=decimal_message(p.unit_price_adjustment),
            )
            for p in schedule.time_of_use_prices
        ],
        description=row.description,
        create_time=timestamp(row.create_time),
        creator=row.creator,
        publish_time=timestamp(row.publish_time),
        publisher=row.publisher,
    )


def published_resources(rows: Sequence[TariffVersion]) -> list[tariff_pb2.TariffVersion]:
    """Published versions, newest effective date first, each with its end date."""
    published = sorted((r for r in rows if r.state == PUBLISHED), key=lambda r: r.effective_date)
    result = []
    for index, row in enumerate(published):
        following = published[index + 1].effective_date if index + 1 < len(published) else None
        result.append(version_resource(row, following))
    return list(reversed(result))


def current_version_of(rows: Sequence[TariffVersion], today: date) -> str:
    """The name of the published version in force on `today`, or ""."""
    in_force = [r for r in rows if r.state == PUBLISHED and r.effective_date <= today]
    if not in_force:
        return ""
    best = max(in_force, key=lambda r: r.effective_date)
    return version_name(best.tariff_id, best.id)


def tariff_resource(
    row: Tariff, versions: Sequence[TariffVersion], today: date
) -> tariff_pb2.Tariff:
    """The public form: the tariff with its published versions (drafts never)."""
    return tariff_pb2.Tariff(
        name=f"tariffs/{row.id}",
        display_name=row.display_name,
        description=row.description,
        customer_category=tariff_pb2.CustomerCategory.Value(
            f"CUSTOMER_CATEGORY_{row.customer_category}"
        ),
        current_version=current_version_of(versions, today),
        versions=published_resources(versions),
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )


def _tier_mappings(tiers: Sequence[tariff_pb2.TariffTier]) -> list[dict[str, Any]]:
    result = []
    for index, tier in enumerate(tiers):
        item: dict[str, Any] = {"unit_price": tier.unit_price.value}
        if index < len(tiers) - 1:
            item["upper_bound_wh"] = tier.upper_bound_wh
        elif tier.upper_bound_wh:
            item["upper_bound_wh"] = tier.upper_bound_wh  # refused by the schedule rules
        result.append(item)
    return result


def schedule_mapping(message: tariff_pb2.TariffVersion) -> dict[str, Any]:
    """The mapping form of an API version, for Schedule.from_mapping to check."""
    return {
        "tier_period": tariff_pb2.TierPeriod.Name(message.tier_period).removeprefix("TIER_PERIOD_"),
        "tiers": _tier_mappings(message.tiers),
        "seasons": [
            {
                "display_name": s.display_name,
                "start_month": s.start_month,
                "end_month": s.end_month,
                "tiers": _tier_mappings(s.tiers),
            }
            for s in message.seasons
        ],
        "large_household_extra_wh": message.large_household_extra_wh,
        "time_of_use_prices": [
            {
                "period": tariff_pb2.TimeOfUsePeriod.Name(p.period).removeprefix(
                    "TIME_OF_USE_PERIOD_"
                ),
                "windows": [
                    [time_of_day_text(w.start_time), time_of_day_text(w.end_time)]
                    for w in p.windows
                ],
                "unit_price_adjustment": p.unit_price_adjustment.value,
            }
            for p in message.time_of_use_prices
        ],
    }
