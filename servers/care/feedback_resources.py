"""Feedback between its rows and the `palmgrid.care.v1.Feedback` resource."""

from __future__ import annotations

from collections.abc import Iterable

from google.type import latlng_pb2

from palmgrid.care.v1 import resources_pb2
from servers.care.models import FeedbackEventRow, FeedbackRow
from servers.runtime.ids import Collection
from servers.runtime.protoconv import timestamp

FEEDBACK = Collection("feedback")


feedback_name = FEEDBACK.name
feedback_id = FEEDBACK.id


def kind_name(value: int) -> str:
    """The stored name of a FeedbackKind value ("COMPLAINT")."""
    return resources_pb2.FeedbackKind.Name(value).removeprefix("FEEDBACK_KIND_")  # type: ignore[arg-type]


def state_name(value: int) -> str:
    """The stored name of a FeedbackState value ("SUBMITTED")."""
    return resources_pb2.FeedbackState.Name(value).removeprefix("FEEDBACK_STATE_")  # type: ignore[arg-type]


def _kind(name: str) -> resources_pb2.FeedbackKind.ValueType:
    return resources_pb2.FeedbackKind.Value(f"FEEDBACK_KIND_{name}")


def _state(name: str) -> resources_pb2.FeedbackState.ValueType:
    return resources_pb2.FeedbackState.Value(f"FEEDBACK_STATE_{name}")


def _action(name: str) -> resources_pb2.FeedbackAction.ValueType:
    return resources_pb2.FeedbackAction.Value(f"FEEDBACK_ACTION_{name}")


def event_message(row: FeedbackEventRow) -> resources_pb2.FeedbackEvent:
    return resources_pb2.FeedbackEvent(
        action=_action(row.action),
        actor=row.actor,
        actor_display_name=row.actor_display_name,
        text=row.text,
        state=_state(row.state),
        create_time=timestamp(row.create_time),
    )


def feedback_resource(
    row: FeedbackRow, history: Iterable[FeedbackEventRow] = ()
) -> resources_pb2.Feedback:
    """The Feedback of a row with its handling history (oldest first)."""
    location = None
    if row.latitude is not None and row.longitude is not None:
        location = latlng_pb2.LatLng(latitude=row.latitude, longitude=row.longitude)
    return resources_pb2.Feedback(
        name=feedback_name(row.id),
        kind=_kind(row.kind),
        customer=row.customer,
        content=row.content,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        location=location,
        address=row.address,
        photos=[
            resources_pb2.Photo(content_type=p["content_type"], uri=p["uri"]) for p in row.photos
        ],
        state=_state(row.state),
        author=row.author,
        supply_office=row.supply_office,
        assignee=row.assignee,
        due_time=timestamp(row.due_time),
        resolution=row.resolution,
        rating=row.rating,
        rating_comment=row.rating_comment,
        history=[event_message(e) for e in history],
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        resolve_time=timestamp(row.resolve_time),
        close_time=timestamp(row.close_time),
    )
