"""Documents attached to an application (ID document, property certificate, licence,
...): CreateAttachment, ListAttachments, GetAttachment, DeleteAttachment.

A file is sent inline (`data`) with its size, SHA-256 and media type, each checked
against the bytes: the size against `PALMGRID_EXPANSION_ATTACHMENT_MAX_BYTES`, the
media type against the file's own signature (a renamed executable is not a PDF). Files
are stored by content (`expansion_blobs`, keyed by SHA-256): the same file attached
twice, to one application or several, is stored once, and an attachment may name a
stored file by its SHA-256 alone. The applicant and staff in scope attach and remove
documents while the application is in progress; a `request_id` makes a retried upload
return the attachment made first.
"""

from __future__ import annotations

import hashlib
from typing import Any

from google.protobuf import empty_pb2
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.config import ExpansionConfig
from servers.expansion.models import ApplicationRow, AttachmentRow, BlobRow, NodeRow
from servers.expansion.resources import enum_name, node_kind_value
from servers.expansion.store import load_row
from servers.expansion.transitions import current_node
from servers.runtime import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Runtime,
    audit_note,
    paging,
    require_principal,
    require_supply_office_scope,
)
from servers.runtime.idempotency import create_once
from servers.runtime.ids import new_id
from servers.runtime.protoconv import timestamp

# The first bytes every file of a media type starts with.
SIGNATURES = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/pdf": b"%PDF-",
}
_COLUMNS = AttachmentRow.__table__.c  # type: ignore[attr-defined]
OLDEST_FIRST = (_COLUMNS.create_time, _COLUMNS.id)


def object_key(sha256: str) -> str:
    return f"expansion/sha256/{sha256}"


def attachment_message(application_id: str, row: AttachmentRow) -> pb.Attachment:
    return pb.Attachment(
        name=f"applications/{application_id}/attachments/{row.id}",
        kind=pb.AttachmentKind.Value(f"ATTACHMENT_KIND_{row.kind}"),
        display_name=row.display_name,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        object_key=object_key(row.sha256),
        node=node_kind_value(row.node) if row.node else pb.NODE_KIND_UNSPECIFIED,
        uploader=row.uploader,
        create_time=timestamp(row.create_time),
    )


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"the attachment's {field} {why}",
        field_violations=[FieldViolation(f"attachment.{field}", why)],
    )


def check_content(sent: pb.Attachment, max_bytes: int) -> None:
    """Refuse inline content that is too large or does not match what is said of it."""
    data = sent.data
    if len(data) > max_bytes:
        raise _bad("data", f"is {len(data)} bytes, more than the {max_bytes} accepted")
    if len(data) != sent.size_bytes:
        raise _bad("sizeBytes", f"is {sent.size_bytes}, but the file has {len(data)} bytes")
    if hashlib.sha256(data).hexdigest() != sent.sha256:
        raise _bad("sha256", "does not match the file's content")
    if not data.startswith(SIGNATURES[sent.content_type]):
        raise _bad("contentType", f"is {sent.content_type}, but the file is not one")


def _attachment_ids(name: str) -> tuple[str, str]:
    parts = name.split("/")
    return parts[1], parts[3]


class AttachmentMethods:
    """CreateAttachment, ListAttachments, GetAttachment, DeleteAttachment."""

    runtime: Runtime
    clock: Clock
    config: ExpansionConfig

    def _application(self, session: Session, name: str) -> ApplicationRow:
        row = load_row(session, name)
        require_supply_office_scope(require_principal(), row.supply_office, creator=row.creator)
        return row

    def CreateAttachment(
        self, request: service_pb.CreateAttachmentRequest, context: Any
    ) -> pb.Attachment:
        caller = require_principal()
        sent = request.attachment
        if sent.data:
            check_content(sent, self.config.attachment_max_bytes)

        def create(session: Session) -> tuple[str, pb.Attachment]:
            application = self._application(session, request.parent)
            node = current_node(
                application,
                list(session.exec(select(NodeRow).where(NodeRow.application_id == application.id))),
            )
            blob = session.get(BlobRow, sent.sha256)
            if blob is None:
                if not sent.data:
                    raise FailedPrecondition(
                        "no stored file has this sha256; send the file as data",
                        metadata={"rule": "CONTENT_NOT_STORED", "field": "attachment.data"},
                    )
                session.add(
                    BlobRow(
                        sha256=sent.sha256,
                        content_type=sent.content_type,
                        size_bytes=len(sent.data),
                        data=sent.data,
                        create_time=self.clock.now(),
                    )
                )
                session.flush()
            elif (blob.size_bytes, blob.content_type) != (sent.size_bytes, sent.content_type):
                raise _bad("sizeBytes", "and contentType differ from the stored file's")
            row = AttachmentRow(
                id=new_id(),
                application_id=application.id,
                kind=enum_name(pb.AttachmentKind, "ATTACHMENT_KIND_", sent.kind),
                node=node.kind,
                display_name=sent.display_name,
                content_type=sent.content_type,
                size_bytes=sent.size_bytes,
                sha256=sent.sha256,
                uploader=caller.user,
                create_time=self.clock.now(),
            )
            session.add(row)
            session.flush()
            made = attachment_message(application.id, row)
            audit_note().details = {
                "sha256": sent.sha256,
                "stored": "new" if blob is None else "existing",
            }
            return made.name, made

        def load(session: Session, name: str) -> pb.Attachment:
            return self._get(session, name)

        for attempt in range(2):
            try:
                return create_once(
                    self.runtime, request, create=create, load=load, clock=self.clock
                )
            except IntegrityError:
                # Another upload stored the same new file first: it is there now.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _get(self, session: Session, name: str) -> pb.Attachment:
        application_id, attachment_id = _attachment_ids(name)
        self._application(session, f"applications/{application_id}")
        row = session.get(AttachmentRow, attachment_id)
        if row is None or row.application_id != application_id:
            raise NotFound(f"{name} not found")
        return attachment_message(application_id, row)

    def GetAttachment(
        self, request: service_pb.GetAttachmentRequest, context: Any
    ) -> pb.Attachment:
        with self.runtime.session() as session:
            return self._get(session, request.name)

    def ListAttachments(
        self, request: service_pb.ListAttachmentsRequest, context: Any
    ) -> service_pb.ListAttachmentsResponse:
        filters = [request.parent]
        size = paging.page_size(request.page_size)
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        with self.runtime.session() as session:
            application = self._application(session, request.parent)
            query = select(AttachmentRow).where(AttachmentRow.application_id == application.id)
            if after is not None:
                key = (paging.time_from_key(after[0]), after[1])
                query = query.where(paging.ascending_after(OLDEST_FIRST, key))
            rows = list(session.exec(query.order_by(*OLDEST_FIRST).limit(size + 1)))
        token = paging.next_page_token(
            rows, size, lambda r: [paging.time_key(r.create_time), r.id], filters
        )
        return service_pb.ListAttachmentsResponse(
            attachments=[attachment_message(application.id, r) for r in rows[:size]],
            next_page_token=token,
        )

    def DeleteAttachment(
        self, request: service_pb.DeleteAttachmentRequest, context: Any
    ) -> empty_pb2.Empty:
        application_id, attachment_id = _attachment_ids(request.name)
        with self.runtime.session(write=True) as session:
            application = self._application(session, f"applications/{application_id}")
            if application.state != "IN_PROGRESS":
                raise FailedPrecondition(
                    "documents of a closed application are kept",
                    metadata={"rule": "APPLICATION_CLOSED", "state": application.state},
                )
            row = session.get(AttachmentRow, attachment_id)
            if row is None or row.application_id != application_id:
                raise NotFound(f"{request.name} not found")
            # The blob stays: other attachments may name the same file.
            session.delete(row)
        return empty_pb2.Empty()
