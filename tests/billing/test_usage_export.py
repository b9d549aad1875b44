"""The customer's data as a file over real gRPC: CSV and a Green Button ESPI feed that
validates against espiDerived.xsd (energyos' OpenESPI-Common-java, kept in
tests/billing/espi_schema with its licence), gaps left as gaps, streamed in pieces, and
only for the customer's own 户号."""

from __future__ import annotations

import functools
from pathlib import Path

import grpc
import pytest
import xmlschema

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2
from tests.billing.core_support import BillingServer
from tests.billing.records import (
    bad_fields,
    customer_record,
    daily_reading,
    daily_request,
    month_start_readings,
    readings_request,
    upsert_request,
)

MINE, OTHER = "3100000401", "3100000402"
SCHEMA = Path(__file__).parent / "espi_schema" / "espiDerived.xsd"
ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"


@functools.cache
def espi_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


@pytest.fixture(scope="module")
def billing(module_billing: BillingServer) -> BillingServer:
    service = module_billing.service()
    module_billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record(MINE), customer_record(OTHER, phone="13912345678")),
        metadata=service,
    )
    module_billing.internal.BatchUpsertMeterReadings(
        readings_request(*month_start_readings(MINE, {"2026-04": 300, "2026-05": 200})),
        metadata=service,
    )
    days = [daily_reading(MINE, f"2026-05-{d:02d}", 6_000 + d) for d in range(1, 32) if d != 9]
    days[2] = daily_reading(
        MINE, "2026-05-03", 6_003, quality=resources_pb2.READING_QUALITY_ESTIMATED
    )
    module_billing.internal.BatchUpsertDailyUsage(daily_request(*days), metadata=service)
    return module_billing


def download(
    billing: BillingServer, fmt: int, caller: list | None = None, customer: str = MINE, **dates: str
) -> tuple[list[str], bytes]:
    pieces = list(
        billing.billing.ExportUsage(
            service_pb2.ExportUsageRequest(parent=f"customers/{customer}", format=fmt, **dates),
            metadata=caller or billing.customer(MINE),
        )
    )
    return [p.content_type for p in pieces], b"".join(p.data for p in pieces)


def test_the_espi_feed_is_valid_against_the_schema_and_leaves_gaps_out(
    billing: BillingServer,
) -> None:
    types, body = download(
        billing, service_pb2.EXPORT_FORMAT_ESPI, start_date="2026-04-20", end_date="2026-05-31"
    )
    assert set(types) == {"application/atom+xml"}
    # One piece for the head, one IntervalBlock a month (April's days, May's), the end.
    assert len(types) == 4
    schema = espi_schema()
    schema.validate(body.decode())  # raises with the first violation
    feed = schema.to_etree(schema.to_dict(body.decode()), path=f"{ATOM}feed")
    contents = [e.find(f"{ATOM}content")[0].tag for e in feed.iter(f"{ATOM}entry")]
    assert contents[:3] == [f"{ESPI}UsagePoint", f"{ESPI}MeterReading", f"{ESPI}ReadingType"]
    assert contents.count(f"{ESPI}IntervalBlock") == 2
    assert contents.count(f"{ESPI}UsageSummary") == 3  # April, May (billed), June so far
    may = [b for b in feed.iter(f"{ESPI}IntervalBlock")][1]
    readings = may.findall(f"{ESPI}IntervalReading")
    assert len(readings) == 30  # 31 days, the 9th never arrived: not invented
    assert readings[0].find(f"{ESPI}value").text == "6001"
    assert readings[2].find(f"{ESPI}ReadingQuality/{ESPI}quality").text == "8"
    april_summary = next(iter(feed.iter(f"{ESPI}UsageSummary")))
    # 300 kWh billed 15317 fen = 153.17 yuan: 15,317,000 hundred-thousandths of a yuan.
    assert april_summary.find(f"{ESPI}billLastPeriod").text == "15317000"
    assert april_summary.find(f"{ESPI}overallConsumptionLastPeriod/{ESPI}value").text == "300000"


def test_a_feed_that_breaks_the_schema_is_caught() -> None:
    broken = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">'
        "<id>x</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>"
        "<entry><id>y</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>"
        "<content><espi:IntervalBlock><espi:IntervalReading><espi:value>many</espi:value>"
        "</espi:IntervalReading></espi:IntervalBlock></content></entry></feed>"
    )
    assert not espi_schema().is_valid(broken)


def test_the_csv_has_a_line_a_day_with_gaps_empty_then_months_and_bills(
    billing: BillingServer,
) -> None:
    types, body = download(
        billing, service_pb2.EXPORT_FORMAT_CSV, start_date="2026-05-01", end_date="2026-05-31"
    )
    assert set(types) == {"text/csv; charset=utf-8"}
    lines = body.decode().splitlines()
    assert lines[0] == "customer,record,period,energy_wh,reading_quality,amount_fen,bill_state"
    daily = [line for line in lines if ",daily," in line]
    assert len(daily) == 31
    assert daily[8] == f"{MINE},daily,2026-05-09,,MISSING,,"
    assert daily[2] == f"{MINE},daily,2026-05-03,6003,ESTIMATED,,"
    assert f"{MINE},bill,2026-04,300000,ACTUAL,15317,ISSUED" in lines
    assert f"{MINE},monthly,2026-05,200000,ACTUAL,9262," in lines


def test_only_the_customers_own_number_is_exported(billing: BillingServer) -> None:
    for caller, customer in [
        (billing.customer(MINE), OTHER),
        (billing.staff("QJ-QL"), MINE),
        (billing.service(), MINE),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            download(billing, service_pb2.EXPORT_FORMAT_CSV, caller=caller, customer=customer)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_range_over_400_days_is_refused_naming_the_field(billing: BillingServer) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        download(
            billing, service_pb2.EXPORT_FORMAT_ESPI, start_date="2025-01-01", end_date="2026-05-31"
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(refused.value) == ["endDate"]
