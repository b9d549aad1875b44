"""The ledger: append-only entries per customer and the balance kept as their sum.

Every movement of money on a customer's account is one `LedgerEntry` (bill charges,
bill revisions, late fees, payments, refunds, adjustments). `post_entry` appends it and
moves the materialized `BalanceRow` in the same transaction, so the balance is always
the exact sum of the entries. Entries are never updated or deleted: a correction is a
new entry.

Sign: `amount_fen` > 0 credits the customer (payments, credits), < 0 debits it (bills,
late fees, debits). The net balance may be negative; the API shows it as
`balance_fen` (credit, ≥ 0) and `arrears_fen` (owed, ≥ 0).

Exactly-once: (`kind`, `reference`) is unique, e.g. (PAYMENT, "payments/<id>"). Posting
the same pair again raises `DuplicateLedgerEntry` and leaves the caller's transaction
usable (the attempt runs in a savepoint), so a retried payment confirmation books once.

After each entry, open bills are settled against the net balance (oldest first, see
`servers.billing.settlement`), so a payment marks bills PAID in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from servers.billing import settlement
from servers.billing.models import BalanceRow, Customer, LedgerEntry, LedgerEntryKind
from servers.runtime import AlreadyExists

__all__ = [
    "Balance",
    "DuplicateLedgerEntry",
    "balance_of",
    "customer_exists",
    "get_customer",
    "post_entry",
]


class DuplicateLedgerEntry(AlreadyExists):
    """An entry with this kind and reference was already booked (ALREADY_EXISTS)."""

    def __init__(self, kind: LedgerEntryKind, reference: str) -> None:
        super().__init__(
            f"a {kind.value} ledger entry for {reference} was already booked",
            metadata={"kind": kind.value, "reference": reference},
        )
        self.kind = kind
        self.reference = reference


@dataclass(frozen=True)
class Balance:
    """A customer's position: `net_fen` is the sum of all entries (fen, may be < 0);
    `balance_fen` = max(net, 0) is credit held, `arrears_fen` = max(−net, 0) is owed."""

    customer_id: str
    net_fen: int
    update_time: datetime

    @property
    def balance_fen(self) -> int:
        return max(self.net_fen, 0)

    @property
    def arrears_fen(self) -> int:
        return max(-self.net_fen, 0)


def get_customer(session: Session, customer_id: str) -> Customer | None:
    """The customer with 10-digit number `customer_id`, or None."""
    return session.get(Customer, customer_id)


def customer_exists(session: Session, customer_id: str) -> bool:
    """Whether customer `customer_id` is in the archive."""
    found = session.exec(select(Customer.id).where(Customer.id == customer_id)).first()
    return found is not None


def balance_of(session: Session, customer_id: str, now: datetime) -> Balance:
    """The customer's materialized balance (zero, as of `now`, before any entry)."""
    row = session.get(BalanceRow, customer_id)
    if row is None:
        return Balance(customer_id, 0, now)
    return Balance(customer_id, row.net_fen, row.update_time)


def post_entry(
    session: Session,
    *,
    customer_id: str,
    kind: LedgerEntryKind,
    amount_fen: int,
    reference: str,
    occurred_at: datetime,
    now: datetime,
    note: str = "",
) -> LedgerEntry:
    """Append one entry and move the customer's balance by `amount_fen` (fen; > 0
    credits, < 0 debits) in the caller's transaction (the caller commits).

    `reference` names what is booked ("payments/<id>", "customers/<id>/bills/2024-05");
    it is unique per `kind`, and a second post raises `DuplicateLedgerEntry` without
    changing anything. `occurred_at` is when the movement happened, `now` when it is
    booked (the entry's create_time and the balance's update_time; both UTC). Raises
    LookupError when the customer does not exist.
    """
    kind = LedgerEntryKind(kind)
    if _already_booked(session, kind, reference):
        raise DuplicateLedgerEntry(kind, reference)
    if not customer_exists(session, customer_id):
        raise LookupError(f"customers/{customer_id} does not exist")
    try:
        with session.begin_nested():
            net_after = _move_balance(session, customer_id, amount_fen, now)
            entry = LedgerEntry(
                customer_id=customer_id,
                kind=kind.value,
                amount_fen=amount_fen,
                net_after_fen=net_after,
                reference=reference,
                note=note,
                occurred_at=occurred_at,
                create_time=now,
            )
            session.add(entry)
            session.flush()
    except IntegrityError as error:
        # A concurrent transaction booked the same reference first (its row is now
        # visible: the unique index waited for that transaction to commit).
        if _already_booked(session, kind, reference):
            raise DuplicateLedgerEntry(kind, reference) from error
        raise
    settlement.settle_bills(session, customer_id, net_after, occurred_at)
    return entry


def _already_booked(session: Session, kind: LedgerEntryKind, reference: str) -> bool:
    query = select(LedgerEntry.id).where(
        LedgerEntry.kind == kind.value, LedgerEntry.reference == reference
    )
    return session.exec(query).first() is not None


def _move_balance(session: Session, customer_id: str, amount_fen: int, now: datetime) -> int:
    """Add `amount_fen` to the balance row atomically (the UPDATE locks the row, so
    concurrent posts for one customer serialize) and return the new net balance."""
    table = BalanceRow.__table__  # type: ignore[attr-defined]
    update = (
        sa.update(table)
        .where(table.c.customer_id == customer_id)
        .values(net_fen=table.c.net_fen + amount_fen, update_time=now)
        .returning(table.c.net_fen)
    )
    net = session.execute(update).scalar_one_or_none()
    if net is not None:
        return int(net)
    session.add(BalanceRow(customer_id=customer_id, net_fen=amount_fen, update_time=now))
    session.flush()
    return amount_fen
