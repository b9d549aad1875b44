"""Tables of the billing core: customer archive, meters, readings, usage, tariffs, bills,
the ledger and the materialized balance.

All tables are named `billing_*` (payments keep `payment*` tables) and live in their own
registry, so `metadata` is exactly the billing service's schema. Money is integer fen,
energy integer Wh, times UTC (stored naive on SQLite, read back as aware UTC), months
"YYYY-MM" in China Standard Time. Enumerations are stored by their proto name without
the enum prefix ("POSTPAID", "BILL"), so rows read the same as the API.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from palmgrid.billing.v1 import payment_pb2, resources_pb2

# Time columns default to the wall clock only for rows built without a time; the
# service code sets them from its injected clock.
from servers.runtime import SYSTEM_CLOCK
from servers.runtime.columns import AutoBigInt, UtcDateTime


class BillingModel(SQLModel, registry=registry()):
    """Base of every billing table (payments' tables derive from it too)."""


metadata = BillingModel.metadata


class LedgerEntryKind(enum.StrEnum):
    """What a ledger entry books; the names of `palmgrid.billing.v1.LedgerEntryKind`."""

    BILL = "BILL"
    BILL_REVISION = "BILL_REVISION"
    LATE_FEE = "LATE_FEE"
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"
    BALANCE_REFUND = "BALANCE_REFUND"

    @property
    def proto(self) -> int:
        """The proto enum value."""
        return int(payment_pb2.LedgerEntryKind.Value(f"LEDGER_ENTRY_KIND_{self.value}"))


class BillingMode(enum.StrEnum):
    PREPAID = "PREPAID"
    POSTPAID = "POSTPAID"

    @property
    def proto(self) -> int:
        return int(resources_pb2.BillingMode.Value(f"BILLING_MODE_{self.value}"))


class CustomerState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"

    @property
    def proto(self) -> int:
        return int(resources_pb2.CustomerState.Value(f"CUSTOMER_STATE_{self.value}"))


class ReadingQuality(enum.StrEnum):
    """Ordered from best to worst: a figure takes the worst quality of its readings."""

    ACTUAL = "ACTUAL"
    ESTIMATED = "ESTIMATED"
    MISSING = "MISSING"

    @property
    def proto(self) -> int:
        return int(resources_pb2.ReadingQuality.Value(f"READING_QUALITY_{self.value}"))


class BillState(enum.StrEnum):
    ISSUED = "ISSUED"
    PAID = "PAID"
    OVERDUE = "OVERDUE"

    @property
    def proto(self) -> int:
        return int(resources_pb2.BillState.Value(f"BILL_STATE_{self.value}"))


def _money(**kwargs: Any) -> Any:
    """A BIGINT column (fen or Wh): int4 would overflow at 21 million yuan."""
    return Field(sa_type=BigInteger, **kwargs)


class Customer(BillingModel, table=True):
    """A customer (户号); `id` is the 10-digit customer number."""

    __tablename__ = "billing_customer"
    __table_args__ = (
        Index("ix_billing_customer_area_code", "area_code", "id"),
        Index("ix_billing_customer_supply_office", "supply_office", "id"),
    )

    id: str = Field(primary_key=True, max_length=10)
    holder_name: str = Field(max_length=64)
    holder_id_number: str = Field(default="", max_length=32)
    registered_phone: str = Field(default="", max_length=16)
    address: str = Field(max_length=256)
    supply_office: str = Field(max_length=32)
    area_code: str = Field(max_length=16)
    # Tariff id, such as "residential-tiered" (the resource is `tariffs/{tariff}`).
    tariff: str = Field(max_length=63)
    billing_mode: str = Field(max_length=16)
    large_household: bool = Field(default=False)
    state: str = Field(default=CustomerState.ACTIVE.value, max_length=16)
    debit_bank: str = Field(default="", max_length=64)
    debit_account: str = Field(default="", max_length=32)
    open_date: date | None = Field(default=None)
    source_update_time: datetime = Field(sa_type=UtcDateTime)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class Meter(BillingModel, table=True):
    """A meter installed (or once installed) for a customer."""

    __tablename__ = "billing_meter"

    customer_id: str = Field(primary_key=True, foreign_key="billing_customer.id", max_length=10)
    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(default="SINGLE_PHASE", max_length=16)
    multiplier: int = Field(default=1)
    time_of_use: bool = Field(default=False)
    remote_read: bool = Field(default=False)
    install_date: date | None = Field(default=None)
    remove_date: date | None = Field(default=None)
    # Order of the meters in the customer record (current ones first).
    position: int = Field(default=0)


class MeterReading(BillingModel, table=True):
    """A reading of a meter's cumulative registers; `id` is the metering system's id."""

    __tablename__ = "billing_meter_reading"
    __table_args__ = (Index("ix_billing_meter_reading_time", "customer_id", "read_time"),)

    customer_id: str = Field(primary_key=True, max_length=10)
    meter_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=63)
    read_time: datetime = Field(sa_type=UtcDateTime)
    value_wh: int = _money()
    quality: str = Field(max_length=16)
    source: str = Field(max_length=16)
    # Time-of-use registers in Wh; None when the meter has none.
    sharp_wh: int | None = _money(default=None)
    peak_wh: int | None = _money(default=None)
    flat_wh: int | None = _money(default=None)
    valley_wh: int | None = _money(default=None)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class MonthlyUsage(BillingModel, table=True):
    """One month's energy and charge of a customer (derived from readings)."""

    __tablename__ = "billing_monthly_usage"

    customer_id: str = Field(primary_key=True, max_length=10)
    month: str = Field(primary_key=True, max_length=7)
    energy_wh: int = _money()
    charge_fen: int = _money()
    reading_quality: str = Field(default=ReadingQuality.ACTUAL.value, max_length=16)
    sharp_wh: int | None = _money(default=None)
    peak_wh: int | None = _money(default=None)
    flat_wh: int | None = _money(default=None)
    valley_wh: int | None = _money(default=None)
    complete: bool = Field(default=True)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class DailyUsage(BillingModel, table=True):
    """One meter's energy on one day (China Standard Time), as the metering system's
    daily readings give it. `energy_wh` is None for a day it reports as not obtained
    (quality MISSING); a day with no row at all is a gap too. Never interpolated."""

    __tablename__ = "billing_daily_usage"

    # Key order: one customer's range of days is one index range scan.
    customer_id: str = Field(primary_key=True, max_length=10)
    day: date = Field(primary_key=True)
    meter_id: str = Field(primary_key=True, max_length=32)
    energy_wh: int | None = _money(default=None)
    quality: str = Field(max_length=16)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class Bill(BillingModel, table=True):
    """A monthly bill. `lines` is the JSON list of bill lines (servers.billing.bills)."""

    __tablename__ = "billing_bill"
    __table_args__ = (
        # Open bills by due date, for the daily late-fee run (a small part of all bills).
        Index(
            "ix_billing_bill_open",
            "due_date",
            postgresql_where=text("state <> 'PAID'"),
            sqlite_where=text("state <> 'PAID'"),
        ),
    )

    customer_id: str = Field(primary_key=True, max_length=10)
    month: str = Field(primary_key=True, max_length=7)
    period_start_date: date
    period_end_date: date
    energy_wh: int = _money()
    amount_fen: int = _money()
    lines: str = Field(default="[]")
    tariff_version: str = Field(max_length=128)
    opening_reading_wh: int = _money(default=0)
    closing_reading_wh: int = _money(default=0)
    reading_quality: str = Field(default=ReadingQuality.ACTUAL.value, max_length=16)
    state: str = Field(default=BillState.ISSUED.value, max_length=16)
    issue_time: datetime = Field(sa_type=UtcDateTime)
    due_date: date
    late_fee_fen: int = _money(default=0)
    # The last day late fees have been booked for; None before the first accrual.
    late_fee_through: date | None = Field(default=None)
    paid_fen: int = _money(default=0)
    paid_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revision: int = Field(default=0)
    # The fixed part of the API resource, rendered when the bill is written (see
    # servers.billing.bill_resources); None: built from the columns when read.
    resource: bytes | None = Field(default=None, sa_type=LargeBinary)


class Tariff(BillingModel, table=True):
    """A tariff (`tariffs/{id}`)."""

    __tablename__ = "billing_tariff"

    id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    customer_category: str = Field(default="RESIDENTIAL", max_length=16)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class TariffVersion(BillingModel, table=True):
    """A version of a tariff; `schedule` is the JSON schedule (servers.billing.tariffs)."""

    __tablename__ = "billing_tariff_version"

    tariff_id: str = Field(primary_key=True, foreign_key="billing_tariff.id", max_length=63)
    id: str = Field(primary_key=True, max_length=63)
    state: str = Field(default="DRAFT", max_length=16)
    effective_date: date
    schedule: str
    description: str = Field(default="", max_length=2000)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    creator: str = Field(default="", max_length=128)
    publish_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    publisher: str = Field(default="", max_length=128)


class LedgerEntry(BillingModel, table=True):
    """One booked movement on a customer's account; rows are never updated or deleted.

    `amount_fen` > 0 credits the customer, < 0 debits. (`kind`, `reference`) is unique:
    the same thing cannot be booked twice.
    """

    __tablename__ = "billing_ledger_entry"
    __table_args__ = (
        UniqueConstraint("kind", "reference", name="uq_billing_ledger_entry_reference"),
        Index("ix_billing_ledger_entry_customer", "customer_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoBigInt)
    customer_id: str = Field(foreign_key="billing_customer.id", max_length=10)
    kind: str = Field(max_length=16)
    amount_fen: int = _money()
    # The customer's net balance (credit minus arrears) right after this entry.
    net_after_fen: int = _money()
    reference: str = Field(max_length=200)
    note: str = Field(default="", max_length=500)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class BalanceRow(BillingModel, table=True):
    """The materialized sum of a customer's ledger entries (net: credit − arrears)."""

    __tablename__ = "billing_balance"

    customer_id: str = Field(primary_key=True, foreign_key="billing_customer.id", max_length=10)
    net_fen: int = _money(default=0)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class Adjustment(BillingModel, table=True):
    """A manual credit or debit made by staff, booked as an ADJUSTMENT ledger entry."""

    __tablename__ = "billing_adjustment"
    __table_args__ = (
        Index("ix_billing_adjustment_customer", "customer_id", "create_time"),
        UniqueConstraint("request_id", name="uq_billing_adjustment_request"),
    )

    id: str = Field(primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="billing_customer.id", max_length=10)
    kind: str = Field(max_length=16)
    amount_fen: int = _money()
    reason: str = Field(max_length=500)
    bill: str = Field(default="", max_length=64)
    request_id: str = Field(default="", max_length=36)
    # Hash of the request body, to tell a retry from a reused request_id.
    request_fingerprint: str = Field(default="", max_length=64)
    # For balance refunds: who receives the money (sensitive; masked when shown).
    payee_name: str = Field(default="", max_length=64)
    payee_bank: str = Field(default="", max_length=64)
    payee_account: str = Field(default="", max_length=32)
    ledger_entry_id: int = Field(sa_type=BigInteger)
    creator: str = Field(default="", max_length=128)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
