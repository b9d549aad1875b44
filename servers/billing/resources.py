"""Usage, bills, balances and ledger entries as API resources."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Row

from palmgrid.billing.v1 import payment_pb2, resources_pb2, tariff_pb2
from servers.billing.bill_resources import BILL_STATE, PERIOD, QUALITY, static_bill
from servers.billing.bills import effective_state
from servers.billing.ledger import Balance
from servers.billing.models import Bill, BillState, LedgerEntry, MonthlyUsage
from servers.billing.recompute import TIME_OF_USE_COLUMNS
from servers.runtime.protoconv import timestamp


def _quality(value: str) -> resources_pb2.ReadingQuality.ValueType:
    return QUALITY[value]


def _period(value: str) -> tariff_pb2.TimeOfUsePeriod.ValueType:
    return PERIOD[value]


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


def bill_resource(row: Bill | Row[Any], today: date) -> resources_pb2.Bill:
    """A bill as shown on `today` (CST), which decides ISSUED versus OVERDUE: the stored
    rendering of its fixed part (or one built from the columns) with the settlement
    figures of now."""
    bill = resources_pb2.Bill.FromString(row.resource) if row.resource else static_bill(row)
    state = effective_state(row, today)
    owed = row.amount_fen + row.late_fee_fen
    outstanding = 0 if state == BillState.PAID.value else max(owed - row.paid_fen, 0)
    bill.state = BILL_STATE[state]
    bill.late_fee_fen = row.late_fee_fen
    bill.paid_fen = owed - outstanding
    bill.outstanding_fen = outstanding
    paid_time = timestamp(row.paid_time)
    if paid_time is not None:
        bill.paid_time.CopyFrom(paid_time)
    return bill


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
