"""Message → proto3 JSON value, compiled once per message type.

Why not `json_format.MessageToDict`: it walks descriptors for every field of every
message, about 20× slower than straight-line code on a 24-month usage list, and the edge
converts every response. Why not a second protobuf runtime with a native JSON writer: the
rest of PalmGrid (and the later pipeline stages) work with `google.protobuf` messages and
descriptors, and mixing two message models in one process is a cost of its own.

So, for each message type, we generate one small Python function whose body reads each
field once and converts it with the cheapest operation that keeps proto3 JSON semantics
(as `MessageToDict(..., always_print_fields_with_no_presence=True)` does them):

- lowerCamelCase names (the descriptor's `json_name`);
- every field without presence is written, even at its default (`0`, `""`, `[]`, `{}`);
  fields with presence (messages, oneof members, `optional`) only when set;
- 64-bit integers as strings, enums by name (numbers when unknown), bytes as base64,
  NaN/Infinity as strings, float fields as their shortest float32 reading;
- Timestamp, Duration, FieldMask, wrappers, Struct, Value, ListValue in their JSON forms;
  Any through `json_format` (rare, and it needs a type registry anyway).

The output is plain Python data for orjson. The test suite compares it with
`json_format` on random messages of a type with every kind of field.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor, descriptor_pool, json_format

from edge.protojson import wkt

__all__ = ["EncodeError", "Encoder"]

_FD = descriptor.FieldDescriptor
_INT64 = {_FD.TYPE_INT64, _FD.TYPE_UINT64, _FD.TYPE_SINT64, _FD.TYPE_FIXED64, _FD.TYPE_SFIXED64}
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

# Messages with at most this many scalar fields are inlined into comprehensions.
_INLINE_FIELDS = 6

Json = Any
EncodeFn = Callable[[Any], Json]


class EncodeError(ValueError):
    """A message that has no proto3 JSON form (a timestamp out of range, say)."""


def _double(value: float) -> float | str:
    if value != value or value in (math.inf, -math.inf):
        return wkt.shortest_float32(value)  # the NaN / Infinity spelling is shared
    return value


def _closed_enum(names: dict[int, str], value: int) -> str:
    try:
        return names[value]
    except KeyError:
        raise EncodeError(f"enum value {value} is not declared in a closed enum") from None


# Whole-second timestamps already written, by second: records served through the edge
# repeat (the same bills and readings, batch-imported at the same instants), and a lookup
# is an order of magnitude cheaper than formatting. Bounded; cleared when full.
_TIMESTAMPS: dict[int, str] = {}
_TIMESTAMPS_LIMIT = 16384


def _timestamp(m: Any) -> str:
    seconds, nanos = m.seconds, m.nanos
    if nanos:
        return wkt.format_timestamp(seconds, nanos)
    text = _TIMESTAMPS.get(seconds)
    if text is None:
        text = wkt.format_timestamp(seconds, 0)
        if len(_TIMESTAMPS) >= _TIMESTAMPS_LIMIT:
            _TIMESTAMPS.clear()
        _TIMESTAMPS[seconds] = text
    return text


def _duration(m: Any) -> str:
    return wkt.format_duration(m.seconds, m.nanos)


def _field_mask(m: Any) -> str:
    return wkt.format_field_mask(list(m.paths))


def _value(m: Any) -> Json:
    kind = m.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        v = m.number_value
        if v != v or v in (math.inf, -math.inf):
            raise EncodeError("NaN and Infinity have no form in google.protobuf.Value")
        return v
    if kind == "string_value":
        return m.string_value
    if kind == "bool_value":
        return m.bool_value
    if kind == "struct_value":
        return _struct(m.struct_value)
    return _list_value(m.list_value)


def _struct(m: Any) -> dict[str, Json]:
    return {k: _value(v) for k, v in m.fields.items()}


def _list_value(m: Any) -> list[Json]:
    return [_value(v) for v in m.values]


_WKT_FUNCS: dict[str, EncodeFn] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
    "google.protobuf.FieldMask": _field_mask,
    "google.protobuf.Struct": _struct,
    "google.protobuf.Value": _value,
    "google.protobuf.ListValue": _list_value,
}


class Encoder:
    """Compiles and caches one JSON encoder per message type of a descriptor pool."""

    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None) -> None:
        self._pool = pool
        self._names: dict[str, str] = {}
        self._ns: dict[str, Any] = {
            "_str": str,
            "_b64": wkt.encode_bytes,
            "_f32": wkt.shortest_float32,
            "_f64": _double,
            "_closed": _closed_enum,
            "_any": self._any,
            **{f"_wkt_{i}": fn for i, fn in enumerate(_WKT_FUNCS.values())},
        }
        self._wkt_names = {name: f"_wkt_{i}" for i, name in enumerate(_WKT_FUNCS)}

    def for_message(self, desc: descriptor.Descriptor) -> EncodeFn:
        """The encoder of a message type: message → dict (or a WKT's JSON value)."""
        return self._ns[self._function(desc)]  # type: ignore[no-any-return]

    def for_field(self, desc: descriptor.Descriptor, field_name: str) -> EncodeFn:
        """Message → JSON of one of its fields (for `response_body`)."""
        field = desc.fields_by_name[field_name]
        name = f"_field_{len(self._names)}_{field.number}"
        self._names[f"{desc.full_name}#{field_name}"] = name
        code = f"def {name}(m):\n    return {self._value_expr(field, _getter(field))}\n"
        exec(compile(code, f"<json encoder {desc.full_name}.{field_name}>", "exec"), self._ns)
        return self._ns[name]  # type: ignore[no-any-return]

    def _function(self, desc: descriptor.Descriptor) -> str:
        full = desc.full_name
        if full in self._wkt_names:
            return self._wkt_names[full]
        name = self._names.get(full)
        if name is not None:
            return name
        name = f"_enc_{len(self._names)}"
        # Registered before the body is generated so that recursive types refer to it.
        self._names[full] = name
        if full in _WRAPPERS:
            value = desc.fields_by_name["value"]
            code = f"def {name}(m):\n    return {self._scalar_expr(value, 'm.value')}\n"
        elif full == "google.protobuf.Any":
            code = f"def {name}(m):\n    return _any(m)\n"
        else:
            code = self._message_code(name, desc)
        exec(compile(code, f"<json encoder {full}>", "exec"), self._ns)
        return name

    def _message_code(self, name: str, desc: descriptor.Descriptor) -> str:
        always: list[str] = []
        lines: list[str] = []
        for field in desc.fields:
            key = repr(field.json_name)
            getter = _getter(field)
            expr = self._value_expr(field, getter)
            if field.has_presence:
                lines.append(f"    if m.HasField({field.name!r}):")
                lines.append(f"        o[{key}] = {expr}")
            elif not lines:
                # Keep declaration order: leading unconditional fields go in the literal.
                always.append(f"{key}: {expr}")
            else:
                lines.append(f"    o[{key}] = {expr}")
        body = "    o = {" + ", ".join(always) + "}\n" + "".join(line + "\n" for line in lines)
        return f"def {name}(m):\n{body}    return o\n"

    def _value_expr(self, field: descriptor.FieldDescriptor, getter: str) -> str:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_f = field.message_type.fields_by_name["key"]
            val_f = field.message_type.fields_by_name["value"]
            if key_f.type == _FD.TYPE_BOOL:
                key_expr = "('true' if k else 'false')"
            elif key_f.type == _FD.TYPE_STRING:
                key_expr = "k"
            else:
                key_expr = "_str(k)"
            val_expr = self._single_expr(val_f, "v")
            return f"{{{key_expr}: {val_expr} for k, v in {getter}.items()}}"
        if field.is_repeated:
            item = self._single_expr(field, "x")
            if item == "x":
                return f"list({getter})"
            return f"[{item} for x in {getter}]"
        return self._single_expr(field, getter)

    def _single_expr(self, field: descriptor.FieldDescriptor, value: str) -> str:
        if field.message_type is not None:
            if value.isidentifier():
                inline = self._inline_expr(field.message_type, value)
                if inline is not None:
                    return inline
            return f"{self._function(field.message_type)}({value})"
        return self._scalar_expr(field, value)

    def _inline_expr(self, desc: descriptor.Descriptor, var: str) -> str | None:
        """A dict display for a small, flat message bound to a plain name, or None.

        Used for the elements of repeated fields and maps, where a function call per
        element would cost more than building the element's dict.
        """
        full = desc.full_name
        if (
            full in self._wkt_names
            or full in _WRAPPERS
            or full == "google.protobuf.Any"
            or len(desc.fields) > _INLINE_FIELDS
        ):
            return None
        parts = []
        for field in desc.fields:
            if field.has_presence or field.message_type is not None:
                return None
            getter = f"{var}.{field.name}" if _getter(field).startswith("m.") else None
            if getter is None:
                return None
            expr = self._value_expr(field, getter)
            parts.append(f"{field.json_name!r}: {expr}")
        return "{" + ", ".join(parts) + "}"

    def _scalar_expr(self, field: descriptor.FieldDescriptor, value: str) -> str:
        t = field.type
        if t in _INT64:
            return f"_str({value})"
        if t == _FD.TYPE_BYTES:
            return f"_b64({value})"
        if t == _FD.TYPE_FLOAT:
            return f"_f32({value})"
        if t == _FD.TYPE_DOUBLE:
            return f"_f64({value})"
        enum = field.enum_type
        if enum is not None:
            if enum.full_name == "google.protobuf.NullValue":
                return "None"
            table = f"_enum_{len(self._ns)}"
            self._ns[table] = {v.number: v.name for v in enum.values}
            if enum.is_closed:
                return f"_closed({table}, {value})"
            # Unknown numbers of an open enum are written as numbers.
            return f"{table}.get((_e := {value}), _e)"
        return value

    def _any(self, message: Any) -> Json:
        try:
            return json_format.MessageToDict(
                message,
                descriptor_pool=self._pool,
                always_print_fields_with_no_presence=True,
            )
        except (json_format.Error, TypeError, KeyError) as exc:
            raise EncodeError(f"cannot write google.protobuf.Any as JSON: {exc}") from exc


def _getter(field: descriptor.FieldDescriptor) -> str:
    name = field.name
    if keyword.iskeyword(name) or not name.isidentifier():
        return f"getattr(m, {name!r})"
    return f"m.{name}"
