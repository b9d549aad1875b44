"""One-time codes that prove a user holds a customer's registered phone.

SendCustomerBindingCode makes a random six-digit code, keeps only its Argon2id hash
(over the pepper, as passwords are) with an expiry, and has it sent by SMS to the
registered phone; a new code replaces the user's last one for that customer.
CreateCustomerBinding tries it: each try is counted on the code in one UPDATE that
refuses an expired code or one out of tries, committed before the code is compared;
the code that matches is deleted in the transaction that makes the binding, so it
binds once however many requests carry it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from servers.account import models
from servers.account.core import AccountCore

CODE_DIGITS = 6

_TABLE = models.BindingCode.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PendingCode:
    """A code not yet used, as a try found it."""

    code_hash: str
    supply_office: str
    registered_phone: str


def new_code() -> str:
    """A random code of CODE_DIGITS digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def issue(
    core: AccountCore,
    session: Session,
    *,
    user_id: str,
    customer: str,
    supply_office: str,
    registered_phone: str,
    now: datetime,
) -> tuple[str, datetime]:
    """Keep a new code for (user, customer), replacing any earlier one; returns the code
    (to send, never to store) and until when it is accepted."""
    code = new_code()
    expire_time = now + timedelta(seconds=core.config.binding_code_ttl_seconds)
    session.execute(
        sa.delete(_TABLE).where(_TABLE.c.user_id == user_id, _TABLE.c.customer == customer)
    )
    session.add(
        models.BindingCode(
            user_id=user_id,
            customer=customer,
            code_hash=core.hasher.hash(code),
            expire_time=expire_time,
            supply_office=supply_office,
            registered_phone=registered_phone,
            create_time=now,
        )
    )
    return code, expire_time


def count_try(
    core: AccountCore, session: Session, *, user_id: str, customer: str, now: datetime
) -> PendingCode | None:
    """Count a try on the user's code for `customer`, atomically; None when there is no
    code, it has expired or it has had its tries."""
    column = _TABLE.c
    row = session.execute(
        sa.update(_TABLE)
        .where(
            column.user_id == user_id,
            column.customer == customer,
            column.expire_time > now,
            column.tries < core.config.binding_code_tries,
        )
        .values(tries=column.tries + 1)
        .returning(column.code_hash, column.supply_office, column.registered_phone)
    ).one_or_none()
    return None if row is None else PendingCode(*row)


def use(session: Session, *, user_id: str, customer: str, code_hash: str) -> bool:
    """Delete the code that matched; False when another request used it first."""
    result = session.execute(
        sa.delete(_TABLE).where(
            col(models.BindingCode.user_id) == user_id,
            col(models.BindingCode.customer) == customer,
            col(models.BindingCode.code_hash) == code_hash,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
