"""Masks: sensitive values made fit for display, by the one set of rules that the edge,
the servers and the clients share.

| kind | function | style | value | masked |
|---|---|---|---|---|
| person name | `mask_name` | `NAME` | `王小明` | `王*明` |
| two-character name | `mask_name` | `NAME` | `张三` | `张*` |
| one-character name | `mask_name` | `NAME` | `王` | `*` |
| mobile phone | `mask_phone` | `PHONE` | `13800000042` | `138****0042` |
| short phone | `mask_phone` | `PHONE` | `95598` | `****` |
| ID number | `mask_id_number` | `ID_NUMBER` | `110101199001011234` | `110101********1234` |
| bank card | `mask_bank_card` | `BANK_ACCOUNT` | `6222021234567890123` | `***************0123` |
| 户号 | `mask_customer_number` | — | `3100000001` | `31****0001` |
| email | `mask_email` | — | `zhangsan@example.com` | `z*******@example.com` |
| address | `mask_address` | — | `北京市朝阳区建国路88号` | `北京市朝阳区******` |
| secret | `mask_secret` | `FULL` | `device-token-1` | `****` |
| free text | `scrub_text` | — | `回电13800000042` | `回电138****0042` |

Kinds: a person's name; a mainland mobile (or other) phone number; a resident ID number
(居民身份证号码); a bank card or account number; a customer number (户号); an email
address; a one-line address; a secret (password, token, verification code); free text
that may hold phones and ID numbers.

"style" is the contract's `palmgrid.options.v1.MaskStyle` for the kind; `mask(value,
style)` applies it (an unset or unknown style hides everything, like `FULL`), and
`mask_message` applies each sensitive field's style throughout a message.

`google.type.PostalAddress` (`mask_postal_address`): the coarse parts stay (region,
postal and sorting codes, administrative area, locality, sublocality); each address line
becomes `****`, recipients and organization are masked as names.

The rules every mask keeps:

- **Something is always hidden.** For a non-empty value the result contains `*`, so no
  mask returns a plain value unchanged: a one-character name is `*`, not itself.
- **Idempotent.** Masking a masked value changes nothing, so a layer in front (the edge
  after a server) may mask again.
- **Kept parts only where enough stays hidden.** A mask keeps its leading or trailing
  characters only while at least four characters stay hidden; a shorter value is `****`
  whole, a fixed width that hides its length too. Names are the exception: they are
  short, and the contract's rule for them (first and last character) is the norm for
  displayed Chinese names.
- **Empty stays empty**: there is nothing to hide.

`scrub_text` is not a mask of one value: it masks each mainland mobile number and
resident ID number found in free text (as `mask_phone` and `mask_id_number` would) and
leaves the rest, so text without them comes back as it was. A postal address without
lines, recipients or organization holds nothing personal and comes back equal too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.type import postal_address_pb2

from palmgrid.options.v1 import options_pb2

__all__ = [
    "HIDDEN",
    "mask",
    "mask_address",
    "mask_bank_card",
    "mask_customer_number",
    "mask_email",
    "mask_id_number",
    "mask_message",
    "mask_name",
    "mask_phone",
    "mask_postal_address",
    "mask_secret",
    "scrub_text",
]

# What a value too short to keep any part of is shown as, whatever its length.
HIDDEN = "****"
# Kept characters are shown only while at least this many stay hidden.
_MIN_HIDDEN = 4
# How much of a one-line address may stay: about a province, city and district.
_ADDRESS_KEPT = 6


def _keep(value: str, head: int, tail: int, stars: int | None = None) -> str:
    """`head` leading and `tail` trailing characters around stars (as many as they
    replace unless `stars` is given); HIDDEN when fewer than _MIN_HIDDEN would be hidden."""
    hidden = len(value) - head - tail
    if hidden < _MIN_HIDDEN:
        return HIDDEN
    return value[:head] + "*" * (hidden if stars is None else stars) + value[len(value) - tail :]


def mask_name(value: str) -> str:
    """A person's name: first and last character kept (王*明, 欧**娜), 张* for two
    characters, * for one."""
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str) -> str:
    """A phone number: first three and last four kept, four stars between
    (138****0042)."""
    return _keep(value, 3, 4, stars=4) if value else value


def mask_id_number(value: str) -> str:
    """A resident ID number: first six (the region) and last four kept
    (110101********1234)."""
    return _keep(value, 6, 4) if value else value


def mask_bank_card(value: str) -> str:
    """A bank card or account number: only the last four kept."""
    return _keep(value, 0, 4) if value else value


def mask_customer_number(value: str) -> str:
    """A customer number (户号): the first two (the supply area) and last four kept."""
    return _keep(value, 2, 4) if value else value


def mask_email(value: str) -> str:
    """An email address: the domain and the local part's first character kept."""
    if not value:
        return value
    local, at, domain = value.rpartition("@")
    if not at:
        return HIDDEN
    return _keep(local, 1, 0) + "@" + domain


def mask_address(value: str) -> str:
    """A one-line address: its leading part (up to six characters, about a province,
    city and district) kept, the rest hidden."""
    if not value:
        return value
    return _keep(value, max(0, min(_ADDRESS_KEPT, len(value) - _MIN_HIDDEN)), 0)


def mask_secret(value: str) -> str:
    """A password, token or code: nothing kept, not even its length."""
    return HIDDEN if value else value


def mask_postal_address(
    address: postal_address_pb2.PostalAddress,
) -> postal_address_pb2.PostalAddress:
    """A masked copy of `address`: coarse parts kept, each line `****`, recipients and
    organization masked as names."""
    masked = postal_address_pb2.PostalAddress()
    masked.CopyFrom(address)
    masked.address_lines[:] = [mask_secret(line) for line in address.address_lines]
    masked.recipients[:] = [mask_name(name) for name in address.recipients]
    masked.organization = mask_name(address.organization)
    return masked


_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def scrub_text(text: str) -> str:
    """`text` with every mainland mobile number and resident ID number in it masked."""
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)
    return _ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)


_BY_STYLE: dict[int, Callable[[str], str]] = {
    options_pb2.MASK_STYLE_PHONE: mask_phone,
    options_pb2.MASK_STYLE_NAME: mask_name,
    options_pb2.MASK_STYLE_ID_NUMBER: mask_id_number,
    options_pb2.MASK_STYLE_BANK_ACCOUNT: mask_bank_card,
    options_pb2.MASK_STYLE_FULL: mask_secret,
}


def mask(value: str, style: int) -> str:
    """`value` masked by the contract's mask style (a palmgrid.options.v1.MaskStyle);
    unset and unknown styles hide everything, as FULL does."""
    return _BY_STYLE.get(style, mask_secret)(value)


def mask_message(message: Message) -> Message:
    """Mask every sensitive field of `message` (declared with
    `(palmgrid.options.v1.field) = {sensitive: true, mask: …}`), in it and every nested
    message, in place; returns `message`. A sensitive string is masked by its style; a
    sensitive `google.type` message by its own rule (a PostalAddress keeps its coarse
    parts); any other sensitive message is cleared."""
    descriptor = message.DESCRIPTOR
    for field in _sensitive_messages(descriptor):
        _mask_message_field(message, field)
    for field, style in _sensitive_fields(descriptor):
        if field.is_repeated:
            values = getattr(message, field.name)
            values[:] = [mask(value, style) for value in values]
        else:
            setattr(message, field.name, mask(getattr(message, field.name), style))
    for field in _message_fields(descriptor):
        if _is_map(field):
            for item in getattr(message, field.name).values():
                mask_message(item)
        elif field.is_repeated:
            for item in getattr(message, field.name):
                mask_message(item)
        elif message.HasField(field.name):
            mask_message(getattr(message, field.name))
    return message


# Sensitive message fields of these types are masked by their own rule, not cleared.
_MESSAGE_MASKS: dict[str, Callable[[Any], Message]] = {
    "google.type.PostalAddress": mask_postal_address,
}


def _mask_message_field(message: Message, field: FieldDescriptor) -> None:
    masker = _MESSAGE_MASKS.get(field.message_type.full_name if field.message_type else "")
    if field.is_repeated:
        values = getattr(message, field.name)
        masked = [masker(value) for value in values] if masker else []
        del values[:]
        values.extend(masked)
    elif message.HasField(field.name):
        if masker is None:
            message.ClearField(field.name)
        else:
            getattr(message, field.name).CopyFrom(masker(getattr(message, field.name)))


def _is_sensitive(field: FieldDescriptor) -> bool:
    options = field.GetOptions()
    return (
        options.HasExtension(options_pb2.field) and options.Extensions[options_pb2.field].sensitive
    )


@cache
def _sensitive_messages(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    """Sensitive fields that hold messages (not maps)."""
    return tuple(
        field
        for field in descriptor.fields
        if field.type == FieldDescriptor.TYPE_MESSAGE
        and not _is_map(field)
        and _is_sensitive(field)
    )


@cache
def _sensitive_fields(descriptor: Descriptor) -> tuple[tuple[FieldDescriptor, int], ...]:
    found = []
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_STRING:
            continue
        options = field.GetOptions()
        if options.HasExtension(options_pb2.field):
            rules = options.Extensions[options_pb2.field]
            if rules.sensitive:
                found.append((field, int(rules.mask)))
    return tuple(found)


@cache
def _message_fields(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    """Fields that hold messages: message fields, and maps whose values are messages."""
    found = []
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_MESSAGE or _is_sensitive(field):
            continue  # a sensitive message is masked whole, above
        if _is_map(field) and _map_value(field).type != FieldDescriptor.TYPE_MESSAGE:
            continue
        found.append(field)
    return tuple(found)


def _is_map(field: FieldDescriptor) -> bool:
    entry: Any = field.message_type
    return bool(entry is not None and entry.GetOptions().map_entry)


def _map_value(field: FieldDescriptor) -> FieldDescriptor:
    entry: Any = field.message_type
    value: FieldDescriptor = entry.fields_by_name["value"]
    return value
