"""Usage, bills, balances and ledger entries as API resources."""

from __future__ import annotations

from datetime import date
from typing import Any

from google.type import decimal_pb2
from sqlalchemy.engine import Row

from palmgrid.billing.v1 import payment_pb2, resources_pb2, tariff_pb2
from servers.billing.bills import effective_state, lines_of
from servers.billing.ledger import Balance
from servers.billing.models import Bill, BillState, LedgerEntry, MonthlyUsage
from servers.billing.protoconv import date_message, timestamp
from servers.billing.recompute import TIME_OF_USE_COLUMNS

# Stored names → enum values, looked up once (the hot reads convert many rows).
_QUALITY = {
    name.removeprefix("READING_QUALITY_"): value
    for name, value in resources_pb2.ReadingQuality.items()
}
_PERIOD = {
    name.removeprefix("TIME_OF_USE_PERIOD_"): value
    for name, value in tariff_pb2.TimeOfUsePeriod.items()
}
_BILL_STATE = {
    name.removeprefix("BILL_STATE_"): value for name, value in resources_pb2.BillState.items()
}
_LINE_KIND = {
    name.removeprefix("BILL_LINE_KIND_"): value
    for name, value in resources_pb2.BillLineKind.items()
}


def _quality(value: str) -> resources_pb2.ReadingQuality.ValueType:
    return _QUALITY[value]


def _period(value: str) -> tariff_pb2.TimeOfUsePeriod.ValueType:
    return _PERIOD[value]


def usage_resource(row: MonthlyUsage | Row[Any]) -> resources_pb2.MonthlyUsage:
    return resources_pb2.MonthlyUsage(
        name=f"customers/{row.customer_id}/monthlyUsage/{row.month}",
        month=row.month,
        energy_wh=row.energy_wh,
        charge_fen=row.charge_fen,
        reading_quality=_quality(row.reading_quality),
        time_of_use_energy=[
            resources_pb2.TimeOfUseEnergy(period=_period(period), energy_wh=value)
            for period, column in TIME_OF_USE_COLUMNS.items()
            if (value := getattr(row, column)) is not None
        ],
        complete=row.complete,
        update_time=timestamp(row.update_time),
    )


def bill_line(line: dict[str, object]) -> resources_pb2.BillLine:
    tier_line = line["kind"] == "TIER"
    return resources_pb2.BillLine(
        kind=_LINE_KIND[str(line["kind"])],
        tier=int(line["tier"]),  # type: ignore[call-overload]
        time_of_use_period=(
            tariff_pb2.TIME_OF_USE_PERIOD_UNSPECIFIED if tier_line else _period(str(line["period"]))
        ),
        energy_wh=int(line["energy_wh"]),  # type: ignore[call-overload]
        unit_price=decimal_pb2.Decimal(value=str(line["unit_price"])),
        amount_fen=int(line["amount_fen"]),  # type: ignore[call-overload]
    )


def bill_resource(row: Bill | Row[Any], today: date) -> resources_pb2.Bill:
    """A bill as shown on `today` (CST), which decides ISSUED versus OVERDUE."""
    state = effective_state(row, today)
    owed = row.amount_fen + row.late_fee_fen
    outstanding = 0 if state == BillState.PAID.value else max(owed - row.paid_fen, 0)
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
        reading_quality=_quality(row.reading_quality),
        state=_BILL_STATE[state],
        issue_time=timestamp(row.issue_time),
        due_date=date_message(row.due_date),
        late_fee_fen=row.late_fee_fen,
        paid_fen=owed - outstanding,
        outstanding_fen=outstanding,
        paid_time=timestamp(row.paid_time),
        revision=row.revision,
    )


def balance_resource(balance: Balance, pending_fen: int = 0) -> resources_pb2.Balance:
    return resources_pb2.Balance(
        name=f"customers/{balance.customer_id}/balance",
        balance_fen=balance.balance_fen,
        arrears_fen=balance.arrears_fen,
        pending_fen=pending_fen,
        update_time=timestamp(balance.update_time),
    )


def ledger_entry_resource(row: LedgerEntry) -> payment_pb2.LedgerEntry:
    return payment_pb2.LedgerEntry(
        name=f"customers/{row.customer_id}/ledgerEntries/{row.id}",
        kind=payment_pb2.LedgerEntryKind.Value(f"LEDGER_ENTRY_KIND_{row.kind}"),
        amount_fen=row.amount_fen,
        net_balance_after_fen=row.net_after_fen,
        source=row.reference,
        description=row.note,
        create_time=timestamp(row.create_time),
    )
