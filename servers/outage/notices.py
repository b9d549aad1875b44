"""The one seam through which affected customers hear of an outage event: the
notification service's CreateMessage, called as outage's own service account.

`notify_affected` finds the customers of the notice's areas (billing) and hands them to
the notification service, which resolves the users bound to them who take outage alerts
and plans in-app, SMS and push deliveries as each user's subscriptions accept. Every
message of a notice names the same event (`outages/{outage}/notices/{notice}`), so a
user bound to several affected customers, in one message or in several, hears of it
once per channel. A message's request id is derived from the notice and the customers
it names, so a notice delivered again after a crash or a failure part-way returns the
messages created the first time and sends nothing twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import grpc

from palmgrid.account.v1 import resources_pb2 as account_resources
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.outage.customers import BillingCustomers, unavailable
from servers.outage.resources import outage_name
from servers.runtime import Runtime, downstream_call_options

# Customers named by one message (the notification service takes up to 10,000 and
# resolves their users within the call, so smaller messages keep each call short).
CUSTOMERS_PER_MESSAGE = 1000
# Every channel; the notification service keeps those each user's subscriptions accept.
CHANNELS = (
    account_resources.DELIVERY_CHANNEL_IN_APP,
    account_resources.DELIVERY_CHANNEL_SMS,
    account_resources.DELIVERY_CHANNEL_PUSH,
)
_NAMESPACE = uuid.UUID("6b1f3c2e-5a0d-4c8e-9f57-0d1e2a3b4c5d")


@dataclass(frozen=True)
class Notice:
    """A message owed to the customers of some areas about one outage event."""

    id: int
    outage_id: str
    area_codes: Sequence[str]
    template: str
    parameters: Mapping[str, str]
    urgent: bool

    @property
    def event(self) -> str:
        """The notification event: each user hears of it once per channel."""
        return f"{outage_name(self.outage_id)}/notices/{self.id}"


def message_request_id(notice_id: int, customers: Sequence[str]) -> str:
    """The idempotency key of notice `notice_id`'s message to `customers`."""
    digest = hashlib.sha256("\n".join(customers).encode()).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"outage-notice/{notice_id}/{digest}"))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _message(notice: Notice, customers: Sequence[str]) -> message_pb.Message:
    return message_pb.Message(
        topic=account_resources.TOPIC_OUTAGE,
        template=notice.template,
        parameters=dict(notice.parameters),
        channels=CHANNELS,
        customers=customers,
        priority=message_pb.PRIORITY_URGENT if notice.urgent else message_pb.PRIORITY_NORMAL,
        target=outage_name(notice.outage_id),
        event=notice.event,
    )


def notify_affected(runtime: Runtime, notice: Notice, *, timeout: float) -> int:
    """Queue `notice` at the notification service for every subscribed user bound to an
    affected customer; returns the deliveries it planned. Unavailable when billing or
    the notification service cannot be asked (the dispatcher tries again later)."""
    customers = sorted(BillingCustomers(runtime, timeout).in_areas(notice.area_codes))
    stub = notification_grpc.NotificationServiceStub(runtime.channel("notification"))
    planned = 0
    for chunk in _chunks(customers, CUSTOMERS_PER_MESSAGE):
        options = downstream_call_options(default_timeout=timeout)
        try:
            message = stub.CreateMessage(
                notification_pb.CreateMessageRequest(
                    message=_message(notice, chunk),
                    request_id=message_request_id(notice.id, chunk),
                ),
                **options.kwargs(),
            )
        except grpc.RpcError as error:
            raise unavailable(f"the notification service ({error.code().name})") from error
        planned += message.stats.total_count - message.stats.skipped_count
    return planned
