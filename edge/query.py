"""Query parameters → request fields, for the fields neither the path nor the body sets.

Keys are field paths in proto or JSON names (`nested.note`, `pageSize`); a repeated field
takes one value per repetition of its key (`tags=a&tags=b`); a map field takes
`labels[key]=value`. Scalars are parsed from text: enums by name or number, bools as
`true`/`false` (and the other spellings grpc-gateway accepts), bytes as base64,
Timestamp as RFC 3339, Duration as `1.5s`, FieldMask as comma-separated paths, wrappers
as their bare value.

Deliberate choices (see docs/edge.md):
- a key that names no field is a 400 that names it, unless it is in the ignore list
  (Envoy's `reject_unknown_query_parameters`, on by default here);
- a field also bound by the path keeps the path's value and the query value is dropped,
  as grpc-gateway does; a field inside the request body is a 400;
- a non-repeated field given twice is a 400 (grpc-gateway silently takes the first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from google.protobuf import descriptor

from edge.protojson import wkt

__all__ = ["QueryDecoder", "QueryError", "parse_query", "text_converter"]

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
_TRUE = {"true", "True", "TRUE", "t", "T", "1"}
_FALSE = {"false", "False", "FALSE", "f", "F", "0"}
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
_CACHE_LIMIT = 512
_TIME_TYPES = {
    "google.protobuf.Timestamp": wkt.parse_timestamp,
    "google.protobuf.Duration": wkt.parse_duration,
}

FromText = Callable[[str], Any]


class QueryError(ValueError):
    """A query parameter that cannot be applied; `parameter` is its key as sent."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"query parameter {parameter!r}: {reason}")
        self.parameter = parameter
        self.reason = reason


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """Split and percent-decode a raw query string (`+` is a space, as in forms)."""
    try:
        return parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise QueryError(raw.decode("latin-1"), "not valid percent-encoded UTF-8") from exc


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one key's values go, resolved once and cached."""

    parents: tuple[str, ...]  # proto names of the singular message fields on the way
    name: str  # proto name of the field set
    kind: Literal["scalar", "repeated", "map", "ignored"]
    convert: FromText
    map_key: FromText | None = None
    # How a converted value is stored in the parent message (a plain field, a wrapper's
    # `value`, a Timestamp's or Duration's seconds and nanos, a FieldMask's paths).
    assign: Callable[[Any, str, Any], None] = setattr
    oneof: str | None = None


def _ignored(_: str) -> None:
    return None


def _assign_wrapper(parent: Any, name: str, value: Any) -> None:
    getattr(parent, name).value = value


def _assign_seconds_nanos(parent: Any, name: str, value: tuple[int, int]) -> None:
    sub = getattr(parent, name)
    sub.seconds, sub.nanos = value


def _assign_paths(parent: Any, name: str, value: list[str]) -> None:
    sub = getattr(parent, name)
    del sub.paths[:]
    sub.paths.extend(value)


class QueryDecoder:
    """Applies query parameters to one request message type.

    `from_path` are proto-name field paths bound by the path template (their query
    values are dropped); `body` is the binding's body (`""`, `"*"` or a field path): a
    query parameter for a field the body sets is an error.
    """

    def __init__(
        self,
        message: descriptor.Descriptor,
        *,
        from_path: Iterable[tuple[str, ...]] = (),
        body: str = "",
        ignored: Iterable[str] = (),
        reject_unknown: bool = True,
    ) -> None:
        self._message = message
        self._from_path = tuple(from_path)
        self._body_everything = body == "*"
        self._from_body = tuple(body.split(".")) if body and body != "*" else None
        self._ignored = frozenset(ignored)
        self._reject_unknown = reject_unknown
        self._targets: dict[str, _Target] = {}

    def apply(self, message: Any, pairs: list[tuple[str, str]]) -> None:
        """Set the message's fields from (key, value) pairs; raises QueryError."""
        seen: set[object] = set()
        oneofs: dict[str, str] = {}
        for key, value in pairs:
            target = self._targets.get(key)
            if target is None:
                target = self._resolve(key)
                if len(self._targets) < _CACHE_LIMIT:
                    self._targets[key] = target
            if target.kind == "ignored":
                continue
            node = message
            for parent in target.parents:
                node = getattr(node, parent)
            field_key = ".".join((*target.parents, target.name))
            try:
                if target.kind == "map":
                    assert target.map_key is not None
                    map_key = key[key.index("[") + 1 : -1]
                    entries = getattr(node, target.name)
                    converted = target.map_key(map_key)
                    if (field_key, converted) in seen:
                        raise QueryError(key, "given more than once")
                    seen.add((field_key, converted))
                    entries[converted] = target.convert(value)
                    continue
                if target.kind == "repeated":
                    getattr(node, target.name).append(target.convert(value))
                    continue
                if field_key in seen:
                    raise QueryError(key, "given more than once")
                seen.add(field_key)
                if target.oneof is not None:
                    oneof_key = ".".join((*target.parents, target.oneof))
                    other = oneofs.setdefault(oneof_key, key)
                    if other != key:
                        raise QueryError(key, f"{other!r} already set a field of its oneof")
                target.assign(node, target.name, target.convert(value))
            except QueryError:
                raise
            except wkt.WktError as exc:
                raise QueryError(key, str(exc)) from None
            except (ValueError, TypeError) as exc:
                raise QueryError(key, f"bad value {value!r}: {exc}") from None

    def _resolve(self, key: str) -> _Target:
        path_text, map_key = key, None
        if key.endswith("]") and "[" in key:
            path_text, map_key = key[: key.index("[")], key[key.index("[") + 1 : -1]
        names = path_text.split(".")
        desc: descriptor.Descriptor | None = self._message
        proto_path: list[str] = []
        field: descriptor.FieldDescriptor | None = None
        for i, name in enumerate(names):
            if desc is None:
                return self._unknown(key)
            field = _field(desc, name)
            if field is None:
                return self._unknown(key)
            proto_path.append(field.name)
            last = i == len(names) - 1
            if not last:
                if field.is_repeated or field.message_type is None:
                    raise QueryError(key, f"{'.'.join(proto_path)} has no fields to set")
                if field.message_type.full_name.startswith("google.protobuf."):
                    raise QueryError(key, f"{'.'.join(proto_path)} has no fields to set")
                desc = field.message_type
        assert field is not None
        path = tuple(proto_path)
        if any(path[: len(p)] == p for p in self._from_path):
            return _Target((), "", "ignored", _ignored)
        if self._body_everything:
            raise QueryError(key, "the request body carries every field")
        body = self._from_body
        if body is not None and (path[: len(body)] == body or body[: len(path)] == path):
            raise QueryError(key, "this field is set by the request body")
        parents, name = path[:-1], path[-1]
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            if map_key is None:
                raise QueryError(key, f"a map is set with {path_text}[key]=value")
            key_f, val_f = entry.fields_by_name["key"], entry.fields_by_name["value"]
            if val_f.message_type is not None:
                raise QueryError(key, "maps of messages cannot be set from the query")
            return _Target(
                parents, name, "map", text_converter(val_f), map_key=text_converter(key_f)
            )
        if map_key is not None:
            raise QueryError(key, f"{path_text} is not a map")
        oneof = field.containing_oneof.name if field.containing_oneof else None
        if field.is_repeated:
            if field.message_type is not None:
                raise QueryError(key, "repeated messages cannot be set from the query")
            return _Target(parents, name, "repeated", text_converter(field))
        msg = field.message_type
        if msg is not None:
            full = msg.full_name
            if full in _WRAPPERS:
                inner = text_converter(msg.fields_by_name["value"])
                return _Target(parents, name, "scalar", inner, None, _assign_wrapper, oneof)
            if full in _TIME_TYPES:
                parse = _TIME_TYPES[full]
                return _Target(parents, name, "scalar", parse, None, _assign_seconds_nanos, oneof)
            if full == "google.protobuf.FieldMask":
                parse_mask = wkt.parse_field_mask
                return _Target(parents, name, "scalar", parse_mask, None, _assign_paths, oneof)
            raise QueryError(key, f"{path_text} is a message; set its fields one by one")
        return _Target(parents, name, "scalar", text_converter(field), oneof=oneof)

    def _unknown(self, key: str) -> _Target:
        if key in self._ignored or not self._reject_unknown:
            return _Target((), "", "ignored", _ignored)
        raise QueryError(key, "no such field")


def _field(desc: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
    field = desc.fields_by_name.get(name)
    if field is not None:
        return field
    for candidate in desc.fields:
        if candidate.json_name == name:
            return candidate
    return None


def text_converter(field: descriptor.FieldDescriptor) -> FromText:
    """Text (a path segment or query value) → Python value for a scalar or enum field."""
    t = field.type
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]

        def integer(text: str) -> int:
            try:
                number = int(text)
            except ValueError:
                raise ValueError("expected an integer") from None
            if not lo <= number <= hi:
                raise ValueError("integer out of range")
            return number

        return integer
    if t in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):

        def floating(text: str) -> float:
            if text in ("NaN", "Infinity", "-Infinity"):
                return float(text.replace("Infinity", "inf"))
            try:
                return float(text)
            except ValueError:
                raise ValueError("expected a number") from None

        return floating
    if t == _FD.TYPE_BOOL:

        def boolean(text: str) -> bool:
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true or false")

        return boolean
    if t == _FD.TYPE_BYTES:
        return wkt.decode_bytes
    enum = field.enum_type
    if enum is not None:
        by_name = {v.name: v.number for v in enum.values}
        numbers = {v.number for v in enum.values}

        def enumeration(text: str) -> int:
            number = by_name.get(text)
            if number is not None:
                return number
            try:
                number = int(text)
            except ValueError:
                raise ValueError(f"not a value of {enum.full_name}") from None
            if enum.is_closed and number not in numbers:
                raise ValueError(f"not a value of {enum.full_name}")
            return number

        return enumeration
    return str
