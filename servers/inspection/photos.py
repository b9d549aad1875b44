"""Evidence photos: an inline image must be what its media type says (its leading
bytes are checked, so a renamed document is refused), is at most 512 KiB (the request
rules), and is stored once per content, keyed by its SHA-256, however many findings or
retries carry it. A finding keeps references to its photos, never the bytes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.models import PhotoRow
from servers.runtime import FieldViolation, InvalidArgument
from servers.runtime.protoconv import from_timestamp

HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if content_type == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if content_type == "image/heic":
        return data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS
    return False


def check_photos(photos: Any, field: str) -> None:
    """INVALID_ARGUMENT naming `field[i].data` for each inline photo whose bytes are not
    an image of its declared media type."""
    violations = [
        FieldViolation(f"{field}[{index}].data", f"the bytes are not a {photo.content_type} image")
        for index, photo in enumerate(photos)
        if photo.WhichOneof("source") == "data" and not _looks_like(photo.content_type, photo.data)
    ]
    if violations:
        raise InvalidArgument(
            f"a photo is not what its content type says: {violations[0].field}",
            field_violations=violations,
        )


def store_photo(session: Session, photo: resources_pb2.Photo, now: datetime) -> dict[str, Any]:
    """Keep `photo` (its bytes once per content) and return the finding's reference."""
    captured = (
        from_timestamp(photo.capture_time).isoformat() if photo.HasField("capture_time") else ""
    )
    if photo.WhichOneof("source") != "data":
        return {"content_type": photo.content_type, "uri": photo.uri, "capture_time": captured}
    digest = hashlib.sha256(photo.data).hexdigest()
    if session.get(PhotoRow, digest) is None:
        try:
            # A savepoint: another finding storing the same image at the same moment
            # wins the insert, and this transaction carries on with its row.
            with session.begin_nested():
                session.add(
                    PhotoRow(
                        sha256=digest,
                        content_type=photo.content_type,
                        size_bytes=len(photo.data),
                        data=photo.data,
                        create_time=now,
                    )
                )
        except IntegrityError:
            pass
    return {
        "content_type": photo.content_type,
        "sha256": digest,
        "size_bytes": len(photo.data),
        "capture_time": captured,
    }
