"""Idempotent creates (AIP-155 `request_id`): a retry returns what the first request
made, without making it twice.

The key is (method, caller, request_id), kept in the service's `<service>_request_keys`
table (`servers.runtime.runtime_tables`) with a fingerprint of the request and the name
of the resource it created. The key row is written in the same transaction as the
resource, and its primary key decides between concurrent retries, so there is no
check-then-insert race. The same id again:

- with the same request: the resource made the first time (read back by the caller);
- with a different request: ALREADY_EXISTS, reason IDEMPOTENCY_KEY_REUSED (409).

Anonymous callers (a registration) share one namespace: anyone who learns or guesses an
id could replay it and be answered with the resource. Their keys are honoured only for
`anonymous_life` (minutes: long enough for a phone's retries), then forgotten; a
signed-in caller's keys are theirs alone and kept.

A create in one transaction uses `create_once` (`insert_once` for one row). One with
work outside its transaction (a captcha spent, another service asked) uses
`IdempotentRequest` directly: `replay()` before that work, `remember(session, name)` in
the transaction that creates, and `replay()` again after a conflict. Billing's payments
keep their own keys with leases (`servers.billing.payments.idempotency`): they talk to a
provider between claiming a key and completing it; they share `fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from palmgrid.type.v1 import identity_pb2
from servers.runtime.calls import current_call
from servers.runtime.clock import SYSTEM_CLOCK, Clock
from servers.runtime.errors import AlreadyExists
from servers.runtime.runtime_tables import request_keys_table

if TYPE_CHECKING:
    from servers.runtime.service import Runtime

Result = TypeVar("Result")
Row = TypeVar("Row")
Resource = TypeVar("Resource", bound=Message)


def fingerprint(parts: Sequence[object]) -> str:
    """SHA-256 of a request's meaningful fields, in a fixed order."""
    data = json.dumps([str(part) for part in parts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def request_fingerprint(request: Message, *, ignore: Sequence[str] = ()) -> str:
    """SHA-256 of `request` serialized deterministically, without its `request_id` and
    the `ignore`d fields (paths such as "user.phone"): secrets such as a password or a
    phone number are never kept, not even hashed, and a retry may bring a new captcha."""
    copy = type(request)()
    copy.CopyFrom(request)
    for path in ("request_id", *ignore):
        *parents, name = path.split(".")
        holder = copy
        for parent in parents:
            holder = getattr(holder, parent)
        holder.ClearField(name)
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    """One create carrying a `request_id`, within the current call."""

    service: str
    operation: str
    caller: str
    request_id: str
    digest: str
    clock: Clock = SYSTEM_CLOCK
    # How long the key is honoured when the caller is anonymous (None: as long as it
    # is kept).
    anonymous_life: timedelta | None = None

    @classmethod
    def of(
        cls,
        runtime: Runtime,
        request: Message,
        *,
        ignore: Sequence[str] = (),
        clock: Clock = SYSTEM_CLOCK,
        anonymous_life: timedelta | None = None,
    ) -> IdempotentRequest | None:
        """The current call's create `request` keyed by its `request_id` (None without
        one); the key is per method and caller. Anonymous callers share one namespace,
        so their keys count only for `anonymous_life` (see the module docstring)."""
        request_id = getattr(request, "request_id", "")
        if not request_id:
            return None
        call = current_call()
        principal = call.principal if call else None
        # For a method open to anonymous callers (an `anonymous_life`), a service account
        # with no user behind it (the edge relaying a phone) is anonymous too.
        anonymous = principal is None or (
            anonymous_life is not None and principal.kind == identity_pb2.PRINCIPAL_KIND_SERVICE
        )
        return cls(
            service=runtime.name,
            operation=call.method if call else type(request).DESCRIPTOR.full_name,
            caller="" if anonymous or principal is None else principal.user,
            request_id=request_id,
            digest=request_fingerprint(request, ignore=ignore),
            clock=clock,
            anonymous_life=anonymous_life,
        )

    @property
    def _table(self) -> sa.Table:
        return request_keys_table(self.service)

    def _key(self) -> sa.ColumnElement[bool]:
        table = self._table
        return sa.and_(
            table.c.operation == self.operation,
            table.c.caller == self.caller,
            table.c.request_id == self.request_id,
        )

    def _lapsed(self) -> sa.ColumnElement[bool]:
        """The key's row, when it is an anonymous one older than `anonymous_life`."""
        if self.caller or self.anonymous_life is None:
            return sa.false()
        return sa.and_(
            self._key(), self._table.c.create_time < self.clock.now() - self.anonymous_life
        )

    def earlier_in(self, session: Session) -> str | None:
        """The resource an earlier request with this key created (None: none did);
        AlreadyExists (IDEMPOTENCY_KEY_REUSED) when it came with another request."""
        row = session.execute(
            sa.select(self._table.c.fingerprint, self._table.c.resource).where(
                self._key(), sa.not_(self._lapsed())
            )
        ).first()
        if row is None:
            return None
        if row.fingerprint != self.digest:
            raise AlreadyExists(
                "request_id was already used with a different request",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"requestId": self.request_id},
            )
        return str(row.resource)

    def replay(self, runtime: Runtime, load: Callable[[Session, str], Result]) -> Result | None:
        """`load(session, name)` of what an earlier request with this key created, in a
        read transaction of its own; None when none did (see `earlier_in`)."""
        with runtime.session() as session:
            name = self.earlier_in(session)
            return None if name is None else load(session, name)

    def remember(self, session: Session, resource: str, now: datetime | None = None) -> None:
        """Record that this request created `resource`, in the creating transaction (an
        IntegrityError at commit means a concurrent retry won: see `earlier_in`). A lapsed
        anonymous key of the same id is forgotten first."""
        if not self.caller and self.anonymous_life is not None:
            session.execute(sa.delete(self._table).where(self._lapsed()))
        session.execute(
            sa.insert(self._table).values(
                operation=self.operation,
                caller=self.caller,
                request_id=self.request_id,
                fingerprint=self.digest,
                resource=resource,
                create_time=now or self.clock.now(),
            )
        )


def forget_anonymous_keys(session: Session, service: str, *, before: datetime) -> int:
    """Delete `service`'s anonymous keys made before `before` (housekeeping); how many."""
    table = request_keys_table(service)
    deleted = session.execute(
        sa.delete(table).where(table.c.caller == "", table.c.create_time < before)
    )
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


def insert_once(
    runtime: Runtime,
    request: Message,
    row: Row,
    *,
    resource: Callable[[Row], Resource],
    find: Callable[[Session, str], Row],
    clock: Clock = SYSTEM_CLOCK,
) -> Resource:
    """Insert `row` and answer `resource(row)`, once per `request.request_id`: a retry
    gets `resource(find(session, name))` of the row inserted first (`create_once`)."""

    def create(session: Session) -> tuple[str, Resource]:
        session.add(row)
        session.flush()
        made = resource(row)
        return str(getattr(made, "name")), made  # noqa: B009 - every resource has a name

    return create_once(
        runtime,
        request,
        create=create,
        load=lambda session, name: resource(find(session, name)),
        clock=clock,
    )


def create_once(
    runtime: Runtime,
    request: Message,
    *,
    create: Callable[[Session], tuple[str, Result]],
    load: Callable[[Session, str], Result],
    clock: Clock = SYSTEM_CLOCK,
) -> Result:
    """Run `create(session) -> (name, result)` in one write transaction, once per
    `request.request_id`: a retry gets `load(session, name)` of what the first made.
    Without a request_id it simply creates."""
    key = IdempotentRequest.of(runtime, request, clock=clock)
    for attempt in range(2):
        try:
            with runtime.session(write=True) as session:
                if key is not None:
                    earlier = key.earlier_in(session)
                    if earlier is not None:
                        return load(session, earlier)
                name, result = create(session)
                if key is not None:
                    key.remember(session, name)
                return result
        except IntegrityError:
            if key is None or attempt:
                raise
            # A concurrent retry with the same key committed first: read its result.
    raise AssertionError("unreachable")
