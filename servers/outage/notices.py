"""The one seam through which affected customers hear of an outage event.

`notify_affected` finds the customers of the notice's areas (billing), the users bound
to them who take outage alerts (account's LookupRecipients: each user once, with the
affected customers bound to them), and writes one in-app message per user and event
into the account service's inbox. Until the notification service lands (its
CreateMessage, which adds SMS and push), this is the only place that changes: the rest
of the service records notices in its outbox and lets the dispatcher call this.

Every message's request id is derived from the notice and the user, so a notice that is
delivered again after a failure part-way writes nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import grpc

from palmgrid.account.v1 import account_internal_service_pb2 as account_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as account_grpc
from palmgrid.account.v1 import resources_pb2 as account_resources
from servers.outage.customers import BillingCustomers, unavailable
from servers.outage.resources import outage_name
from servers.runtime import Runtime, downstream_call_options

# LookupRecipients takes at most this many customers per call.
CUSTOMERS_PER_LOOKUP = 1000
_NAMESPACE = uuid.UUID("6b1f3c2e-5a0d-4c8e-9f57-0d1e2a3b4c5d")


@dataclass(frozen=True)
class Notice:
    """A message owed to the customers of some areas about one outage event."""

    id: int
    outage_id: str
    area_codes: Sequence[str]
    title: str
    body: str


def message_request_id(notice_id: int, user: str) -> str:
    """The idempotency key of notice `notice_id`'s message to `user`."""
    return str(uuid.uuid5(_NAMESPACE, f"outage-notice/{notice_id}/{user}"))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _recipients(
    stub: account_grpc.AccountInternalServiceStub, customers: Sequence[str], timeout: float
) -> dict[str, set[str]]:
    """User → their affected customers, for users who take outage alerts."""
    found: dict[str, set[str]] = {}
    for chunk in _chunks(customers, CUSTOMERS_PER_LOOKUP):
        token = ""
        while True:
            options = downstream_call_options(default_timeout=timeout)
            reply = stub.LookupRecipients(
                account_pb.LookupRecipientsRequest(
                    topic=account_resources.TOPIC_OUTAGE,
                    customers=chunk,
                    page_size=1000,
                    page_token=token,
                ),
                **options.kwargs(),
            )
            for recipient in reply.recipients:
                found.setdefault(recipient.user, set()).update(recipient.customers)
            token = reply.next_page_token
            if not token:
                break
    return found


def _body(notice: Notice, customers: set[str]) -> str:
    numbers = "、".join(sorted(c.removeprefix("customers/") for c in customers))
    return f"{notice.body}（您绑定的户号：{numbers}）"


def notify_affected(runtime: Runtime, notice: Notice, *, timeout: float) -> int:
    """Deliver `notice` to every subscribed user bound to an affected customer, one
    message per user; returns how many users. Unavailable when billing or account
    cannot be asked (the dispatcher tries again later)."""
    customers = list(BillingCustomers(runtime, timeout).in_areas(notice.area_codes))
    stub = account_grpc.AccountInternalServiceStub(runtime.channel("account"))
    try:
        recipients = _recipients(stub, customers, timeout)
        for user, theirs in sorted(recipients.items()):
            options = downstream_call_options(default_timeout=timeout)
            only = next(iter(theirs)) if len(theirs) == 1 else ""
            stub.CreateMessage(
                account_pb.CreateMessageRequest(
                    parent=user,
                    message=account_resources.Message(
                        topic=account_resources.TOPIC_OUTAGE,
                        title=notice.title,
                        body=_body(notice, theirs),
                        customer=only,
                        target=outage_name(notice.outage_id),
                    ),
                    request_id=message_request_id(notice.id, user),
                ),
                **options.kwargs(),
            )
    except grpc.RpcError as error:
        raise unavailable("the account service") from error
    return len(recipients)
