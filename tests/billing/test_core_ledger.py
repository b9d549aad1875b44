"""The ledger: entries are appended, the balance is their sum, a reference books once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from servers.billing.ledger import DuplicateLedgerEntry, balance_of, post_entry
from servers.billing.models import Customer, LedgerEntry, LedgerEntryKind
from servers.runtime import session_scope

AT = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def test_balance_is_the_sum_of_entries(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer("3100000001")
    with session_scope(billing_engine, write=True) as session:
        post_entry(
            session,
            customer_id="3100000001",
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=10_000,
            reference="payments/p1",
            occurred_at=AT,
            now=AT,
        )
        entry = post_entry(
            session,
            customer_id="3100000001",
            kind=LedgerEntryKind.BILL,
            amount_fen=-12_345,
            reference="customers/3100000001/bills/2024-05",
            occurred_at=AT,
            now=AT,
        )
        assert entry.net_after_fen == -2_345
    with session_scope(billing_engine) as session:
        balance = balance_of(session, "3100000001", AT)
        total = session.exec(
            select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.customer_id == "3100000001")
        ).one()
    assert balance.net_fen == total == -2_345
    assert (balance.balance_fen, balance.arrears_fen) == (0, 2_345)


def test_entry_and_balance_carry_the_booking_time_not_the_movement_time(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer("3100000004")
    booked = AT + timedelta(days=2)
    with session_scope(billing_engine, write=True) as session:
        post_entry(
            session,
            customer_id="3100000004",
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=100,
            reference="payments/late-booked",
            occurred_at=AT,
            now=booked,
        )
    with session_scope(billing_engine) as session:
        entry = session.exec(
            select(LedgerEntry).where(LedgerEntry.reference == "payments/late-booked")
        ).one()
        assert (entry.occurred_at, entry.create_time) == (AT, booked)
        assert balance_of(session, "3100000004", AT).update_time == booked


def test_same_reference_books_once_and_keeps_the_transaction_usable(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer("3100000002")
    with session_scope(billing_engine, write=True) as session:
        post_entry(
            session,
            customer_id="3100000002",
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=500,
            reference="payments/p2",
            occurred_at=AT,
            now=AT,
        )
        with pytest.raises(DuplicateLedgerEntry):
            post_entry(
                session,
                customer_id="3100000002",
                kind=LedgerEntryKind.PAYMENT,
                amount_fen=500,
                reference="payments/p2",
                occurred_at=AT,
                now=AT,
            )
        # The same reference under another kind is another thing booked.
        post_entry(
            session,
            customer_id="3100000002",
            kind=LedgerEntryKind.REFUND,
            amount_fen=-500,
            reference="payments/p2",
            occurred_at=AT,
            now=AT,
        )
    with session_scope(billing_engine) as session:
        assert balance_of(session, "3100000002", AT).net_fen == 0


def test_concurrent_posts_of_one_reference_book_once(
    billing_engine: Engine, add_customer: Callable[..., Customer]
) -> None:
    add_customer("3100000003")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def credit() -> None:
        barrier.wait()
        try:
            with session_scope(billing_engine, write=True) as session:
                post_entry(
                    session,
                    customer_id="3100000003",
                    kind=LedgerEntryKind.PAYMENT,
                    amount_fen=700,
                    reference="payments/concurrent",
                    occurred_at=AT,
                    now=AT,
                )
            outcomes.append("booked")
        except DuplicateLedgerEntry:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=credit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "duplicate", "duplicate", "duplicate"]
    with session_scope(billing_engine) as session:
        assert balance_of(session, "3100000003", AT).net_fen == 700


def test_posting_for_an_unknown_customer_fails(billing_engine: Engine) -> None:
    with session_scope(billing_engine, write=True) as session, pytest.raises(LookupError):
        post_entry(
            session,
            customer_id="3199999999",
            kind=LedgerEntryKind.ADJUSTMENT,
            amount_fen=1,
            reference="adjustments/x",
            occurred_at=AT,
            now=AT,
        )
