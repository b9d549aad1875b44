"""AccountInternalService: what the edge, the other services and staff tools ask of the
account service over mutual TLS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
from cryptography.hazmat.primitives import serialization
from sqlalchemy import or_
from sqlmodel import Session, col, select

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.type.v1 import identity_pb2
from servers.account import (
    active_users,
    audit,
    housekeeping,
    inbox,
    models,
    revocations,
    sessions,
    users,
)
from servers.account.core import AccountCore
from servers.account.principals import principal_for
from servers.runtime import NotFound, Unauthenticated, paging, require_principal
from servers.runtime.idempotency import forget_anonymous_keys
from servers.runtime.identity import load_public_key
from servers.runtime.protoconv import from_timestamp
from servers.runtime.settings import GRPC_SERVER_NAMES

# Optional topics and the subscription switch that turns each off.
OPTIONAL_TOPICS: dict[int, str] = {
    account_pb.TOPIC_OUTAGE: "outage",
    account_pb.TOPIC_BILL: "bill",
    account_pb.TOPIC_APPLICATION_PROGRESS: "application_progress",
    account_pb.TOPIC_NOTICE: "notice",
}


class InternalMethods:
    core: AccountCore

    def AuthenticateSession(
        self, request: internal_pb.AuthenticateSessionRequest, context: grpc.ServicerContext
    ) -> internal_pb.AuthenticateSessionResponse:
        now = self.core.now()
        refused: str | None = None
        with self.core.runtime.session(write=True) as session:
            row = session.exec(
                select(models.Session).where(
                    models.Session.token_hash == sessions.token_hash(request.token)
                )
            ).first()
            refused = sessions.refusal(row, now)
            if row is not None and refused is None:
                user = users.get(session, row.user_id)
                if user.state == users.DISABLED:
                    refused = "SESSION_INVALID"
                    sessions.end(session, [row], sessions.REVOKED, now)
            elif row is not None and row.state == sessions.ACTIVE:
                sessions.end(session, [row], sessions.EXPIRED, now)
            if refused is None and row is not None:
                row.last_activity_time = now
                session.add(row)
                principal = principal_for(
                    session, user, row, now, production=self.core.settings.profile == "production"
                )
                change_required = users.needs_password_change(user, now)
                generation = revocations.current_generation(session)
                session_message = sessions.to_proto(row, users.name_of(user))
        if refused is not None:
            raise Unauthenticated("the session token is not accepted", reason=refused)
        # One assertion per service, each bound to the process that asked (the edge,
        # the CLI): none is accepted by another service or from another process.
        caller = require_principal().username
        assertions = {
            service: self.core.signer.sign(principal, audience=service, caller=caller)
            for service in GRPC_SERVER_NAMES
        }
        assertion = assertions["account"]
        response = internal_pb.AuthenticateSessionResponse(
            assertion=assertion,
            service_assertions=assertions,
            principal=principal,
            session=session_message,
            password_change_required=change_required,
            revocation_generation=generation,
        )
        claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
        response.assertion_expire_time.CopyFrom(claims.expire_time)
        return response

    def WatchRevocations(
        self, request: internal_pb.WatchRevocationsRequest, context: grpc.ServicerContext
    ) -> Iterator[internal_pb.WatchRevocationsResponse]:
        after = request.after_generation
        with self.core.runtime.session() as session:
            current = revocations.current_generation(session)
            oldest = revocations.oldest_generation(session)
        # Nothing to replay from: start over at the current generation.
        if after == 0 or after > current or (oldest and after < oldest - 1):
            yield internal_pb.WatchRevocationsResponse(generation=current, reset=True)
            after = current
        while context.is_active():
            with self.core.runtime.session() as session:
                changes = revocations.changes_after(session, after)
            if changes is None:
                time.sleep(self.core.config.revocation_poll_seconds)
                continue
            after = changes.generation
            yield internal_pb.WatchRevocationsResponse(
                generation=changes.generation,
                sessions=changes.sessions,
                users=changes.users,
                roles=changes.roles,
            )

    def ListAssertionKeys(
        self, request: internal_pb.ListAssertionKeysRequest, context: grpc.ServicerContext
    ) -> internal_pb.ListAssertionKeysResponse:
        directory = self.core.settings.identity_dir
        signing = self.core.signer.key_id
        keys = []
        for path in sorted(directory.glob("*.pub"), key=lambda p: (p.stem != signing, p.stem)):
            raw = load_public_key(path).public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            key = internal_pb.AssertionKey(
                key_id=path.stem,
                public_key=raw,
                state=internal_pb.ASSERTION_KEY_STATE_SIGNING
                if path.stem == signing
                else internal_pb.ASSERTION_KEY_STATE_VERIFY_ONLY,
            )
            key.create_time.FromDatetime(datetime.fromtimestamp(path.stat().st_mtime, UTC))
            keys.append(key)
        return internal_pb.ListAssertionKeysResponse(keys=keys)

    def CreateMessage(
        self, request: internal_pb.CreateMessageRequest, context: grpc.ServicerContext
    ) -> account_pb.Message:
        user_id = users.id_from(request.parent)
        wanted = request.message
        with self.core.runtime.session(write=True) as session:
            existing = session.exec(
                select(models.Message).where(models.Message.request_id == request.request_id)
            ).first()
            if existing is not None:
                return inbox.to_proto(existing)
            if session.get(models.User, user_id) is None:
                raise NotFound(f"{request.parent} not found")
            row = inbox.write(
                session,
                user_id=user_id,
                topic=wanted.topic,
                title=wanted.title,
                body=wanted.body,
                now=self.core.now(),
                customer=wanted.customer,
                target=wanted.target,
                notification=wanted.notification,
                request_id=request.request_id,
            )
            return inbox.to_proto(row)

    def LookupRecipients(
        self, request: internal_pb.LookupRecipientsRequest, context: grpc.ServicerContext
    ) -> internal_pb.LookupRecipientsResponse:
        filters = (request.topic, tuple(request.users), tuple(request.customers))
        after = paging.decode_token(request.page_token, filters, types=(str,))
        size = paging.page_size(request.page_size, 500)
        now = self.core.now()
        with self.core.runtime.session() as session:
            customers_of: dict[str, list[str]] = {}
            if request.customers:
                for binding in session.exec(
                    select(models.CustomerBinding).where(
                        col(models.CustomerBinding.customer).in_(list(request.customers))
                    )
                ).all():
                    customers_of.setdefault(binding.user_id, []).append(binding.customer)
                user_ids = sorted(customers_of)
            else:
                user_ids = sorted({users.id_from(name) for name in request.users})
            query = (
                select(models.User, models.Subscriptions)
                .join(
                    models.Subscriptions,
                    col(models.Subscriptions.user_id) == col(models.User.id),
                    isouter=True,
                )
                .where(col(models.User.id).in_(user_ids), col(models.User.state) == users.ACTIVE)
            )
            switch = OPTIONAL_TOPICS.get(request.topic)
            if switch is not None:
                # A user without a subscriptions row has every default: all topics on.
                subscribed = col(getattr(models.Subscriptions, switch))
                query = query.where(
                    or_(col(models.Subscriptions.user_id).is_(None), subscribed.is_(True))
                )
            if after is not None:
                query = query.where(col(models.User.id) > after[0])
            rows = session.exec(query.order_by(col(models.User.id)).limit(size + 1)).all()
            recipients = [
                self._recipient(session, user, subs, customers_of, now)
                for user, subs in rows[:size]
            ]
        return internal_pb.LookupRecipientsResponse(
            recipients=recipients,
            next_page_token=paging.next_page_token(rows, size, lambda row: [row[0].id], filters),
        )

    def _recipient(
        self,
        session: Session,
        user: models.User,
        subs: models.Subscriptions | None,
        customers_of: dict[str, list[str]],
        now: datetime,
    ) -> internal_pb.Recipient:
        channels = [account_pb.DELIVERY_CHANNEL_IN_APP]
        recipient = internal_pb.Recipient(
            user=users.name_of(user), customers=sorted(customers_of.get(user.id, []))
        )
        if subs is not None and subs.sms and user.phone:
            channels.append(account_pb.DELIVERY_CHANNEL_SMS)
            recipient.phone = user.phone
        if subs is None or subs.push:
            tokens = [
                row.push_token
                for row in sessions.alive_rows(session, user.id, now)
                if row.push_token
            ]
            if tokens:
                channels.append(account_pb.DELIVERY_CHANNEL_PUSH)
                recipient.push_tokens.extend(tokens)
        recipient.channels.extend(channels)
        return recipient

    def ListActiveUsers(
        self, request: internal_pb.ListActiveUsersRequest, context: grpc.ServicerContext
    ) -> internal_pb.ListActiveUsersResponse:
        since = from_timestamp(request.active_after)
        filters = [paging.time_key(since)]
        after = paging.decode_token(request.page_token, filters, types=(str,))
        size = paging.page_size(request.page_size, 500)
        with self.core.runtime.session() as session:
            found = active_users.active_after(
                session, since, after_user=None if after is None else after[0], limit=size + 1
            )
        return internal_pb.ListActiveUsersResponse(
            active_users=[user.to_proto() for user in found[:size]],
            next_page_token=paging.next_page_token(
                found, size, lambda user: [user.user_id], filters
            ),
        )

    def BatchGetUsers(
        self, request: internal_pb.BatchGetUsersRequest, context: grpc.ServicerContext
    ) -> internal_pb.BatchGetUsersResponse:
        now = self.core.now()
        with self.core.runtime.session() as session:
            found = [users.get(session, users.id_from(name)) for name in request.names]
            return internal_pb.BatchGetUsersResponse(
                users=[users.to_proto(session, user, now) for user in found]
            )

    def CreateAuditRecord(
        self, request: internal_pb.CreateAuditRecordRequest, context: grpc.ServicerContext
    ) -> admin_pb.AuditRecord:
        given = request.audit_record
        entry = audit.AuditEntry(
            action=given.action,
            event_time=given.event_time.ToDatetime(tzinfo=UTC),
            actor=given.actor,
            actor_username=given.actor_username,
            resource=given.resource,
            code=given.code,
            error_reason=given.error_reason,
            request_id=given.request_id,
            trace_id=given.trace_id,
            client_ip=given.client_ip,
            details=dict(given.details),
            recorder=require_principal().user,
        )
        with self.core.runtime.session(write=True) as session:
            record = audit.append(
                session, entry, now=self.core.now(), write_request_id=request.request_id
            )
            return audit.to_proto(record)

    def PurgeExpired(
        self, request: internal_pb.PurgeExpiredRequest, context: grpc.ServicerContext
    ) -> internal_pb.PurgeExpiredResponse:
        retention = timedelta(seconds=self.core.config.revocation_retention_seconds)
        with self.core.runtime.session(write=True) as session:
            purged = housekeeping.purge_expired(session, self.core.now(), retention=retention)
            # Registrations' keys are shared by every anonymous caller: kept briefly.
            forget_anonymous_keys(
                session,
                self.core.runtime.name,
                before=self.core.now() - self.core.config.anonymous_request_key_life,
            )
        return internal_pb.PurgeExpiredResponse(
            deleted_captcha_count=purged.captchas, expired_session_count=purged.sessions
        )
