"""Request validation from the `buf.validate` rules in the protos, with protovalidate.

Field paths in the resulting `google.rpc.BadRequest` use the JSON (lowerCamelCase) field
names, with `[index]` for repeated fields and `["key"]` for map keys:
`items[1].meterCode`, `labels["zone"]`. The phone app sees the requests as proto3 JSON,
so these paths name fields the way its developers wrote them; the edge passes them on.
A message-level rule (no field) has an empty path.
"""

from __future__ import annotations

import json
from typing import Any

import protovalidate
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from servers.runtime.errors import FieldViolation, InvalidArgument


class RequestValidator:
    """Validates requests; one instance per server (it caches compiled rules)."""

    def __init__(self) -> None:
        self._validator = protovalidate.Validator()

    def violations(self, message: Message) -> list[FieldViolation]:
        """Every rule `message` breaks; empty when it is valid."""
        found = self._validator.collect_violations(message)
        return [_field_violation(message.DESCRIPTOR, v.proto) for v in found]

    def check(self, message: Message) -> None:
        """Raise InvalidArgument naming each bad field when `message` breaks a rule."""
        violations = self.violations(message)
        if violations:
            raise InvalidArgument(_summary(violations), field_violations=violations)


def _summary(violations: list[FieldViolation]) -> str:
    first = violations[0]
    text = f"{first.field}: {first.description}" if first.field else first.description
    more = len(violations) - 1
    return f"invalid request: {text}" + (f" (and {more} more)" if more else "")


def _field_violation(descriptor: Any, violation: Any) -> FieldViolation:
    # A rule on the whole request (such as "latitude needs longitude") names no field:
    # its BadRequest entry has an empty field and the rule's message says what is wrong.
    elements = violation.field.elements if violation.field is not None else ()
    path = field_path(descriptor, elements)
    rule_id: str = violation.rule_id or ""
    reason = rule_id.replace(".", "_").upper() if rule_id else ""
    return FieldViolation(field=path, description=violation.message or rule_id, reason=reason)


def field_path(descriptor: Any, elements: Any) -> str:
    """A protovalidate FieldPath as `camelCase.path[0]["key"]`, walking the descriptors
    so each segment uses the field's JSON name."""
    parts: list[str] = []
    for element in elements:
        field: FieldDescriptor | None = (
            descriptor.fields_by_number.get(element.field_number) if descriptor else None
        )
        name = field.json_name if field is not None else _camel(element.field_name)
        parts.append(("." if parts else "") + name + _subscript(element.subscript))
        descriptor = _child_descriptor(field)
    return "".join(parts)


def _child_descriptor(field: FieldDescriptor | None) -> Descriptor | None:
    if field is None or field.message_type is None:
        return None
    message_type = field.message_type
    if message_type.GetOptions().map_entry:
        value = message_type.fields_by_name["value"]
        return value.message_type
    return message_type


def _subscript(subscript: Any) -> str:
    if subscript is None:
        return ""
    value = subscript.value
    if subscript.field == "string_key":
        return f"[{json.dumps(value, ensure_ascii=False)}]"
    if subscript.field == "bool_key":
        return f"[{'true' if value else 'false'}]"
    return f"[{value}]"


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
