"""The current period so far (chargeEstimate) and the public tariffs over a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import tariff_pb2
from servers.billing.months import Month
from tests.billing.core_support import BillingServer
from tests.billing.records import customer_record, reading, readings_request, upsert_request

KWH = 1000
CUSTOMER = "3100000001"


def test_the_estimate_shows_the_tier_and_what_is_left_in_it(billing: BillingServer) -> None:
    now = datetime.now(UTC)
    month = Month.of(now)
    latest = max(month.start + timedelta(minutes=1), now - timedelta(minutes=1))
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record(CUSTOMER)), metadata=billing.service()
    )
    billing.internal.BatchUpsertMeterReadings(
        readings_request(
            reading(CUSTOMER, "M1", "start", month.start, 5_000 * KWH),
            reading(CUSTOMER, "M1", "latest", latest, 5_200 * KWH),
        ),
        metadata=billing.service(),
    )
    estimate = billing.billing.GetChargeEstimate(
        service_pb2.GetChargeEstimateRequest(name=f"customers/{CUSTOMER}/chargeEstimate"),
        metadata=billing.customer(CUSTOMER),
    )
    assert estimate.month == str(month)
    assert estimate.energy_wh == 200 * KWH
    # 170 kWh × 0.4556 = 77.45 → 7745 fen; 30 kWh × 0.5056 = 15.168 yuan → 1517 fen.
    assert estimate.amount_fen == 7_745 + 1_517
    assert (estimate.current_tier, estimate.tier_remaining_wh, estimate.top_tier) == (
        2,
        60 * KWH,
        False,
    )
    assert estimate.tier_period_energy_wh == 200 * KWH
    assert estimate.current_unit_price.value == "0.5056"
    assert estimate.next_unit_price.value == "0.7556"
    assert estimate.tariff_version == "tariffs/residential-tiered/versions/2012-07-01"
    assert abs(estimate.reading_time.ToDatetime(tzinfo=UTC) - latest) < timedelta(seconds=1)
    assert estimate.projected_energy_wh >= estimate.energy_wh
    assert estimate.projected_amount_fen >= estimate.amount_fen


def test_a_tariff_is_public_with_its_published_schedule(billing: BillingServer) -> None:
    tariff = billing.billing.GetTariff(
        service_pb2.GetTariffRequest(name="tariffs/guangzhou-residential-2012")
    )
    assert tariff.current_version == "tariffs/guangzhou-residential-2012/versions/2012-07-01"
    (version,) = tariff.versions
    assert version.state == tariff_pb2.TARIFF_VERSION_STATE_PUBLISHED
    assert version.tier_period == tariff_pb2.TIER_PERIOD_MONTHLY
    assert [(t.tier, t.upper_bound_wh, t.unit_price.value) for t in version.tiers] == [
        (1, 200_000, "0.589"),
        (2, 400_000, "0.639"),
        (3, 0, "0.889"),
    ]
    (summer,) = version.seasons
    assert (summer.start_month, summer.end_month) == (5, 10)
    assert [t.upper_bound_wh for t in summer.tiers] == [260_000, 600_000, 0]


def test_tariffs_are_listed_by_name_and_category(billing: BillingServer) -> None:
    first = billing.billing.ListTariffs(service_pb2.ListTariffsRequest(page_size=2))
    second = billing.billing.ListTariffs(
        service_pb2.ListTariffsRequest(page_size=10, page_token=first.next_page_token)
    )
    names = [t.name for t in [*first.tariffs, *second.tariffs]]
    assert names == sorted(names)
    assert "tariffs/residential-tiered" in names
    assert not second.next_page_token
    business = billing.billing.ListTariffs(
        service_pb2.ListTariffsRequest(customer_category=tariff_pb2.CUSTOMER_CATEGORY_BUSINESS)
    )
    assert list(business.tariffs) == []
