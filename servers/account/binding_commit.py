"""Making a customer binding once its proof is accepted (a code from the registered
phone, or a staff member's check at the counter): one customer's bindings are made one
at a time, so the users-per-customer cap holds under concurrency, and the users already
bound and the registered phone are told.

The customer's lock row is upserted first, which holds its row lock (PostgreSQL) or
the database's write lock (SQLite, BEGIN IMMEDIATE) until the transaction ends; the
limits are counted only after that, so a binding committing meanwhile is seen (READ
COMMITTED reads each statement afresh) and a second one waits instead of passing the
cap alongside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import binding_notices, bindings, models, revocations
from servers.account.core import AccountCore

_LOCKS = models.CustomerBindingLock.__table__  # type: ignore[attr-defined]


def lock_customer(session: Session, customer: str, now: datetime) -> None:
    """Take `customer`'s binding lock until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_LOCKS)
    session.execute(
        insert.values(customer=customer, update_time=now).on_conflict_do_update(
            index_elements=[_LOCKS.c.customer], set_={"update_time": now}
        )
    )


def bind(
    core: AccountCore,
    session: Session,
    *,
    user_id: str,
    customer: str,
    display_name: str,
    supply_office: str,
    registered_phone: str,
    now: datetime,
) -> account_pb.CustomerBinding:
    """Bind `customer` to `user_id` in `session`'s transaction: ALREADY_EXISTS when
    bound, QUOTA_EXCEEDED past the user's or the customer's limit; the notices are
    queued before the caller commits (a binding nobody was told of is never made; a
    notice of a binding that then failed to commit errs the safe way)."""
    lock_customer(session, customer, now)
    bindings.check_can_bind(
        session,
        user_id,
        customer,
        core.params(session).customer_binding_limit,
        core.config.binding_users_per_customer,
    )
    already_bound = bindings.bound_users(session, customer)
    row = models.CustomerBinding(
        user_id=user_id,
        customer=customer,
        display_name=display_name,
        supply_office=supply_office,
        create_time=now,
    )
    session.add(row)
    session.flush()
    revocations.revoke(session, revocations.USER, [f"users/{user_id}"], now)
    binding_notices.tell_of_binding(
        core,
        user_id=user_id,
        customer=customer,
        registered_phone=registered_phone,
        bound_users=already_bound,
        now=now,
    )
    return bindings.to_proto(row)
