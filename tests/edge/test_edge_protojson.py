"""The compiled proto3 JSON codec agrees with google.protobuf.json_format.

Random messages of a type with every kind of field (scalars of each width, enums known
and unknown, nested and recursive messages, repeated fields, maps of each key kind,
oneofs, `optional`, every well-known type) must encode exactly as `MessageToDict` with
`always_print_fields_with_no_presence=True` does, and decode back to the same message.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from google.protobuf import any_pb2, descriptor, descriptor_pool, json_format, message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.protojson import Decoder, Encoder, JsonError, wkt
from tests.edge.edge_protos import Compiled

FD = descriptor.FieldDescriptor
INT_BOUNDS = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
PATH = st.from_regex(r"[a-z]{1,5}(_[a-z]{1,5}){0,2}(\.[a-z]{1,5}(_[a-z]{1,5})?)?", fullmatch=True)


@pytest.fixture(scope="module")
def kitchen(edgetest: Compiled) -> Any:
    return edgetest.messages("edgetest.v1")


def scalar(field: descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in INT_BOUNDS:
        return st.integers(*INT_BOUNDS[t])
    if t == FD.TYPE_FLOAT:
        return st.floats(width=32)
    if t == FD.TYPE_DOUBLE:
        return st.floats()
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_STRING:
        return st.text(max_size=10)
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=10)
    if t == FD.TYPE_ENUM:
        if field.enum_type.full_name == "google.protobuf.NullValue":
            return st.just(0)
        return st.sampled_from([v.number for v in field.enum_type.values]) | st.integers(-3, 9)
    raise AssertionError(field.full_name)


@st.composite
def fill(draw: st.DrawFn, message: Any, depth: int) -> Any:
    """Set a random subset of the message's fields to random values."""
    desc = message.DESCRIPTOR
    chosen_oneofs: set[str] = set()
    for field in desc.fields:
        if not draw(st.booleans()):
            continue
        if field.containing_oneof is not None:
            if field.containing_oneof.name in chosen_oneofs:
                continue
            chosen_oneofs.add(field.containing_oneof.name)
        set_field(draw, message, field, depth)
    return message


def set_field(draw: st.DrawFn, message: Any, field: descriptor.FieldDescriptor, depth: int) -> None:
    target = getattr(message, field.name)
    msg = field.message_type
    if msg is not None and msg.GetOptions().map_entry:
        key_f, val_f = msg.fields_by_name["key"], msg.fields_by_name["value"]
        for key in draw(st.lists(scalar(key_f), max_size=3, unique=True)):
            if val_f.message_type is not None:
                if depth <= 0:
                    continue
                fill_message(draw, target[key], depth - 1)
            else:
                target[key] = draw(scalar(val_f))
        return
    if field.is_repeated:
        if msg is not None:
            if depth > 0:
                for _ in range(draw(st.integers(0, 2))):
                    fill_message(draw, target.add(), depth - 1)
        else:
            target.extend(draw(st.lists(scalar(field), max_size=3)))
        return
    if msg is not None:
        if depth > 0:
            target.SetInParent()
            fill_message(draw, target, depth - 1)
        return
    setattr(message, field.name, draw(scalar(field)))


def fill_message(draw: st.DrawFn, message: Any, depth: int) -> None:
    full = message.DESCRIPTOR.full_name
    if full == "google.protobuf.Timestamp":
        message.seconds = draw(st.integers(wkt.TIMESTAMP_MIN, wkt.TIMESTAMP_MAX))
        message.nanos = draw(
            st.sampled_from([0, 5_000_000, 123_000, 7]) | st.integers(0, 999_999_999)
        )
    elif full == "google.protobuf.Duration":
        seconds = draw(st.integers(-wkt.DURATION_MAX, wkt.DURATION_MAX))
        nanos = draw(st.integers(0, 999_999_999))
        message.seconds = seconds
        message.nanos = -nanos if seconds < 0 else nanos
    elif full == "google.protobuf.FieldMask":
        message.paths.extend(draw(st.lists(PATH, max_size=3)))
    elif full == "google.protobuf.Struct":
        json_format.ParseDict(
            draw(st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3)), message
        )
    elif full == "google.protobuf.Value":
        json_format.ParseDict(draw(JSON_VALUES), message)
    elif full == "google.protobuf.ListValue":
        json_format.ParseDict(draw(st.lists(JSON_VALUES, max_size=3)), message)
    elif full == "google.protobuf.Any":
        inner_class = message_factory.GetMessageClass(
            descriptor_pool.Default().FindMessageTypeByName("edgetest.v1.Inner")
        )
        inner = inner_class(note=draw(st.text(max_size=5)), count=draw(st.integers(0, 9)))
        packed = any_pb2.Any()
        packed.Pack(inner)
        message.CopyFrom(packed)
    else:
        draw(fill(message, depth))


def random_kitchen(kitchen: Any) -> st.SearchStrategy[Any]:
    @st.composite
    def build(draw: st.DrawFn) -> Any:
        message = kitchen.Kitchen()
        fill_message(draw, message, depth=2)
        return message

    return build()


def reference(message: Any) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def normalized(value: Any) -> Any:
    """JSON text of a value, so that NaN compares equal to NaN."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_encoder_matches_json_format_on_random_messages(kitchen: Any, data: st.DataObject) -> None:
    message = data.draw(random_kitchen(kitchen))
    encode = Encoder().for_message(kitchen.Kitchen.DESCRIPTOR)
    assert normalized(encode(message)) == normalized(reference(message))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decoder_reads_back_what_json_format_writes(kitchen: Any, data: st.DataObject) -> None:
    message = data.draw(random_kitchen(kitchen))
    decode = Decoder().for_message(kitchen.Kitchen.DESCRIPTOR)
    decoded = kitchen.Kitchen()
    decode(orjson.loads(normalized(reference(message))), decoded)
    assert normalized(reference(decoded)) == normalized(reference(message))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decoder_accepts_proto_field_names(kitchen: Any, data: st.DataObject) -> None:
    message = data.draw(random_kitchen(kitchen))
    as_proto_names = json_format.MessageToDict(message, preserving_proto_field_name=True)
    decoded = kitchen.Kitchen()
    Decoder().for_message(kitchen.Kitchen.DESCRIPTOR)(as_proto_names, decoded)
    assert normalized(reference(decoded)) == normalized(reference(message))


def test_int64_is_a_string_and_unpopulated_fields_are_written(kitchen: Any) -> None:
    out = Encoder().for_message(kitchen.Kitchen.DESCRIPTOR)(kitchen.Kitchen(int64_value=5))
    assert out["int64Value"] == "5"
    assert out["int32Value"] == 0
    assert out["stringList"] == []
    assert out["stringMap"] == {}
    assert out["color"] == "COLOR_UNSPECIFIED"
    assert "inner" not in out  # a message field is written only when set
    assert "optionalInt32" not in out
    assert out["customJSON"] == ""
    assert out["from"] == ""


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"nope": 1}, "nope", "unknown field"),
        ({"inner": {"count": "x"}}, "inner.count", "expected an integer"),
        ({"innerList": [{}, {"note": 5}]}, "innerList[1].note", "expected a string"),
        ({"int32Value": 2**31}, "int32Value", "out of range"),
        ({"color": "COLOR_BLUE"}, "color", "not a value of edgetest.v1.Color"),
        ({"timestamp": "2024-13-01T00:00:00Z"}, "timestamp", "not a valid date"),
        ({"duration": "5m"}, "duration", "not a duration"),
        ({"boolValue": "true"}, "boolValue", "expected true or false"),
        ({"int32Map": {"x": "1"}}, "int32Map.x", "not an integer"),
        ({"alpha": "a", "beta": "1"}, "beta", "more than one field of oneof choice"),
        ({"int32Value": 1, "int32_value": 2}, "int32_value", "given twice"),
        ({"bytesValue": "%%%"}, "bytesValue", "base64"),
        ({"stringList": ["a", None]}, "stringList[1]", "null is not allowed"),
    ],
)
def test_decoder_names_the_offending_field(
    kitchen: Any, body: Any, field: str, reason: str
) -> None:
    with pytest.raises(JsonError) as caught:
        Decoder().for_message(kitchen.Kitchen.DESCRIPTOR)(body, kitchen.Kitchen())
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_decoder_accepts_the_lenient_forms_proto3_json_allows(kitchen: Any) -> None:
    message = kitchen.Kitchen()
    Decoder().for_message(kitchen.Kitchen.DESCRIPTOR)(
        {
            "int64Value": 7,
            "int32Value": "8",
            "uint64Value": "1e3",
            "color": 2,
            "colorList": ["COLOR_RED", 9],
            "floatValue": "Infinity",
            "bytesValue": "-_8",
            "timestamp": "2024-01-01T08:00:00+08:00",
            "fieldMask": "updateTime,details.publisher",
            "int64Wrapper": "12",
            "inner": None,
            "anyJson": None,
        },
        message,
    )
    assert message.int64_value == 7
    assert message.int32_value == 8
    assert message.uint64_value == 1000
    assert message.color == 2
    assert list(message.color_list) == [1, 9]
    assert math.isinf(message.float_value)
    assert message.bytes_value == b"\xfb\xff"
    assert message.timestamp.seconds == 1704067200
    assert list(message.field_mask.paths) == ["update_time", "details.publisher"]
    assert message.int64_wrapper.value == 12
    assert not message.HasField("inner")
    assert message.any_json.WhichOneof("kind") == "null_value"
