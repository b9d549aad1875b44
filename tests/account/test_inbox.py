"""Subscriptions, the in-app inbox the notification side writes into, and who receives
an alert."""

from __future__ import annotations

import uuid
from datetime import timedelta

from google.protobuf import field_mask_pb2

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import resources_pb2 as account_pb
from tests.account.conftest import Account


def write(
    account: Account, user: str, title: str, request_id: str | None = None
) -> account_pb.Message:
    return account.internal("notification").CreateMessage(
        internal_pb.CreateMessageRequest(
            parent=user,
            message=account_pb.Message(
                topic=account_pb.TOPIC_BILL, title=title, body="Your bill is ready."
            ),
            request_id=request_id or str(uuid.uuid4()),
        )
    )


def test_notification_writes_messages_once_and_the_user_reads_them(account: Account) -> None:
    account.register("reader")
    token = account.login("reader").token
    user = account.authenticate(token).principal.user
    request_id = str(uuid.uuid4())
    first = write(account, user, "March bill", request_id)
    assert write(account, user, "March bill", request_id).name == first.name
    account.clock.advance(timedelta(seconds=5))
    write(account, user, "April bill")
    metadata = account.metadata(token)
    listed = account.public.ListMessages(
        requests_pb.ListMessagesRequest(parent="users/me"), metadata=metadata
    )
    assert [m.title for m in listed.messages] == ["April bill", "March bill"]
    assert listed.unread_count == 2
    read = account.public.MarkMessageRead(
        requests_pb.MarkMessageReadRequest(name=first.name), metadata=metadata
    )
    assert read.message.HasField("read_time")
    marked = account.public.MarkAllMessagesRead(
        requests_pb.MarkAllMessagesReadRequest(
            parent="users/me", read_through_time=listed.messages[0].create_time
        ),
        metadata=metadata,
    )
    assert marked.marked_count == 1
    assert (
        account.public.ListMessages(
            requests_pb.ListMessagesRequest(parent="users/me"), metadata=metadata
        ).unread_count
        == 0
    )
    page = account.public.ListMessages(
        requests_pb.ListMessagesRequest(parent="users/me", page_size=1), metadata=metadata
    )
    rest = account.public.ListMessages(
        requests_pb.ListMessagesRequest(
            parent="users/me", page_size=1, page_token=page.next_page_token
        ),
        metadata=metadata,
    )
    assert [m.title for m in rest.messages] == ["March bill"] and not rest.next_page_token


def test_subscriptions_decide_who_receives_an_alert_and_how(account: Account) -> None:
    account.register("alerted", phone="13900001111")
    token = account.login("alerted").token
    user = account.authenticate(token).principal.user
    account.register("quietone")
    quiet_token = account.login("quietone").token
    quiet = account.authenticate(quiet_token).principal.user
    metadata = account.metadata(token)
    subscriptions = account.public.GetSubscriptions(
        requests_pb.GetSubscriptionsRequest(name="users/me/subscriptions"), metadata=metadata
    )
    assert subscriptions.outage and not subscriptions.sms
    account.public.UpdateSubscriptions(
        requests_pb.UpdateSubscriptionsRequest(
            subscriptions=account_pb.Subscriptions(name="users/me/subscriptions", sms=True),
            update_mask=field_mask_pb2.FieldMask(paths=["sms"]),
        ),
        metadata=metadata,
    )
    account.public.UpdateSession(
        account_service_pb2.UpdateSessionRequest(
            session=account_pb.Session(name="sessions/current", push_token="push-1")
        ),
        metadata=metadata,
    )
    # The whole set with "*": everything off for the quiet one.
    account.public.UpdateSubscriptions(
        requests_pb.UpdateSubscriptionsRequest(
            subscriptions=account_pb.Subscriptions(name="users/me/subscriptions"),
            update_mask=field_mask_pb2.FieldMask(paths=["*"]),
        ),
        metadata=account.metadata(quiet_token),
    )
    lookup = account.internal("notification").LookupRecipients(
        internal_pb.LookupRecipientsRequest(topic=account_pb.TOPIC_OUTAGE, users=[user, quiet])
    )
    assert [r.user for r in lookup.recipients] == [user]
    recipient = lookup.recipients[0]
    assert list(recipient.channels) == [
        account_pb.DELIVERY_CHANNEL_IN_APP,
        account_pb.DELIVERY_CHANNEL_SMS,
        account_pb.DELIVERY_CHANNEL_PUSH,
    ]
    assert recipient.phone == "13900001111" and list(recipient.push_tokens) == ["push-1"]
    # Account notices reach everyone, opted out or not.
    always = account.internal("notification").LookupRecipients(
        internal_pb.LookupRecipientsRequest(topic=account_pb.TOPIC_ACCOUNT, users=[user, quiet])
    )
    assert sorted(r.user for r in always.recipients) == sorted([user, quiet])


def test_phone_is_masked_in_the_user(account: Account) -> None:
    account.register("masked", phone="13812345678")
    me = account.public.GetUser(
        account_service_pb2.GetUserRequest(name="users/me"), metadata=account.signed_in("masked")
    )
    assert me.phone == "138****5678"
    assert list(me.roles) == ["roles/customer"]


def test_an_update_without_a_mask_changes_only_the_switches_sent(account: Account) -> None:
    """AIP-134: an empty mask means the fields present, not every field."""
    metadata = account.customer("partialist")
    changed = account.public.UpdateSubscriptions(
        requests_pb.UpdateSubscriptionsRequest(
            subscriptions=account_pb.Subscriptions(
                name="users/me/subscriptions", notice=False, sms=True
            )
        ),
        metadata=metadata,
    )
    switches = {f: getattr(changed, f) for f in ("outage", "bill", "notice", "sms", "push")}
    # Notice off and SMS on as sent; the others keep their defaults (on).
    assert switches == {"outage": True, "bill": True, "notice": False, "sms": True, "push": True}
