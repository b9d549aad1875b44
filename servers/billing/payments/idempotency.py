"""Idempotency keys (AIP-155 `request_id`) for requests that move money.

The generic idempotent create (one transaction, no lease) is the runtime's
(`servers.runtime.idempotency`); payments need a lease because they talk to the
provider between claiming a key and completing it. A key is claimed by inserting
its `payment_request` row in the same transaction that records what the request
creates; the primary key (operation, request_id) decides
between concurrent requests, so there is no check-then-insert race. Whoever inserted it
holds a lease while it talks to the provider, then marks the key COMPLETED. Another
request with the same key then gets:

- a different body (or caller): ALREADY_EXISTS, reason IDEMPOTENCY_KEY_REUSED (409);
  not retryable, the client must pick a new key;
- the same body while the first is in flight: ABORTED, reason REQUEST_IN_PROGRESS
  (409); retry later with the same key;
- the same body once completed: what the first request created;
- the same body after the holder's lease ran out (it crashed, or the provider did not
  answer): it takes the key over and finishes the work (the provider's own key,
  `out_trade_no`, makes placing the order again harmless).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from servers.billing.payments.models import PaymentRequest, RequestState
from servers.runtime import Aborted, AlreadyExists, Runtime

_TABLE = PaymentRequest.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: the row as claimed, and the lease owner token when
    this request holds it (None when the key was completed earlier)."""

    request: PaymentRequest
    owner: str | None

    @property
    def holds_lease(self) -> bool:
        return self.owner is not None


def claim(
    runtime: Runtime,
    *,
    operation: str,
    request_id: str,
    digest: str,
    lease: timedelta,
    now: datetime,
    create: Callable[[Session, PaymentRequest], None],
) -> Claim:
    """Claim `request_id` for `operation`. When it is new, `create(session, row)` records
    what the request creates in the same transaction and fills in the key's `resource`
    (and, for work finished at once, its `state` COMPLETED and `response`). Raises
    AlreadyExists or Aborted as the module docstring says."""
    owner = secrets.token_hex(8)
    try:
        with runtime.session(write=True) as session:
            row = PaymentRequest(
                operation=operation,
                request_id=request_id,
                fingerprint=digest,
                owner=owner,
                lease_until=now + lease,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            session.flush()  # the primary key decides here, before any other work
            create(session, row)
            session.add(row)
        return Claim(row, None if row.state == RequestState.COMPLETED else owner)
    except IntegrityError:
        pass  # the key exists: decide from the stored row
    with runtime.session(write=True) as session:
        existing = session.get(PaymentRequest, (operation, request_id))
        if existing is None:
            # The other claim rolled back meanwhile; the caller may simply retry.
            raise _in_progress(request_id)
        if existing.fingerprint != digest:
            raise AlreadyExists(
                "request_id was already used with a different request",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"requestId": request_id},
            )
        if existing.state == RequestState.COMPLETED:
            return Claim(existing, None)
        if existing.lease_until > now:
            raise _in_progress(request_id)
        taken = _execute(
            session,
            sa.update(_TABLE)
            .where(
                _TABLE.c.operation == operation,
                _TABLE.c.request_id == request_id,
                _TABLE.c.owner == existing.owner,
                _TABLE.c.state == RequestState.IN_PROGRESS.value,
            )
            .values(owner=owner, lease_until=now + lease, update_time=now),
        )
        if taken.rowcount != 1:
            raise _in_progress(request_id)
        existing.owner, existing.lease_until = owner, now + lease
        return Claim(existing, owner)


def complete(
    session: Session,
    *,
    operation: str,
    request_id: str,
    now: datetime,
    owner: str | None = None,
    response: str = "",
) -> bool:
    """Mark the key COMPLETED in the caller's transaction; with `owner`, only while that
    owner still holds it. Returns whether this call completed it."""
    query = sa.update(_TABLE).where(
        _TABLE.c.operation == operation,
        _TABLE.c.request_id == request_id,
        _TABLE.c.state == RequestState.IN_PROGRESS.value,
    )
    if owner is not None:
        query = query.where(_TABLE.c.owner == owner)
    values = {"state": RequestState.COMPLETED.value, "update_time": now, "response": response}
    return _execute(session, query.values(**values)).rowcount == 1


def release(
    runtime: Runtime, *, operation: str, request_id: str, owner: str, now: datetime
) -> None:
    """End the lease early, so that a retry with the same key may take over at once."""
    with runtime.session(write=True) as session:
        session.execute(
            sa.update(_TABLE)
            .where(
                _TABLE.c.operation == operation,
                _TABLE.c.request_id == request_id,
                _TABLE.c.owner == owner,
                _TABLE.c.state == RequestState.IN_PROGRESS.value,
            )
            .values(lease_until=now, update_time=now)
        )


def _execute(session: Session, statement: sa.Update) -> CursorResult[Any]:
    """Run an UPDATE; its result tells how many rows it changed."""
    return cast("CursorResult[Any]", session.execute(statement))


def _in_progress(request_id: str) -> Aborted:
    return Aborted(
        "a request with this request_id is still in progress; retry later",
        reason="REQUEST_IN_PROGRESS",
        metadata={"requestId": request_id},
    )
