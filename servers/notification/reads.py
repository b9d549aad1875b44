"""GetMessage, ListMessages and ListDeliveries: the outbox as operators follow it."""

from __future__ import annotations

from typing import Any

import grpc
from sqlmodel import col, select

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.notification.models import DeliveryRow, MessageRow
from servers.notification.resources import (
    attempts_of,
    channel_text,
    delivery_to_proto,
    message_id_of,
    message_to_proto,
    name_text,
    stats_of,
    topic_text,
)
from servers.runtime import NotFound, Runtime, paging
from servers.runtime.protoconv import from_timestamp

_MESSAGE_ORDER = (col(MessageRow.create_time), col(MessageRow.id))
_DELIVERY_ORDER = (col(DeliveryRow.create_time), col(DeliveryRow.id))
ALL_MESSAGES = "-"


class ReadMethods:
    runtime: Runtime

    def GetMessage(
        self, request: service_pb.GetMessageRequest, context: grpc.ServicerContext
    ) -> notification_pb.Message:
        with self.runtime.session() as session:
            row = session.get(MessageRow, message_id_of(request.name))
            if row is None:
                raise NotFound(f"{request.name} not found")
            return message_to_proto(row, stats_of(session, [row.id])[row.id])

    def ListMessages(
        self, request: service_pb.ListMessagesRequest, context: grpc.ServicerContext
    ) -> service_pb.ListMessagesResponse:
        filters: list[Any] = [
            request.state,
            request.topic,
            request.sender,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        ]
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        size = paging.page_size(request.page_size, 50)
        query = select(MessageRow)
        if request.state:
            state = name_text(notification_pb.MessageState, request.state, "MESSAGE_STATE_")
            query = query.where(col(MessageRow.state) == state)
        if request.topic:
            query = query.where(col(MessageRow.topic) == topic_text(request.topic))
        if request.sender:
            query = query.where(col(MessageRow.sender) == request.sender)
        if request.HasField("start_time"):
            query = query.where(col(MessageRow.create_time) >= from_timestamp(request.start_time))
        if request.HasField("end_time"):
            query = query.where(col(MessageRow.create_time) < from_timestamp(request.end_time))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(_MESSAGE_ORDER, key))
        with self.runtime.session() as session:
            rows = session.exec(
                query.order_by(*(c.desc() for c in _MESSAGE_ORDER)).limit(size + 1)
            ).all()
            page = rows[:size]
            stats = stats_of(session, [row.id for row in page])
            return service_pb.ListMessagesResponse(
                messages=[message_to_proto(row, stats[row.id]) for row in page],
                next_page_token=paging.next_page_token(
                    rows, size, lambda row: [paging.time_key(row.create_time), row.id], filters
                ),
            )

    def ListDeliveries(
        self, request: service_pb.ListDeliveriesRequest, context: grpc.ServicerContext
    ) -> service_pb.ListDeliveriesResponse:
        filters: list[Any] = [request.parent, request.state, request.channel, request.user]
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        size = paging.page_size(request.page_size, 100)
        message_id = message_id_of(request.parent)
        query = select(DeliveryRow)
        if message_id != ALL_MESSAGES:
            query = query.where(col(DeliveryRow.message_id) == message_id)
        if request.state:
            state = name_text(notification_pb.DeliveryState, request.state, "DELIVERY_STATE_")
            query = query.where(col(DeliveryRow.state) == state)
        if request.channel:
            query = query.where(col(DeliveryRow.channel) == channel_text(request.channel))
        if request.user:
            query = query.where(col(DeliveryRow.user) == request.user)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(_DELIVERY_ORDER, key))
        with self.runtime.session() as session:
            if message_id != ALL_MESSAGES and session.get(MessageRow, message_id) is None:
                raise NotFound(f"{request.parent} not found")
            rows = session.exec(
                query.order_by(*(c.desc() for c in _DELIVERY_ORDER)).limit(size + 1)
            ).all()
            page = rows[:size]
            attempts = attempts_of(session, [row.id for row in page])
            return service_pb.ListDeliveriesResponse(
                deliveries=[delivery_to_proto(row, attempts[row.id]) for row in page],
                next_page_token=paging.next_page_token(
                    rows, size, lambda row: [paging.time_key(row.create_time), row.id], filters
                ),
            )
