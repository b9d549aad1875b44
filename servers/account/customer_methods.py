"""AccountService methods about what hangs under a user: customer bindings, alert
subscriptions and the in-app inbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import grpc
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import (
    binding_codes,
    binding_commit,
    binding_limits,
    binding_notices,
    bindings,
    captchas,
    inbox,
    models,
    revocations,
)
from servers.account.core import AccountCore
from servers.account.scope import own_user_id, readable_user_id
from servers.runtime import NotFound, audit_note, callmeta, paging
from servers.runtime.etags import check_content_etag, content_etag
from servers.runtime.idempotency import IdempotentRequest
from servers.runtime.update_masks import fields_to_update

SUBSCRIPTION_FIELDS = ("outage", "bill", "application_progress", "notice", "sms", "push")


def subscriptions_proto(row: models.Subscriptions) -> account_pb.Subscriptions:
    message = account_pb.Subscriptions(
        name=f"users/{row.user_id}/subscriptions",
        **{field: getattr(row, field) for field in SUBSCRIPTION_FIELDS},
    )
    message.update_time.FromDatetime(row.update_time)
    message.etag = content_etag(message)
    return message


class CustomerMethods:
    core: AccountCore

    # --- bindings ---------------------------------------------------------------------

    def SendCustomerBindingCode(
        self, request: requests_pb.SendCustomerBindingCodeRequest, context: grpc.ServicerContext
    ) -> requests_pb.SendCustomerBindingCodeResponse:
        user_id = own_user_id(request.parent)
        customer = request.customer
        now = self.core.now()
        audit_note().resource = (
            f"users/{user_id}/customerBindings/{bindings.customer_number(customer)}"
        )
        # A captcha per code sent: a customer's allowance costs a stranger one each.
        captchas.spend(self.core.runtime, request.captcha, request.captcha_answer, now=now)
        self._count_attempt(binding_limits.SEND, user_id, customer, context, now)
        self._check_can_bind_now(user_id, customer)
        answer = bindings.ask_billing(self.core, customer)
        expire_time = now + timedelta(seconds=self.core.config.binding_code_ttl_seconds)
        # An unknown, closed or phoneless customer gets the same answer, and no code.
        if answer.verified:
            with self.core.runtime.session(write=True) as session:
                code, expire_time = binding_codes.issue(
                    self.core,
                    session,
                    user_id=user_id,
                    customer=customer,
                    supply_office=answer.supply_office,
                    registered_phone=answer.registered_phone,
                    now=now,
                )
            binding_notices.send_code(
                self.core,
                customer=customer,
                registered_phone=answer.registered_phone,
                code=code,
            )
        reply = requests_pb.SendCustomerBindingCodeResponse()
        reply.expire_time.FromDatetime(expire_time)
        return reply

    def CreateCustomerBinding(
        self, request: requests_pb.CreateCustomerBindingRequest, context: grpc.ServicerContext
    ) -> account_pb.CustomerBinding:
        user_id = own_user_id(request.parent)
        wanted = request.customer_binding
        customer = wanted.customer
        now = self.core.now()
        audit_note().resource = (
            f"users/{user_id}/customerBindings/{bindings.customer_number(customer)}"
        )
        # A retry (same request_id) gets the binding made first, and counts no attempt.
        key = IdempotentRequest.of(
            self.core.runtime,
            request,
            ignore=("customer_binding.verification",),
            clock=self.core.clock,
        )
        earlier = None if key is None else key.replay(self.core.runtime, bindings.load)
        if earlier is not None:
            return earlier
        self._count_attempt(binding_limits.TRY, user_id, customer, context, now)
        self._check_can_bind_now(user_id, customer)
        with self.core.runtime.session(write=True) as session:
            pending = binding_codes.count_try(
                self.core, session, user_id=user_id, customer=customer, now=now
            )
        if pending is None or not self.core.hasher.verify(pending.code_hash, wanted.verification):
            raise bindings.verification_failed()
        with self.core.runtime.session(write=True) as session:
            if not binding_codes.use(
                session, user_id=user_id, customer=customer, code_hash=pending.code_hash
            ):
                raise bindings.verification_failed()
            made = binding_commit.bind(
                self.core,
                session,
                user_id=user_id,
                customer=customer,
                display_name=wanted.display_name,
                supply_office=pending.supply_office,
                registered_phone=pending.registered_phone,
                now=now,
            )
            if key is not None:
                key.remember(session, made.name, now)
            return made

    def _count_attempt(
        self,
        kind: str,
        user_id: str,
        customer: str,
        context: grpc.ServicerContext,
        now: datetime,
    ) -> None:
        with self.core.runtime.session(write=True) as session:
            refusal = binding_limits.count_attempt(
                session,
                self.core.config,
                kind,
                user_id=user_id,
                customer=customer,
                client_ip=callmeta.client_ip(context),
                now=now,
            )
        if refusal is not None:
            raise refusal

    def _check_can_bind(self, user_id: str, customer: str, session: Session) -> None:
        limit = self.core.params(session).customer_binding_limit
        bindings.check_can_bind(
            session, user_id, customer, limit, self.core.config.binding_users_per_customer
        )

    def _check_can_bind_now(self, user_id: str, customer: str) -> None:
        with self.core.runtime.session() as session:
            self._check_can_bind(user_id, customer, session)

    def ListCustomerBindings(
        self, request: requests_pb.ListCustomerBindingsRequest, context: grpc.ServicerContext
    ) -> requests_pb.ListCustomerBindingsResponse:
        user_id = readable_user_id(request.parent, self.core.runtime)
        after = paging.decode_token(request.page_token, [user_id], types=(str, str))
        # 0 means all of them: a user binds a few customers.
        size = paging.page_size(request.page_size, paging.MAX_PAGE_SIZE)
        order = (col(models.CustomerBinding.create_time), col(models.CustomerBinding.customer))
        query = select(models.CustomerBinding).where(models.CustomerBinding.user_id == user_id)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.ascending_after(order, key))
        with self.core.runtime.session() as session:
            rows = session.exec(query.order_by(*order).limit(size + 1)).all()
        return requests_pb.ListCustomerBindingsResponse(
            customer_bindings=[bindings.to_proto(row) for row in rows[:size]],
            next_page_token=paging.next_page_token(
                rows, size, lambda row: [paging.time_key(row.create_time), row.customer], [user_id]
            ),
        )

    def DeleteCustomerBinding(
        self, request: requests_pb.DeleteCustomerBindingRequest, context: grpc.ServicerContext
    ) -> requests_pb.DeleteCustomerBindingResponse:
        user_id = own_user_id(request.name)
        customer = "customers/" + request.name.rsplit("/", 1)[1]
        now = self.core.now()
        customer_id = customer.removeprefix("customers/")
        audit_note().resource = f"users/{user_id}/customerBindings/{customer_id}"
        with self.core.runtime.session(write=True) as session:
            row = session.get(models.CustomerBinding, (user_id, customer))
            if row is None:
                raise NotFound(f"{customer} is not bound")
            session.delete(row)
            revocations.revoke(session, revocations.USER, [f"users/{user_id}"], now)
        return requests_pb.DeleteCustomerBindingResponse()

    # --- subscriptions ------------------------------------------------------------------

    def _subscriptions(self, session: Session, user_id: str) -> models.Subscriptions:
        row = session.get(models.Subscriptions, user_id)
        if row is None:
            if session.get(models.User, user_id) is None:
                raise NotFound(f"users/{user_id} not found")
            row = models.Subscriptions(user_id=user_id, update_time=self.core.now())
            session.add(row)
        return row

    def GetSubscriptions(
        self, request: requests_pb.GetSubscriptionsRequest, context: grpc.ServicerContext
    ) -> account_pb.Subscriptions:
        user_id = readable_user_id(request.name, self.core.runtime)
        with self.core.runtime.session(write=True) as session:
            return subscriptions_proto(self._subscriptions(session, user_id))

    def UpdateSubscriptions(
        self, request: requests_pb.UpdateSubscriptionsRequest, context: grpc.ServicerContext
    ) -> account_pb.Subscriptions:
        user_id = own_user_id(request.subscriptions.name)
        # AIP-134: the mask's fields, every switch for "*", the switches sent for none
        # (they have explicit presence, so a false one counts as sent).
        fields = fields_to_update(request.update_mask, request.subscriptions, SUBSCRIPTION_FIELDS)
        with self.core.runtime.session(write=True) as session:
            row = self._subscriptions(session, user_id)
            check_content_etag(request.subscriptions.etag, subscriptions_proto(row))
            for field in fields:
                setattr(row, field, getattr(request.subscriptions, field))
            row.update_time = self.core.now()
            session.add(row)
            return subscriptions_proto(row)

    # --- inbox ------------------------------------------------------------------------

    def ListMessages(
        self, request: requests_pb.ListMessagesRequest, context: grpc.ServicerContext
    ) -> requests_pb.ListMessagesResponse:
        user_id = readable_user_id(request.parent, self.core.runtime)
        filters = (user_id, request.topic)
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        size = paging.page_size(request.page_size, 20)
        condition = [col(models.Message.user_id) == user_id]
        if request.topic:
            condition.append(col(models.Message.topic) == request.topic)
        order = (col(models.Message.create_time), col(models.Message.id))
        query = select(models.Message).where(*condition)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(order, key))
        with self.core.runtime.session() as session:
            rows = session.exec(
                query.order_by(*(column.desc() for column in order)).limit(size + 1)
            ).all()
            unread = session.exec(
                select(func.count())
                .select_from(models.Message)
                .where(*condition, col(models.Message.read_time).is_(None))
            ).one()
        return requests_pb.ListMessagesResponse(
            messages=[inbox.to_proto(row) for row in rows[:size]],
            next_page_token=paging.next_page_token(
                rows, size, lambda row: [paging.time_key(row.create_time), row.id], filters
            ),
            unread_count=int(unread),
        )

    def _message(self, name: str, *, write: bool) -> tuple[str, str]:
        parts = name.split("/")
        user_id = own_user_id(name) if write else readable_user_id(name, self.core.runtime)
        return user_id, parts[3]

    def GetMessage(
        self, request: requests_pb.GetMessageRequest, context: grpc.ServicerContext
    ) -> account_pb.Message:
        user_id, message_id = self._message(request.name, write=False)
        with self.core.runtime.session() as session:
            row = session.get(models.Message, message_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"{request.name} not found")
        return inbox.to_proto(row)

    def MarkMessageRead(
        self, request: requests_pb.MarkMessageReadRequest, context: grpc.ServicerContext
    ) -> requests_pb.MarkMessageReadResponse:
        user_id, message_id = self._message(request.name, write=True)
        with self.core.runtime.session(write=True) as session:
            row = session.get(models.Message, message_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"{request.name} not found")
            if row.read_time is None:
                row.read_time = self.core.now()
                session.add(row)
            return requests_pb.MarkMessageReadResponse(message=inbox.to_proto(row))

    def MarkAllMessagesRead(
        self, request: requests_pb.MarkAllMessagesReadRequest, context: grpc.ServicerContext
    ) -> requests_pb.MarkAllMessagesReadResponse:
        user_id = own_user_id(request.parent)
        through = request.read_through_time.ToDatetime(tzinfo=self.core.now().tzinfo)
        with self.core.runtime.session(write=True) as session:
            result = session.execute(
                update(models.Message)
                .where(
                    col(models.Message.user_id) == user_id,
                    col(models.Message.read_time).is_(None),
                    col(models.Message.create_time) <= through,
                )
                .values(read_time=self.core.now())
            )
        return requests_pb.MarkAllMessagesReadResponse(marked_count=result.rowcount)  # type: ignore[attr-defined]
