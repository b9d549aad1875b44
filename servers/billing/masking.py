"""Masking of sensitive fields for display, driven by the contract.

Fields marked `(palmgrid.options.v1.field) = {sensitive: true, mask: …}` are masked in
place, in the message and every nested message, following the field's mask style.
Masks are idempotent (masking a masked value changes nothing), so a layer in front that
masks again does no harm.
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from palmgrid.options.v1 import options_pb2


def mask_value(value: str, style: int) -> str:
    """`value` masked in mask style `style` (a palmgrid.options.v1.MaskStyle value)."""
    if not value:
        return value
    if style == options_pb2.MASK_STYLE_PHONE:
        return value[:3] + "****" + value[-4:] if len(value) > 7 else "*" * len(value)
    if style == options_pb2.MASK_STYLE_NAME:
        if len(value) <= 2:
            return value[0] + "*"
        return value[0] + "*" * (len(value) - 2) + value[-1]
    if style == options_pb2.MASK_STYLE_ID_NUMBER:
        return (
            value[:6] + "*" * (len(value) - 10) + value[-4:]
            if len(value) > 10
            else "*" * len(value)
        )
    if style == options_pb2.MASK_STYLE_BANK_ACCOUNT:
        return "*" * (len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)
    return "*" * len(value)


@cache
def _sensitive_fields(descriptor: Descriptor) -> tuple[tuple[FieldDescriptor, int], ...]:
    found = []
    for field in descriptor.fields:
        options = field.GetOptions()
        if options.HasExtension(options_pb2.field):
            rules = options.Extensions[options_pb2.field]
            if rules.sensitive:
                found.append((field, int(rules.mask)))
    return tuple(found)


@cache
def _message_fields(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    return tuple(f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_MESSAGE)


def mask_message(message: Message) -> Message:
    """Mask every sensitive string field of `message` (recursively), in place."""
    descriptor = message.DESCRIPTOR
    for field, style in _sensitive_fields(descriptor):
        if field.type == FieldDescriptor.TYPE_STRING and not _is_repeated(field):
            setattr(message, field.name, mask_value(getattr(message, field.name), style))
    for field in _message_fields(descriptor):
        if _is_repeated(field):
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue
            for item in getattr(message, field.name):
                mask_message(item)
        elif message.HasField(field.name):
            mask_message(getattr(message, field.name))
    return message


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)
