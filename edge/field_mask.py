"""Derive `update_mask` from the JSON a client sent, for PATCH without an explicit mask.

grpc-gateway's rule (`runtime/fieldmask.go`): every leaf of the body object becomes a
path in proto names, relative to the resource (AIP-161). We descend into nested objects
of ordinary message fields; a map, a repeated field, a well-known type or a scalar is a
leaf; an empty object names its field as a whole (the client set it to empty).
"""

from __future__ import annotations

from typing import Any

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


def _by_json_name(message: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
    for field in message.fields:
        if field.json_name == name:
            return field
    return None
