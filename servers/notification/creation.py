"""CreateMessage: an event becomes one outbox row per recipient and channel, written
with the message in one transaction.

Recipients come from the account service (users, or the users bound to customers, with
the channels their subscriptions accept) before the transaction; a user bound to
several of the customers is one recipient. Each (event, user, channel) is planned once:
a later message of the same event gives that user a SKIPPED delivery on that channel.
SMS and push of a normal message due inside quiet hours wait for their end.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import grpc
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from palmgrid.type.v1 import identity_pb2
from servers.notification.accounts import AccountDirectory, Recipient
from servers.notification.completion import complete_if_done
from servers.notification.config import NotificationConfig
from servers.notification.models import BODY_MAX, DeliveryRow, EventSendRow, MessageRow
from servers.notification.quiet_hours import QuietHours
from servers.notification.resources import (
    channel_text,
    delivery_name,
    message_to_proto,
    stats_of,
    topic_text,
)
from servers.notification.templates import Template, Templates
from servers.runtime import (
    AlreadyExists,
    Clock,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Runtime,
    require_principal,
)
from servers.runtime.ids import new_id
from servers.runtime.protoconv import from_timestamp

# The event claim of a delivery to a phone that is no user's: this prefix and the number.
PHONE_CLAIM = "tel:"


def phone_recipients(wanted: notification_pb.Message) -> list[Recipient]:
    """The recipients of a message to phone numbers: SMS alone, to each number."""
    if list(wanted.channels) != [account_pb.DELIVERY_CHANNEL_SMS]:
        raise InvalidArgument(
            "a message to phones is sent by SMS alone",
            field_violations=[FieldViolation("message.channels", "must be [SMS] with phones")],
        )
    return [Recipient(user="", customers=[], channels=["SMS"], phone=p) for p in wanted.phones]


class CreationMethods:
    runtime: Runtime
    config: NotificationConfig
    clock: Clock
    templates: Templates
    accounts: AccountDirectory
    quiet_hours: QuietHours

    def CreateMessage(
        self, request: service_pb.CreateMessageRequest, context: grpc.ServicerContext
    ) -> notification_pb.Message:
        principal = require_principal()
        if principal.kind != identity_pb2.PRINCIPAL_KIND_SERVICE:
            # Messages are the services' to send, over mTLS as themselves; a forwarded
            # user's assertion is not a sender.
            raise PermissionDenied(
                "messages are created by services with their own certificate",
                reason="PERMISSION_DENIED",
            )
        wanted = request.message
        template = self._template(wanted)
        fingerprint = hashlib.sha256(wanted.SerializeToString(deterministic=True)).hexdigest()
        with self.runtime.session() as session:
            existing = self._existing(session, request.request_id, fingerprint)
        if existing is not None:
            return existing
        recipients = (
            phone_recipients(wanted)
            if wanted.phones
            else self.accounts.recipients(
                wanted.topic, users=wanted.users, customers=wanted.customers
            )
        )
        try:
            return self._store(request, template, fingerprint, recipients, principal.user)
        except IntegrityError:
            # Another replica stored the same request_id or planned the same event for
            # a user at the same moment: what it stored decides.
            return self._store(request, template, fingerprint, recipients, principal.user)

    def _template(self, wanted: notification_pb.Message) -> Template:
        template = self.templates.get(wanted.template)
        if template is None:
            raise InvalidArgument(
                f"no template {wanted.template!r}",
                field_violations=[
                    FieldViolation(
                        "message.template", "must be one of " + ", ".join(self.templates.kinds())
                    )
                ],
            )
        missing = template.missing(wanted.parameters, has_customers=bool(wanted.customers))
        if missing:
            raise InvalidArgument(
                "template parameters missing: " + ", ".join(missing),
                field_violations=[
                    FieldViolation("message.parameters", "missing " + ", ".join(missing))
                ],
            )
        return template

    def _existing(
        self, session: Session, request_id: str, fingerprint: str
    ) -> notification_pb.Message | None:
        row = session.exec(select(MessageRow).where(MessageRow.request_id == request_id)).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise AlreadyExists(
                "request_id was used for another message",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"requestId": request_id},
            )
        return message_to_proto(row, stats_of(session, [row.id])[row.id])

    def _store(
        self,
        request: service_pb.CreateMessageRequest,
        template: Template,
        fingerprint: str,
        recipients: list[Recipient],
        sender: str,
    ) -> notification_pb.Message:
        wanted = request.message
        now = self.clock.now()
        send_time = from_timestamp(wanted.send_time) if wanted.HasField("send_time") else None
        with self.runtime.session(write=True) as session:
            existing = self._existing(session, request.request_id, fingerprint)
            if existing is not None:
                return existing
            message = MessageRow(
                id=new_id(),
                request_id=request.request_id,
                request_hash=fingerprint,
                event=wanted.event or f"requests/{request.request_id}",
                topic=topic_text(wanted.topic),
                template=wanted.template,
                parameters=dict(wanted.parameters),
                channels=[channel_text(c) for c in wanted.channels],
                users=list(wanted.users),
                customers=list(wanted.customers),
                # Emergencies are urgent by their template, whatever the caller says.
                urgent=template.urgent or wanted.priority == notification_pb.PRIORITY_URGENT,
                send_time=send_time,
                expire_time=(
                    from_timestamp(wanted.expire_time) if wanted.HasField("expire_time") else None
                ),
                target=wanted.target,
                sender=sender,
                state="PENDING",
                create_time=now,
                update_time=now,
            )
            session.add(message)
            session.flush()
            due = max(now, send_time) if send_time else now
            for recipient in recipients:
                for channel in message.channels:
                    if channel in recipient.channels:
                        self._plan(session, message, template, recipient, channel, due, now)
            session.flush()
            complete_if_done(session, message, now)
            return message_to_proto(message, stats_of(session, [message.id])[message.id])

    def _plan(
        self,
        session: Session,
        message: MessageRow,
        template: Template,
        recipient: Recipient,
        channel: str,
        due: datetime,
        now: datetime,
    ) -> None:
        rendered = template.render(channel, message.parameters, customers=recipient.customers)
        if len(rendered.body) > BODY_MAX:
            raise InvalidArgument(
                f"the {channel} text would be {len(rendered.body)} characters",
                field_violations=[
                    FieldViolation(
                        "message.parameters",
                        f"make them shorter: the rendered text may have at most {BODY_MAX} "
                        "characters",
                    )
                ],
            )
        row = DeliveryRow(
            id=new_id(),
            message_id=message.id,
            user=recipient.user,
            customers=recipient.customers,
            channel=channel,
            state="PENDING",
            send_key=str(uuid.uuid4()),
            title=rendered.title,
            body=rendered.body,
            phone=recipient.phone if channel == "SMS" else "",
            push_tokens=recipient.push_tokens if channel == "PUSH" else [],
            urgent=message.urgent,
            next_attempt_time=(
                self.quiet_hours.next_open(due)
                if self.quiet_hours.applies(channel, urgent=message.urgent)
                else due
            ),
            create_time=now,
            update_time=now,
        )
        # A phone that is no user's is claimed under the number itself.
        claimant = recipient.user or PHONE_CLAIM + recipient.phone
        earlier = session.get(EventSendRow, (message.event, claimant, channel))
        if earlier is not None:
            first = session.get(DeliveryRow, earlier.delivery_id)
            row.state = "SKIPPED"
            row.error = "this event was already sent to the user by " + (
                delivery_name(first) if first is not None else earlier.delivery_id
            )
        else:
            claim = EventSendRow(
                event=message.event, user=claimant, channel=channel, delivery_id=row.id
            )
            session.add(claim)
        session.add(row)
