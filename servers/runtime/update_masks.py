"""Update masks (AIP-134, AIP-161)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message


def fields_to_update(
    mask: field_mask_pb2.FieldMask, change: Message, updatable: Sequence[str]
) -> list[str]:
    """The fields an update changes: those in the mask (its paths are checked against
    the updatable ones by the request's rules), every updatable field for `*`, or, for
    an empty mask, every updatable field set in `change`."""
    paths = list(mask.paths)
    if "*" in paths:
        return list(updatable)
    if paths:
        return paths
    present = {field.name for field, _ in change.ListFields()}
    return [name for name in updatable if name in present]
