"""The shared masks: the examples in palmlib.masking's table, and the rules every mask
keeps (something hidden, idempotent) for any value."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from google.type import postal_address_pb2
from hypothesis import given
from hypothesis import strategies as st

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.billing.v1 import payment_pb2
from palmgrid.billing.v1 import resources_pb2 as billing_pb
from palmgrid.options.v1 import options_pb2
from palmlib import masking

ROW = re.compile(
    r"^\| (?P<kind>[^|]+?) \| `(?P<function>\w+)` \| (?P<style>[^|]+?) "
    r"\| `(?P<value>[^`]*)` \| `(?P<masked>[^`]*)` \|$"
)
EXAMPLES = [m.groupdict() for m in map(ROW.match, (masking.__doc__ or "").splitlines()) if m]

VALUE_MASKS: list[Callable[[str], str]] = [
    masking.mask_name,
    masking.mask_phone,
    masking.mask_id_number,
    masking.mask_bank_card,
    masking.mask_customer_number,
    masking.mask_email,
    masking.mask_address,
    masking.mask_secret,
]
STYLES = [
    options_pb2.MASK_STYLE_UNSPECIFIED,
    options_pb2.MASK_STYLE_PHONE,
    options_pb2.MASK_STYLE_NAME,
    options_pb2.MASK_STYLE_ID_NUMBER,
    options_pb2.MASK_STYLE_BANK_ACCOUNT,
    options_pb2.MASK_STYLE_FULL,
    99,  # a style this code does not know yet
]
names = [m.__name__ for m in VALUE_MASKS]
plain = st.text(min_size=1).filter(lambda v: "*" not in v)


def test_the_table_lists_every_mask() -> None:
    assert len(EXAMPLES) >= 12
    assert {e["function"] for e in EXAMPLES} >= set(names) | {"scrub_text"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["kind"] for e in EXAMPLES])
def test_the_documented_example_holds(example: dict[str, str]) -> None:
    function = getattr(masking, example["function"])
    assert function(example["value"]) == example["masked"]
    for style in re.findall(r"`(\w+)`", example["style"]):
        assert (
            masking.mask(example["value"], options_pb2.MaskStyle.Value(f"MASK_STYLE_{style}"))
            == example["masked"]
        )


# The edge's masks for the contract's styles (moved from tests/edge_security).
@pytest.mark.parametrize(
    ("value", "style", "masked"),
    [
        ("13800000042", options_pb2.MASK_STYLE_PHONE, "138****0042"),
        ("138****0042", options_pb2.MASK_STYLE_PHONE, "138****0042"),
        ("张三", options_pb2.MASK_STYLE_NAME, "张*"),
        ("张", options_pb2.MASK_STYLE_NAME, "*"),
        ("secret", options_pb2.MASK_STYLE_FULL, "****"),
        ("secret", options_pb2.MASK_STYLE_UNSPECIFIED, "****"),
        ("", options_pb2.MASK_STYLE_FULL, ""),
    ],
)
def test_masks_follow_the_declared_style(value: str, style: int, masked: str) -> None:
    assert masking.mask(value, style) == masked


@pytest.mark.parametrize("value_mask", VALUE_MASKS, ids=names)
@given(value=plain)
def test_no_mask_returns_a_plain_value(value_mask: Callable[[str], str], value: str) -> None:
    assert value_mask(value) != value


@pytest.mark.parametrize("value_mask", VALUE_MASKS, ids=names)
@given(value=st.text(min_size=1))
def test_every_mask_hides_something_and_masks_once(
    value_mask: Callable[[str], str], value: str
) -> None:
    masked = value_mask(value)
    assert "*" in masked
    assert value_mask(masked) == masked


@pytest.mark.parametrize("style", STYLES)
@given(value=plain)
def test_every_contract_style_hides_something(style: int, value: str) -> None:
    masked = masking.mask(value, style)
    assert masked != value
    assert masking.mask(masked, style) == masked


@pytest.mark.parametrize(
    "value_mask", [*VALUE_MASKS, masking.scrub_text], ids=[*names, "scrub_text"]
)
def test_empty_stays_empty(value_mask: Callable[[str], str]) -> None:
    assert value_mask("") == ""


@pytest.mark.parametrize(
    ("value_mask", "value", "masked"),
    [
        # Today's phone shape: first three, four stars, last four, whatever the length.
        (masking.mask_phone, "+8613800000042", "+86****0042"),
        (masking.mask_phone, "010-12345678", "010****5678"),
        # Kept parts only while four characters stay hidden.
        (masking.mask_phone, "1380004", "****"),
        (masking.mask_id_number, "E12345678", "****"),
        (masking.mask_bank_card, "1234567", "****"),
        (masking.mask_bank_card, "12345678", "****5678"),
        (masking.mask_customer_number, "310001", "****"),
        (masking.mask_email, "ab@example.com", "****@example.com"),
        (masking.mask_email, "no-at-sign", "****"),
        (masking.mask_address, "朝阳区", "****"),
        (masking.mask_address, "朝阳区建国路", "朝阳****"),
        (masking.mask_name, "欧阳娜娜", "欧**娜"),
    ],
)
def test_short_and_unusual_values(
    value_mask: Callable[[str], str], value: str, masked: str
) -> None:
    assert value_mask(value) == masked


digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
phones = st.builds(lambda second, rest: f"1{second}{rest}", st.sampled_from("3456789"), digits)
id_numbers = st.builds(
    lambda body, check: body + check,
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.sampled_from("0123456789X"),
)
surroundings = st.text(
    alphabet=st.characters(blacklist_categories=("Nd",)).filter(str.isascii)
    | st.sampled_from("回电请联系，")
)


@given(before=surroundings, secret=phones | id_numbers, after=surroundings)
def test_scrubbed_text_keeps_no_phone_or_id_number(before: str, secret: str, after: str) -> None:
    # Letters next to an ID number would make it part of a longer code: keep them apart.
    text = f"{before} {secret} {after}"
    scrubbed = masking.scrub_text(text)
    assert secret not in scrubbed
    assert scrubbed != text
    assert masking.scrub_text(scrubbed) == scrubbed


def test_scrubbing_leaves_other_text_and_numbers_alone() -> None:
    assert masking.scrub_text("amount 500, meter 3100000001") == "amount 500, meter 3100000001"
    assert masking.scrub_text("电话13812345678，证件110101199003074578") == (
        "电话138****5678，证件110101********4578"
    )


def test_a_postal_address_keeps_its_coarse_parts() -> None:
    address = postal_address_pb2.PostalAddress(
        region_code="CN",
        postal_code="100020",
        administrative_area="北京市",
        locality="北京市",
        sublocality="朝阳区",
        address_lines=["建国路88号", "3单元502"],
        recipients=["王小明"],
        organization="国网北京电力",
    )
    masked = masking.mask_postal_address(address)
    assert masked == postal_address_pb2.PostalAddress(
        region_code="CN",
        postal_code="100020",
        administrative_area="北京市",
        locality="北京市",
        sublocality="朝阳区",
        address_lines=["****", "****"],
        recipients=["王*明"],
        organization="国****力",
    )
    assert address.address_lines[0] == "建国路88号"  # the input is left alone


personal = st.lists(st.text(min_size=1).filter(lambda v: "*" not in v), max_size=3)


@given(lines=personal, recipients=personal, organization=st.text().filter(lambda v: "*" not in v))
def test_a_postal_address_with_personal_parts_never_comes_back_as_it_was(
    lines: list[str], recipients: list[str], organization: str
) -> None:
    address = postal_address_pb2.PostalAddress(
        locality="北京市", address_lines=lines, recipients=recipients, organization=organization
    )
    masked = masking.mask_postal_address(address)
    assert (masked != address) == bool(lines or recipients or organization)
    assert masking.mask_postal_address(masked) == masked


def test_a_message_is_masked_by_its_contract_in_every_nested_message() -> None:
    customer = billing_pb.Customer(
        holder_name="王",
        holder_id_number="110101199001011234",
        registered_phone="13800000042",
        debit_account="6222021234567890123",
        address="北京市朝阳区建国路88号",
    )
    masking.mask_message(customer)
    assert (
        customer.holder_name,
        customer.holder_id_number,
        customer.registered_phone,
        customer.debit_account,
        customer.address,  # not declared sensitive: left alone
    ) == ("*", "110101********1234", "138****0042", "***************0123", "北京市朝阳区建国路88号")
    adjustment = payment_pb2.Adjustment(payee_name="张三明", payee_account="6217000012345678")
    masking.mask_message(adjustment)
    assert (adjustment.payee_name, adjustment.payee_account) == ("张*明", "************5678")


def test_repeated_sensitive_values_and_repeated_messages_are_masked() -> None:
    response = internal_pb.LookupRecipientsResponse(
        recipients=[internal_pb.Recipient(phone="13800000042", push_tokens=["device-1", ""])]
    )
    masking.mask_message(response)
    assert response.recipients[0].phone == "138****0042"
    assert list(response.recipients[0].push_tokens) == ["****", ""]


def _book_with_holders_by_key() -> type:
    """A message type with `map<string, Holder> holders`, Holder's phone sensitive (no
    PalmGrid message has a map of messages with sensitive fields yet)."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="palmlib_test/maps.proto",
        package="palmlibtest",
        syntax="proto3",
        dependency=["palmgrid/options/v1/options.proto"],
    )
    string, message, optional, repeated = 9, 11, 1, 3
    holder = proto.message_type.add(name="Holder")
    phone = holder.field.add(name="phone", number=1, type=string, label=optional)
    phone.options.Extensions[options_pb2.field].sensitive = True
    phone.options.Extensions[options_pb2.field].mask = options_pb2.MASK_STYLE_PHONE
    book = proto.message_type.add(name="Book")
    entry = book.nested_type.add(name="HoldersEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=string, label=optional)
    entry.field.add(
        name="value", number=2, type=message, label=optional, type_name=".palmlibtest.Holder"
    )
    book.field.add(
        name="holders",
        number=1,
        type=message,
        label=repeated,
        type_name=".palmlibtest.Book.HoldersEntry",
    )
    # The default pool, where the options extension the masks read is registered.
    pool = descriptor_pool.Default()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("palmlibtest.Book"))


def test_messages_in_a_map_are_masked() -> None:
    book = _book_with_holders_by_key()()
    book.holders["main"].phone = "13800000042"
    masking.mask_message(book)
    assert book.holders["main"].phone == "138****0042"


def _message_with_sensitive_messages() -> type[Message]:
    """A message type, built here, with a sensitive PostalAddress, a sensitive repeated
    PostalAddress and a sensitive message of a type without a rule of its own."""
    # In the default pool, beside the generated google.type classes it refers to.
    pool = descriptor_pool.Default()
    if _known(pool, "masking_test.proto"):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName("masking.test.Holder"))
    file = descriptor_pb2.FileDescriptorProto(
        name="masking_test.proto",
        package="masking.test",
        dependency=[
            "google/type/postal_address.proto",
            "google/protobuf/timestamp.proto",
            "palmgrid/options/v1/options.proto",
        ],
        syntax="proto3",
    )
    holder = file.message_type.add(name="Holder")
    for number, (name, type_name, repeated) in enumerate(
        (
            ("home", ".google.type.PostalAddress", False),
            ("previous_homes", ".google.type.PostalAddress", True),
            ("secret_time", ".google.protobuf.Timestamp", False),
            ("public_address", ".google.type.PostalAddress", False),
        ),
        start=1,
    ):
        field = holder.field.add(
            name=name,
            number=number,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=type_name,
            label=(
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            ),
        )
        if name != "public_address":
            field.options.Extensions[options_pb2.field].sensitive = True
    pool.AddSerializedFile(file.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("masking.test.Holder"))


def _known(pool: descriptor_pool.DescriptorPool, name: str) -> bool:
    try:
        pool.FindFileByName(name)
    except KeyError:
        return False
    return True


def test_sensitive_messages_are_masked_by_their_google_type_rule_or_cleared() -> None:
    holder_class = _message_with_sensitive_messages()
    address = postal_address_pb2.PostalAddress(
        region_code="CN", address_lines=["麒麟区建设路1号"], recipients=["王小明"]
    )
    holder = holder_class(home=address, previous_homes=[address, address], public_address=address)
    holder.secret_time.seconds = 1_700_000_000
    masking.mask_message(holder)
    masked = masking.mask_postal_address(address)
    assert holder.home == masked and holder.home != address
    assert list(holder.previous_homes) == [masked, masked]
    assert not holder.HasField("secret_time")
    assert holder.public_address == address  # not sensitive: left alone
