"""Derive `update_mask` from the JSON a client sent, for PATCH without an explicit mask.

grpc-gateway's rule (`runtime/fieldmask.go`): every leaf of the body object becomes a
path in proto names, relative to the resource (AIP-161). We descend into nested objects
of ordinary message fields; a map, a repeated field, a well-known type or a scalar is a
leaf; an empty object names its field as a whole (the client set it to empty).

Unlike grpc-gateway, keys that change nothing are left out: the resource's `name`
(IDENTIFIER: it says which resource), its `etag` (a precondition, AIP-154) and
OUTPUT_ONLY fields echoed back from a read. A client may then PATCH a resource as it
read it, etag included, and have only its own fields in the mask.
"""

from __future__ import annotations

from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor

__all__ = ["paths_from_json"]


def paths_from_json(value: Any, message: descriptor.Descriptor) -> list[str]:
    """Field mask paths for the keys present in a JSON object of the given message type."""
    paths: list[str] = []
    if isinstance(value, dict):
        _walk(value, message, "", paths)
    return paths


def _walk(obj: dict[str, Any], message: descriptor.Descriptor, prefix: str, out: list[str]) -> None:
    for key, value in obj.items():
        field = message.fields_by_name.get(key) or _by_json_name(message, key)
        if field is None:
            continue  # the body decoder has already refused unknown fields
        if _changes_nothing(field):
            continue
        path = prefix + field.name
        nested = field.message_type
        if (
            isinstance(value, dict)
            and value
            and nested is not None
            and not field.is_repeated
            and not nested.full_name.startswith("google.protobuf.")
        ):
            _walk(value, nested, path + ".", out)
        else:
            out.append(path)


_NOT_CHANGES = {field_behavior_pb2.IDENTIFIER, field_behavior_pb2.OUTPUT_ONLY}


def _changes_nothing(field: descriptor.FieldDescriptor) -> bool:
    if field.name == "etag":
        return True
    behaviors = set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])
    return bool(behaviors & _NOT_CHANGES)


def _by_json_name(message: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
    for field in message.fields:
        if field.json_name == name:
            return field
    return None
