"""Proto3 JSON value (as parsed by orjson) → message, with the field path of any error.

The rules are those of `json_format.ParseDict`: both the lowerCamelCase and the proto
field name are accepted, `null` means "not set", 64-bit integers may be strings or
numbers, enums are names or numbers, unknown fields are an error. Errors carry the path
of the offending field as the client wrote it (`book.pages[2].title`) so the edge can
name it in a `google.rpc.BadRequest`.

Decoders are trees of small objects built once per message type; requests are small, so
this favours clear error handling over the code generation the encoder uses.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor, descriptor_pool, json_format

from edge.protojson import wkt

__all__ = ["Decoder", "JsonError", "scalar_converter"]

_FD = descriptor.FieldDescriptor
_INT_RANGES = {
    _FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _FD.TYPE_UINT32: (0, 2**32 - 1),
    _FD.TYPE_FIXED32: (0, 2**32 - 1),
    _FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _FD.TYPE_UINT64: (0, 2**64 - 1),
    _FD.TYPE_FIXED64: (0, 2**64 - 1),
}
# Larger doubles would not round to the largest float32 (they become infinity).
_FLOAT32_LIMIT = float.fromhex("0x1.ffffffp+127")
_WRAPPERS = {
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
}

Convert = Callable[[Any], Any]
MessageDecodeFn = Callable[[Any, Any], None]


class JsonError(ValueError):
    """JSON that does not fit the message; `path` leads to the offending field."""

    def __init__(self, message: str, path: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.reason = message
        self.path: list[str | int] = path or []

    @property
    def field(self) -> str:
        out = ""
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + part
        return out

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.path else self.reason


def _integer(lo: int, hi: int) -> Convert:
    def convert(value: Any) -> int:
        if value is True or value is False:
            raise JsonError("expected an integer, got a boolean")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise JsonError(f"expected an integer, got {value!r}")
            number = int(value)
        elif isinstance(value, str):
            number = _integer_text(value)
        else:
            raise JsonError(f"expected an integer, got {_kind(value)}")
        if not lo <= number <= hi:
            raise JsonError(f"integer {number} out of range")
        return number

    return convert


def _integer_text(text: str) -> int:
    if text != text.strip() or not text:
        raise JsonError(f"expected an integer, got {text!r}")
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise JsonError(f"expected an integer, got {text!r}") from None
        if not f.is_integer():
            raise JsonError(f"expected an integer, got {text!r}") from None
        return int(f)


def _floating(single: bool) -> Convert:
    def convert(value: Any) -> float:
        if value is True or value is False:
            raise JsonError("expected a number, got a boolean")
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            if value == "NaN":
                return math.nan
            if value == "Infinity":
                return math.inf
            if value == "-Infinity":
                return -math.inf
            try:
                number = float(value)
            except ValueError:
                raise JsonError(f"expected a number, got {value!r}") from None
            if math.isnan(number) or math.isinf(number):
                raise JsonError(f"expected a number, got {value!r}")
        else:
            raise JsonError(f"expected a number, got {_kind(value)}")
        if single and abs(number) >= _FLOAT32_LIMIT:
            raise JsonError("number out of range for a float field")
        return number

    return convert


def _boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise JsonError(f"expected true or false, got {_kind(value)}")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise JsonError(f"expected a string, got {_kind(value)}")


def _bytes(value: Any) -> bytes:
    try:
        return wkt.decode_bytes(value)
    except wkt.WktError as exc:
        raise JsonError(str(exc)) from None


def _enum(enum: descriptor.EnumDescriptor) -> Convert:
    by_name = {v.name: v.number for v in enum.values}
    numbers = {v.number for v in enum.values}
    closed = enum.is_closed

    def convert(value: Any) -> int:
        if isinstance(value, str):
            number = by_name.get(value)
            if number is not None:
                return number
            try:
                value = int(value)
            except ValueError:
                raise JsonError(f"{value!r} is not a value of {enum.full_name}") from None
        if value is True or value is False or not isinstance(value, int):
            raise JsonError(f"expected a {enum.full_name} name or number")
        if (closed and value not in numbers) or not -(2**31) <= value < 2**31:
            raise JsonError(f"{value} is not a value of {enum.full_name}")
        return value

    return convert


def scalar_converter(field: descriptor.FieldDescriptor) -> Convert:
    """JSON value → Python value for a scalar or enum field (raises JsonError)."""
    t = field.type
    if t in _INT_RANGES:
        return _integer(*_INT_RANGES[t])
    if t in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):
        return _floating(t == _FD.TYPE_FLOAT)
    if t == _FD.TYPE_BOOL:
        return _boolean
    if t == _FD.TYPE_STRING:
        return _string
    if t == _FD.TYPE_BYTES:
        return _bytes
    if field.enum_type is not None:
        return _enum(field.enum_type)
    raise TypeError(f"{field.full_name} is not a scalar field")  # pragma: no cover


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is True or value is False:
        return "a boolean"
    return "a number"


class _Field(abc.ABC):
    """Decodes one field's JSON value into a message."""

    __slots__ = ("convert", "is_value", "name", "null_enum", "number", "oneof")

    def __init__(self, field: descriptor.FieldDescriptor) -> None:
        self.name = field.name
        self.number = field.number
        self.oneof = field.containing_oneof.name if field.containing_oneof else None
        self.is_value = (
            field.message_type is not None
            and field.message_type.full_name == "google.protobuf.Value"
        )
        self.null_enum = (
            field.enum_type is not None and field.enum_type.full_name == "google.protobuf.NullValue"
        )

    @abc.abstractmethod
    def decode(self, m: Any, value: Any) -> None:
        """Set this field of message `m` from the JSON `value`."""

    def clear_for_null(self, m: Any) -> None:
        if self.null_enum:
            setattr(m, self.name, 0)
        else:
            m.ClearField(self.name)


class _Scalar(_Field):
    __slots__ = ()

    def __init__(self, field: descriptor.FieldDescriptor, convert: Convert) -> None:
        super().__init__(field)
        self.convert = convert

    def decode(self, m: Any, value: Any) -> None:
        if value is None:
            self.clear_for_null(m)
        else:
            setattr(m, self.name, self.convert(value))


class _Message(_Field):
    __slots__ = ()

    def __init__(self, field: descriptor.FieldDescriptor, decode: MessageDecodeFn) -> None:
        super().__init__(field)
        self.convert = decode

    def decode(self, m: Any, value: Any) -> None:
        if value is None and not self.is_value:
            m.ClearField(self.name)
            return
        sub = getattr(m, self.name)
        sub.SetInParent()
        self.convert(value, sub)


class _Repeated(_Field):
    __slots__ = ("message",)

    def __init__(
        self, field: descriptor.FieldDescriptor, convert: Callable[..., Any], message: bool
    ) -> None:
        super().__init__(field)
        self.convert = convert
        self.message = message

    def decode(self, m: Any, value: Any) -> None:
        m.ClearField(self.name)
        if value is None:
            return
        if not isinstance(value, list):
            raise JsonError(f"expected an array, got {_kind(value)}")
        target = getattr(m, self.name)
        for i, item in enumerate(value):
            try:
                if item is None and not self.is_value:
                    raise JsonError("null is not allowed in an array")
                if self.message:
                    self.convert(item, target.add())
                else:
                    target.append(self.convert(item))
            except JsonError as exc:
                exc.path.insert(0, i)
                raise


class _Map(_Field):
    __slots__ = ("key", "message")

    def __init__(
        self,
        field: descriptor.FieldDescriptor,
        key: Convert,
        convert: Callable[..., Any],
        message: bool,
    ) -> None:
        super().__init__(field)
        self.key = key
        self.convert = convert
        self.message = message
        entry = field.message_type
        value_type = entry.fields_by_name["value"].message_type if entry else None
        self.is_value = value_type is not None and value_type.full_name == "google.protobuf.Value"

    def decode(self, m: Any, value: Any) -> None:
        m.ClearField(self.name)
        if value is None:
            return
        if not isinstance(value, dict):
            raise JsonError(f"expected an object, got {_kind(value)}")
        target = getattr(m, self.name)
        for k, item in value.items():
            try:
                key = self.key(k)
                if item is None and not self.is_value:
                    raise JsonError("null is not allowed as a map value")
                if self.message:
                    self.convert(item, target[key])
                else:
                    target[key] = self.convert(item)
            except JsonError as exc:
                exc.path.insert(0, k)
                raise


def _map_key(field: descriptor.FieldDescriptor) -> Convert:
    t = field.type
    if t == _FD.TYPE_STRING:
        return _string
    if t == _FD.TYPE_BOOL:

        def boolean_key(key: str) -> bool:
            if key == "true":
                return True
            if key == "false":
                return False
            raise JsonError(f"map key {key!r} is not true or false")

        return boolean_key
    integer = _integer(*_INT_RANGES[t])

    def integer_key(key: str) -> int:
        try:
            return int(integer(key))
        except JsonError:
            raise JsonError(f"map key {key!r} is not an integer") from None

    return integer_key


class _MessageDecoder:
    """Decodes a JSON object into a (regular, non-WKT) message."""

    __slots__ = ("fields", "full_name")

    def __init__(self, full_name: str) -> None:
        self.full_name = full_name
        self.fields: dict[str, _Field] = {}

    def __call__(self, js: Any, m: Any) -> None:
        if not isinstance(js, dict):
            raise JsonError(f"expected an object for {self.full_name}, got {_kind(js)}")
        fields = self.fields
        seen: set[int | str] | None = set() if len(js) > 1 else None
        for key, value in js.items():
            field = fields.get(key)
            if field is None:
                raise JsonError("unknown field", [key])
            if seen is not None:
                if field.number in seen:
                    raise JsonError("field given twice (by both of its names)", [key])
                seen.add(field.number)
                if field.oneof is not None and value is not None:
                    if field.oneof in seen:
                        raise JsonError(f"more than one field of oneof {field.oneof}", [key])
                    seen.add(field.oneof)
            try:
                field.decode(m, value)
            except JsonError as exc:
                exc.path.insert(0, key)
                raise
            except (ValueError, TypeError) as exc:
                # The message class refused a converted value (a range we did not check).
                raise JsonError(str(exc), [key]) from None


class Decoder:
    """Builds and caches JSON decoders for the message types of a descriptor pool."""

    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None) -> None:
        self._pool = pool
        self._decoders: dict[str, MessageDecodeFn] = {}

    def for_message(self, desc: descriptor.Descriptor) -> MessageDecodeFn:
        """`decode(json_value, message)`; merges into the message, raises JsonError."""
        full = desc.full_name
        found = self._decoders.get(full)
        if found is not None:
            return found
        special = self._well_known(desc)
        if special is not None:
            self._decoders[full] = special
            return special
        decoder = _MessageDecoder(full)
        self._decoders[full] = decoder  # before the fields, for recursive types
        for field in desc.fields:
            handler = self._field(field)
            decoder.fields[field.json_name] = handler
            decoder.fields[field.name] = handler
        return decoder

    def for_field(self, desc: descriptor.Descriptor, name: str) -> Callable[[Any, Any], None]:
        """`decode(message, json_value)` for one field (a named `body`)."""
        field = self._field(desc.fields_by_name[name])
        return field.decode

    def _field(self, field: descriptor.FieldDescriptor) -> _Field:
        msg = field.message_type
        if msg is not None and msg.GetOptions().map_entry:
            key = _map_key(msg.fields_by_name["key"])
            value = msg.fields_by_name["value"]
            if value.message_type is not None:
                return _Map(field, key, self.for_message(value.message_type), message=True)
            return _Map(field, key, scalar_converter(value), message=False)
        if field.is_repeated:
            if msg is not None:
                return _Repeated(field, self.for_message(msg), message=True)
            return _Repeated(field, scalar_converter(field), message=False)
        if msg is not None:
            return _Message(field, self.for_message(msg))
        return _Scalar(field, scalar_converter(field))

    def _well_known(self, desc: descriptor.Descriptor) -> MessageDecodeFn | None:
        full = desc.full_name
        if full in _WRAPPERS:
            convert = scalar_converter(desc.fields_by_name["value"])

            def wrapper(js: Any, m: Any) -> None:
                m.value = convert(js)

            return wrapper
        if full == "google.protobuf.Any":
            return self._any
        return _WKT_DECODERS.get(full)

    def _any(self, js: Any, m: Any) -> None:
        try:
            json_format.ParseDict(js, m, descriptor_pool=self._pool)
        except (json_format.ParseError, TypeError, KeyError) as exc:
            raise JsonError(f"bad google.protobuf.Any: {exc}") from None


def _timestamp(js: Any, m: Any) -> None:
    try:
        m.seconds, m.nanos = wkt.parse_timestamp(js)
    except wkt.WktError as exc:
        raise JsonError(str(exc)) from None


def _duration(js: Any, m: Any) -> None:
    try:
        m.seconds, m.nanos = wkt.parse_duration(js)
    except wkt.WktError as exc:
        raise JsonError(str(exc)) from None


def _field_mask(js: Any, m: Any) -> None:
    try:
        paths = wkt.parse_field_mask(js)
    except wkt.WktError as exc:
        raise JsonError(str(exc)) from None
    del m.paths[:]
    m.paths.extend(paths)


def _value(js: Any, m: Any) -> None:
    if js is None:
        m.null_value = 0
    elif js is True or js is False:
        m.bool_value = js
    elif isinstance(js, str):
        m.string_value = js
    elif isinstance(js, int | float):
        m.number_value = js
    elif isinstance(js, dict):
        _struct(js, m.struct_value)
    elif isinstance(js, list):
        _list_value(js, m.list_value)
    else:  # pragma: no cover - orjson produces nothing else
        raise JsonError(f"unexpected JSON value {js!r}")


def _struct(js: Any, m: Any) -> None:
    if not isinstance(js, dict):
        raise JsonError(f"expected an object, got {_kind(js)}")
    m.Clear()
    for key, item in js.items():
        try:
            _value(item, m.fields[key])
        except JsonError as exc:
            exc.path.insert(0, key)
            raise


def _list_value(js: Any, m: Any) -> None:
    if not isinstance(js, list):
        raise JsonError(f"expected an array, got {_kind(js)}")
    del m.values[:]
    for i, item in enumerate(js):
        try:
            _value(item, m.values.add())
        except JsonError as exc:
            exc.path.insert(0, i)
            raise


_WKT_DECODERS: dict[str, MessageDecodeFn] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
    "google.protobuf.FieldMask": _field_mask,
    "google.protobuf.Value": _value,
    "google.protobuf.Struct": _struct,
    "google.protobuf.ListValue": _list_value,
}
