"""What the notification service asks of the account service (AccountInternalService,
as its own mTLS service account, never forwarding its caller's identity): who receives
a message and on which channels (LookupRecipients), and writing an in-app message into
a user's inbox (CreateMessage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import grpc

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as internal_grpc
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.notification.outcomes import Outcome, SendResult
from servers.runtime import DomainError, Runtime, Unavailable, downstream_call_options

# LookupRecipients takes at most this many users or customers per request.
LOOKUP_BATCH = 1000
# Answers that retrying the same inbox write cannot change.
_PERMANENT = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}


@dataclass
class Recipient:
    """A user to send to: the customers asked about that are bound to them, the
    channels they accept (DeliveryChannel names without the prefix), phone and push
    tokens."""

    user: str
    customers: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    phone: str = ""
    push_tokens: list[str] = field(default_factory=list)


def channel_name(value: int) -> str:
    """ "SMS" for DELIVERY_CHANNEL_SMS."""
    return account_pb.DeliveryChannel.Name(value).removeprefix("DELIVERY_CHANNEL_")  # type: ignore[arg-type]


class AccountDirectory:
    """The account service's internal API, through `runtime.channel("account")`."""

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def _stub(self) -> internal_grpc.AccountInternalServiceStub:
        return internal_grpc.AccountInternalServiceStub(self._runtime.channel("account"))

    def recipients(
        self, topic: int, *, users: Sequence[str] = (), customers: Sequence[str] = ()
    ) -> list[Recipient]:
        """The recipients of a message of `topic` to `users` or to the users bound to
        `customers`, each user once (their customers merged); Unavailable when the
        account service cannot answer."""
        found: dict[str, Recipient] = {}
        names, by_customers = (list(customers), True) if customers else (list(users), False)
        for start in range(0, len(names), LOOKUP_BATCH):
            batch = names[start : start + LOOKUP_BATCH]
            request = internal_pb.LookupRecipientsRequest(topic=topic, page_size=1000)  # type: ignore[arg-type]
            (request.customers if by_customers else request.users).extend(batch)
            while True:
                reply = self._lookup(request)
                for item in reply.recipients:
                    known = found.setdefault(item.user, Recipient(item.user))
                    known.customers = sorted({*known.customers, *item.customers})
                    known.channels = [channel_name(c) for c in item.channels]
                    known.phone = item.phone
                    known.push_tokens = list(item.push_tokens)
                if not reply.next_page_token:
                    break
                request.page_token = reply.next_page_token
        return [found[user] for user in sorted(found)]

    def _lookup(
        self, request: internal_pb.LookupRecipientsRequest
    ) -> internal_pb.LookupRecipientsResponse:
        options = downstream_call_options(default_timeout=self._timeout)
        try:
            reply: internal_pb.LookupRecipientsResponse = self._stub().LookupRecipients(
                request, **options.kwargs()
            )
        except grpc.RpcError as error:
            raise Unavailable(
                "the account service cannot name the recipients right now",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=timedelta(seconds=5),
            ) from error
        return reply

    def write_inbox(
        self, user: str, message: account_pb.Message, request_id: str, timeout: float
    ) -> SendResult:
        """Write `message` into `user`'s inbox; `request_id` makes a repeated write
        return the first one."""
        request = internal_pb.CreateMessageRequest(
            parent=user, message=message, request_id=request_id
        )
        try:
            options = downstream_call_options(default_timeout=timeout)
            written = self._stub().CreateMessage(request, **options.kwargs())
        except DomainError as error:  # no time left in the caller's deadline
            return SendResult("FAILED", error=str(error))
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            outcome: Outcome = "REJECTED" if code in _PERMANENT else "FAILED"
            return SendResult(outcome, error=f"inbox: {code.name} {error.details()}")  # type: ignore[attr-defined]
        return SendResult("ACCEPTED", receipt=written.name)
