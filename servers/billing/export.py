"""The customer's own data as a file (Download My Data): daily usage, monthly usage and
bills, as CSV or as a Green Button ESPI Atom feed, produced in pieces.

Streamed: the daily figures are read and written a month at a time, so a 400-day
export holds one month's rows at once, never the whole range (and never it twice). A
gap stays a gap: an empty `energy_wh` with quality MISSING in CSV, no IntervalReading
in ESPI. Money in ESPI is in hundred-thousandths of the currency (CNY, ISO 4217 156),
so fen × 1000; energy in Wh (uom 72, multiplier 0); times are seconds since the epoch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from palmgrid.billing.v1 import resources_pb2
from servers.billing.daily_usage import DayRange, day_resource
from servers.billing.models import Bill, DailyUsage, MonthlyUsage
from servers.billing.months import Month, start_of_day

_DAILY: sa.Table = DailyUsage.__table__  # type: ignore[attr-defined]
_USAGE: sa.Table = MonthlyUsage.__table__  # type: ignore[attr-defined]
_BILL: sa.Table = Bill.__table__  # type: ignore[attr-defined]
CSV_TYPE = "text/csv; charset=utf-8"
ESPI_TYPE = "application/atom+xml"
# ESPI codes (espiDerived.xsd): QualityOfReading 8 = estimated from history.
_ESTIMATED = 8
_NAMESPACE = uuid.UUID("6f1d3c52-9a57-4a8e-8f43-2d5b0c1e7a10")


def month_chunks(days: DayRange) -> Iterator[DayRange]:
    """The range cut at month ends."""
    first = days.first
    while first <= days.last:
        last = min(Month.of(first).last_day, days.last)
        yield DayRange(first, last)
        first = last + timedelta(days=1)


def _days(engine: Engine, customer_id: str, chunk: DayRange) -> dict[date, list[Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_DAILY)
            .where(
                _DAILY.c.customer_id == customer_id, _DAILY.c.day.between(chunk.first, chunk.last)
            )
            .order_by(_DAILY.c.day, _DAILY.c.meter_id)
        ).all()
    by_day: dict[date, list[Any]] = {}
    for row in rows:
        by_day.setdefault(row.day, []).append(row)
    return by_day


def _months(engine: Engine, customer_id: str) -> tuple[Sequence[Any], dict[str, Any]]:
    """Monthly usage (oldest first) and the bills by month."""
    with engine.connect() as connection:
        usage = connection.execute(
            sa.select(_USAGE).where(_USAGE.c.customer_id == customer_id).order_by(_USAGE.c.month)
        ).all()
        bills = connection.execute(sa.select(_BILL).where(_BILL.c.customer_id == customer_id)).all()
    return usage, {bill.month: bill for bill in bills}


# -- CSV -----------------------------------------------------------------------------

CSV_HEADER = "customer,record,period,energy_wh,reading_quality,amount_fen,bill_state\r\n"


def csv_pieces(engine: Engine, customer_id: str, days: DayRange) -> Iterator[str]:
    """The CSV file in pieces: the header, a month of days each, then months and bills."""
    yield CSV_HEADER
    for chunk in month_chunks(days):
        stored = _days(engine, customer_id, chunk)
        lines = []
        for day in chunk.days():
            usage = day_resource(customer_id, day, stored.get(day, ()))
            energy = str(usage.energy_wh) if usage.HasField("energy_wh") else ""
            quality = _quality_name(usage.reading_quality)
            lines.append(f"{customer_id},daily,{day.isoformat()},{energy},{quality},,\r\n")
        yield "".join(lines)
    usage_rows, bills = _months(engine, customer_id)
    lines = [
        f"{customer_id},monthly,{row.month},{row.energy_wh},{row.reading_quality},"
        f"{row.charge_fen},\r\n"
        for row in usage_rows
    ]
    lines += [
        f"{customer_id},bill,{bill.month},{bill.energy_wh},{bill.reading_quality},"
        f"{bill.amount_fen},{bill.state}\r\n"
        for bill in sorted(bills.values(), key=lambda b: b.month)
    ]
    yield "".join(lines)


def _quality_name(value: resources_pb2.ReadingQuality.ValueType) -> str:
    return resources_pb2.ReadingQuality.Name(value).removeprefix("READING_QUALITY_")


# -- Green Button ESPI -----------------------------------------------------------------


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _entry(urn: str, href: str, title: str, content: str, updated: str) -> str:
    return (
        f"<entry><id>urn:uuid:{urn}</id>"
        f'<link rel="self" href="{href}"/>'
        f"<title>{escape(title)}</title>"
        f"<content>{content}</content>"
        f"<published>{updated}</published><updated>{updated}</updated></entry>"
    )


def _interval(start: datetime, seconds: int) -> str:
    return f"<espi:duration>{seconds}</espi:duration><espi:start>{_epoch(start)}</espi:start>"


def espi_pieces(engine: Engine, customer_id: str, days: DayRange, now: datetime) -> Iterator[str]:
    """The ESPI Atom feed in pieces: the feed head with the UsagePoint, MeterReading
    and ReadingType, an IntervalBlock a month, a UsageSummary a month, the feed end."""
    updated = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    base = f"/v1/customers/{customer_id}/usageExport/UsagePoint/1"

    def urn(*parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join((customer_id, *parts))))

    yield (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">'
        f"<id>urn:uuid:{urn('feed')}</id>"
        f"<title>customers/{customer_id} usage</title><updated>{updated}</updated>"
        + _entry(
            urn("UsagePoint"),
            base,
            "UsagePoint",
            "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind>"
            "</espi:ServiceCategory></espi:UsagePoint>",
            updated,
        )
        + _entry(
            urn("MeterReading"),
            f"{base}/MeterReading/1",
            "Daily energy",
            "<espi:MeterReading/>",
            updated,
        )
        + _entry(
            urn("ReadingType"),
            f"{base}/ReadingType/1",
            "Energy delivered per day, Wh",
            # deltaData, electricity, CNY, normal, forward, a day, energy, ×10⁰, Wh.
            "<espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour>"
            "<espi:commodity>1</espi:commodity><espi:currency>156</espi:currency>"
            "<espi:dataQualifier>12</espi:dataQualifier>"
            "<espi:flowDirection>1</espi:flowDirection>"
            "<espi:intervalLength>86400</espi:intervalLength><espi:kind>12</espi:kind>"
            "<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>"
            "<espi:uom>72</espi:uom></espi:ReadingType>",
            updated,
        )
    )
    for chunk in month_chunks(days):
        stored = _days(engine, customer_id, chunk)
        readings = []
        for day in chunk.days():
            usage = day_resource(customer_id, day, stored.get(day, ()))
            if not usage.HasField("energy_wh"):
                continue  # a gap stays a gap
            quality = (
                f"<espi:ReadingQuality><espi:quality>{_ESTIMATED}</espi:quality>"
                "</espi:ReadingQuality>"
                if _quality_name(usage.reading_quality) == "ESTIMATED"
                else ""
            )
            readings.append(
                f"<espi:IntervalReading>{quality}<espi:timePeriod>"
                f"{_interval(start_of_day(day), 86_400)}</espi:timePeriod>"
                f"<espi:value>{usage.energy_wh}</espi:value></espi:IntervalReading>"
            )
        start = start_of_day(chunk.first)
        seconds = chunk.count * 86_400
        yield _entry(
            urn("IntervalBlock", chunk.first.isoformat()),
            f"{base}/MeterReading/1/IntervalBlock/{chunk.first.isoformat()}",
            f"Daily energy {chunk.first.isoformat()} – {chunk.last.isoformat()}",
            f"<espi:IntervalBlock><espi:interval>{_interval(start, seconds)}</espi:interval>"
            + "".join(readings)
            + "</espi:IntervalBlock>",
            updated,
        )
    usage_rows, bills = _months(engine, customer_id)
    summaries = []
    for row in usage_rows:
        month = Month.parse(row.month)
        bill = bills.get(row.month)
        billed = (
            f"<espi:billLastPeriod>{bill.amount_fen * 1000}</espi:billLastPeriod>" if bill else ""
        )
        status_time = bill.issue_time if bill else row.update_time
        summaries.append(
            _entry(
                urn("UsageSummary", row.month),
                f"{base}/UsageSummary/{row.month}",
                f"Month {row.month}",
                "<espi:UsageSummary><espi:billingPeriod>"
                f"{_interval(month.start, int((month.end - month.start).total_seconds()))}"
                f"</espi:billingPeriod>{billed}<espi:currency>156</espi:currency>"
                "<espi:overallConsumptionLastPeriod>"
                "<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>"
                f"<espi:uom>72</espi:uom><espi:value>{row.energy_wh}</espi:value>"
                "</espi:overallConsumptionLastPeriod>"
                f"<espi:statusTimeStamp>{_epoch(status_time)}</espi:statusTimeStamp>"
                "</espi:UsageSummary>",
                updated,
            )
        )
    yield "".join(summaries) + "</feed>"
