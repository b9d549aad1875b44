"""Usage insights through the real edge over HTTPS: the demo's 400 days with their gaps
shown as gaps, cached and made fresh by the next push from ingest, a range over 400
days refused naming the field, and the scope of customers and staff; the customer's
download of their own data, streamed, schema-valid ESPI; last month explained, the
forecast and the trend agreeing with the bills."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import grpc
import pytest
import xmlschema

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import resources_pb2
from palmgrid.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from tests.e2e.conftest import demo_customer, refusal
from tests.e2e.system import System

NewCustomer = Callable[..., EdgeClient]
ESPI_SCHEMA = Path(__file__).parents[1] / "billing" / "espi_schema" / "espiDerived.xsd"
# Demo customers 3 (麒麟 office, the demo staff's) and 6 (沾益).
MINE, OTHER_OFFICE = 3, 6


def four_hundred_days(client: EdgeClient, customer: str) -> tuple[dict[str, str], list[dict]]:
    last = date.fromisoformat(client.daily_usage(customer)["endDate"])
    params = {"startDate": (last - timedelta(days=399)).isoformat(), "endDate": last.isoformat()}
    return params, client.daily_usage(customer, **params)["dailyUsage"]


def push_daily(system: System, customer: str, day: str, energy_wh: int) -> None:
    """A daily reading as the metering system pushes it, through ingest to billing."""
    credentials = system.settings.client_credentials("metering")
    assert credentials is not None
    reading = internal_pb2.DailyMeterReading(
        meter=f"customers/{customer}/meters/E{int(customer) - 3_100_000_000:08d}",
        date=day,
        energy_wh=energy_wh,
        quality=resources_pb2.READING_QUALITY_ACTUAL,
    )
    with grpc.secure_channel(system.services["ingest"].target, credentials) as channel:
        reply = ingest_service_pb2_grpc.IngestServiceStub(channel).PushDailyReadings(
            ingest_service_pb2.PushDailyReadingsRequest(
                daily_readings=[reading], request_id=str(uuid.uuid4())
            )
        )
    assert (reply.created_count, reply.quarantined_count) == (1, 0)


def test_a_gap_is_shown_as_a_gap_and_a_push_that_fills_it_is_read_fresh(
    system: System, new_customer: NewCustomer
) -> None:
    client, customer = new_customer(MINE), demo_customer(MINE)
    params, days = four_hundred_days(client, customer)
    assert len(days) == 400
    gaps = [d for d in days if "energyWh" not in d]
    assert gaps, "the demo data has gaps"
    assert {d["readingQuality"] for d in gaps} == {"READING_QUALITY_MISSING"}
    assert all(int(d["energyWh"]) > 0 for d in days if d not in gaps)
    assert client.daily_usage_reply(customer, **params).headers["x-cache"] == "HIT"
    push_daily(system, customer, gaps[0]["date"], 7_654)
    fresh = client.daily_usage_reply(customer, **params)
    assert fresh.headers["x-cache"] == "MISS"
    filled = next(d for d in fresh.json["dailyUsage"] if d["date"] == gaps[0]["date"])
    assert (filled["energyWh"], filled["readingQuality"]) == ("7654", "READING_QUALITY_ACTUAL")


def test_more_than_400_days_is_a_400_naming_the_field(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer(MINE)
    with pytest.raises(EdgeApiError) as caught:
        client.daily_usage(demo_customer(MINE), startDate="2025-01-01", endDate="2026-02-05")
    error = caught.value
    assert error.status == 400
    bad = [d for d in error.details if d.get("@type", "").endswith("BadRequest")]
    assert [v["field"] for v in bad[0]["fieldViolations"]] == ["endDate"]


def test_a_bound_customer_and_staff_in_scope_read_and_others_are_refused(
    system: System, new_customer: NewCustomer, staff: Callable[[str], EdgeClient]
) -> None:
    path = f"/v1/customers/{demo_customer(MINE)}/dailyUsage"
    other_path = f"/v1/customers/{demo_customer(OTHER_OFFICE)}/dailyUsage"
    customer, agent = new_customer(MINE), staff("agent")
    assert len(customer.daily_usage(demo_customer(MINE))["dailyUsage"]) == 30
    assert refusal(agent, path) == "200"
    assert refusal(agent, other_path).startswith("403")
    assert refusal(new_customer(MINE + 1), path).startswith("403")
    assert refusal(new_customer(), path).startswith("403")


def test_the_customer_downloads_a_schema_valid_espi_file_of_their_own_number_only(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer(MINE)
    body = b"".join(client.export_usage(demo_customer(MINE)))
    schema = xmlschema.XMLSchema(str(ESPI_SCHEMA))
    schema.validate(body.decode())
    blocks = body.count(b"<espi:IntervalBlock>")
    assert 13 <= blocks <= 15  # 400 days cut at month ends
    csv = b"".join(client.export_usage(demo_customer(MINE), "EXPORT_FORMAT_CSV")).decode()
    assert csv.count(",daily,") == 400
    with pytest.raises(EdgeApiError) as refused:
        b"".join(client.export_usage(demo_customer(MINE + 1)))
    assert refused.value.status == 403


def test_last_month_explained_forecast_and_trend_agree_with_the_bills(
    system: System, new_customer: NewCustomer, staff: Callable[[str], EdgeClient]
) -> None:
    client, customer = new_customer(MINE), demo_customer(MINE)
    bill = client.bills(customer)["bills"][0]
    month = bill["name"].rsplit("/", 1)[1]
    analysis = client.send("GET", f"/v1/customers/{customer}/usageAnalyses/{month}").json
    charge = sum(int(line["amountFen"]) for line in bill["lines"])
    assert (analysis["chargeFen"], analysis["energyWh"]) == (str(charge), bill["energyWh"])
    exact = Decimal(charge * 1000) / Decimal(int(bill["energyWh"]))
    expected = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(analysis["averagePriceFenPerKwh"]["value"]) == expected
    assert analysis["sameMonthLastYear"]["months"] and analysis["lastThreeMonths"]["months"]
    forecast = client.send("GET", f"/v1/customers/{customer}/usageForecast").json
    assert forecast["method"] in ("FORECAST_METHOD_SAME_DAYS_LAST_YEAR", "FORECAST_METHOD_NONE")
    trend = client.send("GET", f"/v1/customers/{customer}/usageTrend").json
    assert [m["month"] for m in trend["months"]][-1] == month
    assert trend["months"][-1]["chargeFen"] == str(charge)
    agent = staff("agent")
    assert refusal(agent, f"/v1/customers/{customer}/usageTrend") == "200"
    assert refusal(new_customer(MINE + 1), f"/v1/customers/{customer}/usageTrend").startswith("403")
