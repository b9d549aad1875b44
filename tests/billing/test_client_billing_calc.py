"""clients.billing_calc computes bills from the public tariff JSON exactly as the server
does: on every demo customer's bills, and on the reference figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from google.protobuf import json_format

from clients.billing_calc import NextTier, compute_bill, next_tier_start
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from tests.billing.core_support import BillingServer


def tariff_json(billing: BillingServer, tariff: str) -> dict[str, Any]:
    """The tariff as the edge serves `GET /v1/tariffs/{tariff}` (proto3 JSON with
    unpopulated fields)."""
    message = billing.billing.GetTariff(service_pb2.GetTariffRequest(name=f"tariffs/{tariff}"))
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def test_the_client_agrees_with_the_server_on_every_demo_bill(demo_billing: BillingServer) -> None:
    tariff = tariff_json(demo_billing, "residential-tiered")
    staff = demo_billing.staff(everywhere=True)
    compared = 0
    for n in range(1, 1001):
        customer = f"customers/{3100000000 + n}"
        reply = demo_billing.billing.ListBills(
            service_pb2.ListBillsRequest(parent=customer, page_size=100), metadata=staff
        )
        for bill in json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)[
            "bills"
        ]:
            computed = compute_bill(tariff, bill["month"], int(bill["energyWh"]))
            assert computed.amount_fen == int(bill["amountFen"]), bill["name"]
            assert [
                (line.tier, line.energy_wh, line.unit_price, line.amount_fen)
                for line in computed.lines
            ] == [
                (
                    line["tier"],
                    int(line["energyWh"]),
                    Decimal(line["unitPrice"]["value"]),
                    int(line["amountFen"]),
                )
                for line in bill["lines"]
            ], bill["name"]
            assert computed.tariff_version == bill["tariffVersion"]
            compared += 1
    assert compared == 24_000


def test_the_client_reproduces_the_guangzhou_figures(demo_billing: BillingServer) -> None:
    tariff = tariff_json(demo_billing, "guangzhou-residential-2012")
    assert compute_bill(tariff, "2013-07", 600_000).amount_fen == 37_040
    assert compute_bill(tariff, "2013-01", 600_000).amount_fen == 42_340


def test_the_client_handles_time_of_use_and_large_households(demo_billing: BillingServer) -> None:
    tou = tariff_json(demo_billing, "residential-time-of-use")
    bill = compute_bill(tou, "2024-03", 200_000, time_of_use_wh={"PEAK": 120_000, "VALLEY": 80_000})
    assert [(line.period, line.amount_fen) for line in bill.lines if line.period] == [
        ("PEAK", 360),
        ("VALLEY", -1_600),
    ]
    demo = tariff_json(demo_billing, "residential-tiered")
    large = compute_bill(demo, "2024-03", 300_000, large_household=True)
    assert [(line.tier, line.energy_wh) for line in large.lines] == [(1, 270_000), (2, 30_000)]


def test_the_client_says_when_the_next_tier_starts_as_the_forecast_does(
    demo_billing: BillingServer,
) -> None:
    tariff = tariff_json(demo_billing, "residential-tiered")
    # The forecast of tests/billing/test_usage_forecast.py: 204 kWh used by 06-20, the
    # rest of the month at 17,077 Wh a day: 56 kWh left in tier 2, 3.28 days, the 23rd.
    assert next_tier_start(tariff, date(2026, 6, 20), 204_000, 17_077) == NextTier(
        3, 56_000, date(2026, 6, 23)
    )
    # 20 kWh left in tier 1 at 15 kWh a day: the next day but one.
    assert next_tier_start(tariff, date(2026, 6, 11), 150_000, 15_000) == NextTier(
        2, 20_000, date(2026, 6, 12)
    )
    # Not within the month at this pace, and nothing after the top tier.
    assert next_tier_start(tariff, date(2026, 6, 29), 100_000, 20_000) == NextTier(2, 70_000, None)
    assert next_tier_start(tariff, date(2026, 6, 29), 300_000, 20_000) is None
    # Exactly at a bound the energy is still in the lower tier: the next starts now.
    assert next_tier_start(tariff, date(2026, 6, 10), 169_999, 5_000) == NextTier(
        2, 1, date(2026, 6, 10)
    )
