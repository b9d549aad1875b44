"""The fixed part of a bill as an API resource, and its stored rendering.

A bill's figures (period, energy, lines, tariff version, readings, issue and due dates,
revision) change only when the bill is issued or revised; its settlement (state, paid,
outstanding, late fee) changes with every ledger entry. The fixed part is rendered once,
when the bill is written, into `billing_bill.resource` (a serialized `Bill`), so a read
parses it (microseconds) and adds the settlement figures, instead of building two dozen
messages from columns. Rows without a rendering are built from their columns.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from google.type import decimal_pb2
from sqlalchemy.engine import Row

from palmgrid.billing.v1 import resources_pb2, tariff_pb2
from servers.billing.models import Bill
from servers.runtime.protoconv import date_message, timestamp

# Stored names → enum values, looked up once (reads convert many rows).
QUALITY = {
    name.removeprefix("READING_QUALITY_"): value
    for name, value in resources_pb2.ReadingQuality.items()
}
PERIOD = {
    name.removeprefix("TIME_OF_USE_PERIOD_"): value
    for name, value in tariff_pb2.TimeOfUsePeriod.items()
}
BILL_STATE = {
    name.removeprefix("BILL_STATE_"): value for name, value in resources_pb2.BillState.items()
}
LINE_KIND = {
    name.removeprefix("BILL_LINE_KIND_"): value
    for name, value in resources_pb2.BillLineKind.items()
}


# A bill row, a result row, or plain attributes (for bulk generation).
BillLike = Bill | Row[Any] | SimpleNamespace


def lines_of(bill: BillLike) -> list[dict[str, Any]]:
    """The stored lines of a bill (dicts with kind, tier, period, energy_wh,
    unit_price as a string, amount_fen, version)."""
    lines: list[dict[str, Any]] = json.loads(bill.lines)
    return lines


def bill_line(line: dict[str, Any]) -> resources_pb2.BillLine:
    tier_line = line["kind"] == "TIER"
    return resources_pb2.BillLine(
        kind=LINE_KIND[str(line["kind"])],
        tier=int(line["tier"]),
        time_of_use_period=(
            tariff_pb2.TIME_OF_USE_PERIOD_UNSPECIFIED if tier_line else PERIOD[str(line["period"])]
        ),
        energy_wh=int(line["energy_wh"]),
        unit_price=decimal_pb2.Decimal(value=str(line["unit_price"])),
        amount_fen=int(line["amount_fen"]),
    )


def static_bill(row: BillLike) -> resources_pb2.Bill:
    """The fixed part of a bill resource, from the bill's columns."""
    return resources_pb2.Bill(
        name=f"customers/{row.customer_id}/bills/{row.month}",
        month=row.month,
        period_start_date=date_message(row.period_start_date),
        period_end_date=date_message(row.period_end_date),
        energy_wh=row.energy_wh,
        amount_fen=row.amount_fen,
        lines=[bill_line(line) for line in lines_of(row)],
        tariff_version=row.tariff_version,
        opening_reading_wh=row.opening_reading_wh,
        closing_reading_wh=row.closing_reading_wh,
        reading_quality=QUALITY[row.reading_quality],
        issue_time=timestamp(row.issue_time),
        due_date=date_message(row.due_date),
        revision=row.revision,
    )


def rendering(row: BillLike) -> bytes:
    """What to store in `Bill.resource` for the row's current figures."""
    return static_bill(row).SerializeToString(deterministic=True)
