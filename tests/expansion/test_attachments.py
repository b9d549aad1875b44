"""Documents attached to applications over real gRPC: size and type limits checked
against the bytes, files stored once by content, retried uploads made once, and the
applicant's and staff's scope."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import grpc
from sqlmodel import func, select

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.models import BlobRow
from tests.expansion.support import ExpansionSystem, fails, new_request_id

PDF = b"%PDF-1.7\n" + b"property certificate " * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300


def _document(
    content: bytes, content_type: str = "application/pdf", **fields: object
) -> pb.Attachment:
    """An attachment of `content` (sent inline unless `fields` give other `data`)."""
    values: dict[str, object] = {
        "kind": pb.ATTACHMENT_KIND_PROPERTY_CERTIFICATE,
        "display_name": "property-certificate.pdf",
        "content_type": content_type,
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "data": content,
        **fields,
    }
    return pb.Attachment(**values)  # type: ignore[arg-type]


def _attach(
    system: ExpansionSystem, parent: str, attachment: pb.Attachment, request_id: str = ""
) -> pb.Attachment:
    return system.stub.CreateAttachment(
        service_pb.CreateAttachmentRequest(
            parent=parent, attachment=attachment, request_id=request_id
        ),
        metadata=system.applicant(),
    )


def _blobs(system: ExpansionSystem) -> int:
    with system.expansion.runtime.session() as session:
        return int(session.exec(select(func.count()).select_from(BlobRow)).one())


def test_the_same_file_is_stored_once_however_often_it_is_attached(
    system: ExpansionSystem,
) -> None:
    first = system.file()
    second = system.file()
    made = _attach(system, first.name, _document(PDF))
    assert made.object_key == f"expansion/sha256/{hashlib.sha256(PDF).hexdigest()}"
    assert made.node == pb.NODE_KIND_ACCEPTANCE
    assert made.uploader == "users/u-app"
    assert not made.data
    _attach(system, second.name, _document(PDF))
    system.clock.advance(timedelta(minutes=1))
    # Named by its hash alone, a stored file needs no second upload.
    by_hash = _document(PDF, data=b"", display_name="again.pdf")
    _attach(system, second.name, by_hash)
    assert _blobs(system) == 1
    listed = system.stub.ListAttachments(
        service_pb.ListAttachmentsRequest(parent=second.name), metadata=system.expander()
    )
    assert [a.display_name for a in listed.attachments] == [
        "property-certificate.pdf",
        "again.pdf",
    ]
    unknown = fails(lambda: _attach(system, second.name, _document(PNG, "image/png", data=b"")))
    assert unknown.code == grpc.StatusCode.FAILED_PRECONDITION
    assert unknown.metadata["rule"] == "CONTENT_NOT_STORED"


def test_a_retried_upload_makes_one_attachment(system: ExpansionSystem) -> None:
    filed = system.file()
    request_id = new_request_id()
    first = _attach(system, filed.name, _document(PNG, "image/png"), request_id)
    again = _attach(system, filed.name, _document(PNG, "image/png"), request_id)
    assert again == first
    listed = system.stub.ListAttachments(
        service_pb.ListAttachmentsRequest(parent=filed.name), metadata=system.applicant()
    )
    assert [a.name for a in listed.attachments] == [first.name]


def test_files_that_do_not_match_what_is_said_of_them_are_refused(
    system: ExpansionSystem,
) -> None:
    filed = system.file()
    cases = {
        "attachment.contentType": _document(PNG, "application/pdf"),
        "attachment.sha256": _document(PDF, sha256="0" * 64),
        "attachment.sizeBytes": _document(PDF, size_bytes=len(PDF) + 1),
    }
    for field, attachment in cases.items():
        refused = fails(lambda a=attachment: _attach(system, filed.name, a))  # type: ignore[misc]
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT, field
        assert [v.field for v in refused.field_violations] == [field]  # type: ignore[attr-defined]
    too_big = b"%PDF-" + b"x" * 786432
    refused = fails(lambda: _attach(system, filed.name, _document(too_big)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    executable = fails(
        lambda: _attach(system, filed.name, _document(PDF, "application/x-msdownload"))
    )
    assert executable.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _blobs(system) == 0


def test_documents_are_kept_within_scope_and_once_closed(system: ExpansionSystem) -> None:
    filed = system.file()
    made = _attach(system, filed.name, _document(PDF))
    peek = fails(
        lambda: system.stub.GetAttachment(
            service_pb.GetAttachmentRequest(name=made.name), metadata=system.expander("s-zy")
        )
    )
    assert peek.code == grpc.StatusCode.PERMISSION_DENIED
    system.stub.RejectApplication(
        service_pb.RejectApplicationRequest(name=filed.name, reason="资料不全"),
        metadata=system.expander(),
    )
    kept = fails(
        lambda: system.stub.DeleteAttachment(
            service_pb.DeleteAttachmentRequest(name=made.name), metadata=system.applicant()
        )
    )
    assert kept.metadata["rule"] == "APPLICATION_CLOSED"
    late = fails(lambda: _attach(system, filed.name, _document(PNG, "image/png")))
    assert late.metadata["rule"] == "APPLICATION_CLOSED"
    seen = system.stub.GetAttachment(
        service_pb.GetAttachmentRequest(name=made.name), metadata=system.expander()
    )
    assert seen.sha256 == hashlib.sha256(PDF).hexdigest()
