"""The in-app inbox: writing messages into it and showing them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import models
from servers.runtime.ids import new_id


def write(
    session: Session,
    *,
    user_id: str,
    topic: int,
    title: str,
    body: str,
    now: datetime,
    customer: str = "",
    target: str = "",
    notification: str = "",
    request_id: str | None = None,
) -> models.Message:
    row = models.Message(
        id=new_id(10),
        user_id=user_id,
        topic=topic,
        title=title[:64],
        body=body[:2000],
        customer=customer,
        target=target,
        notification=notification,
        create_time=now,
        request_id=request_id,
    )
    session.add(row)
    session.flush()
    return row


def to_proto(row: models.Message) -> account_pb.Message:
    message = account_pb.Message(
        name=f"users/{row.user_id}/messages/{row.id}",
        topic=row.topic,  # type: ignore[arg-type]
        title=row.title,
        body=row.body,
        customer=row.customer,
        target=row.target,
        notification=row.notification,
    )
    message.create_time.FromDatetime(row.create_time)
    if row.read_time is not None:
        message.read_time.FromDatetime(row.read_time)
    return message
