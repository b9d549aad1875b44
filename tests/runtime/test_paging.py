"""The one pager (servers.runtime.paging): tokens bound to the method and the filters,
key values checked against their declared types, and keyset conditions that walk a
table once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import contextvars
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine

from servers.runtime import InvalidArgument, create_engine, paging
from servers.runtime.calls import CallInfo, bind_call

T = TypeVar("T")

LIST_BILLS = "/palmgrid.billing.v1.BillingService/ListBills"
LIST_USAGE = "/palmgrid.billing.v1.BillingService/ListMonthlyUsage"


def during(method: str, work: Callable[[], T]) -> T:
    """`work()` as if serving an RPC of `method`."""

    def run() -> T:
        bind_call(CallInfo(request_id="test", method=method))
        return work()

    return contextvars.copy_context().run(run)


def raw(data: Any) -> str:
    """A token as a client could build one: base64 of any JSON."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def refused(token: str, filters: Sequence[Any] = (), types: Sequence[type] = (str,)) -> bool:
    """Whether decoding `token` fails with INVALID_ARGUMENT on pageToken."""
    try:
        paging.decode_token(token, filters, types=types)
    except InvalidArgument as error:
        return [v.field for v in error.field_violations] == ["pageToken"]
    return False


# -- tokens --------------------------------------------------------------------------


def test_a_token_gives_back_its_key_for_the_same_filters() -> None:
    token = paging.encode_token(["2024-05", 7, True], ["customers/1", None])
    assert paging.decode_token(token, ["customers/1", None], types=(str, int, bool)) == [
        "2024-05",
        7,
        True,
    ]
    assert paging.decode_token("", ["customers/1"], types=(str,)) is None


def test_a_token_is_refused_with_other_filters() -> None:
    token = paging.encode_token(["x"], ["customers/1"])
    assert refused(token, ["customers/2"])
    assert refused(token, [])


def test_a_token_of_another_method_is_refused_even_with_the_same_filters_and_key() -> None:
    token = during(LIST_BILLS, lambda: paging.encode_token(["2024-05"], ["customers/1"]))
    assert during(
        LIST_BILLS, lambda: paging.decode_token(token, ["customers/1"], types=(str,))
    ) == ["2024-05"]
    assert during(LIST_USAGE, lambda: refused(token, ["customers/1"]))
    assert refused(token, ["customers/1"])  # nor outside any call


@pytest.mark.parametrize(
    "token",
    [
        "%%%not base64%%%",
        "日本語",
        "YWJj",  # "abc": base64, not JSON
        base64.urlsafe_b64encode(b"\xff\xfe{").decode(),  # not UTF-8
        raw(["a", "f"]),
        raw("just a string"),
        raw(42),
        raw(None),
        raw({"a": ["x"]}),
        raw({"f": "0"}),
        raw({"a": "x", "f": "0"}),
        raw({"a": ["x"], "f": "0", "extra": 1}),
        raw({"a": ["x"], "f": "0000000000000000"}),
        raw([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
    ],
)
def test_malformed_tokens_are_invalid_arguments_on_page_token(token: str) -> None:
    assert refused(token)


def forged(after: list[Any], filters: Sequence[Any] = ()) -> str:
    """A token with a genuine fingerprint and any key: what a client can make."""
    genuine = paging.encode_token(["x"], filters)
    data = json.loads(base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4)))
    data["a"] = after
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("after", "types"),
    [
        ([1], (str,)),  # an int where a string is expected
        (["1"], (int,)),  # and the reverse
        ([True], (int,)),  # a bool is no int
        ([1], (bool,)),
        ([1.5], (int,)),
        ([None], (str,)),
        ([["x"]], (str,)),
        ([{"x": 1}], (str,)),
        ([2**63], (int,)),  # beyond BIGINT
        ([-(2**63) - 1], (int,)),
        (["a\x00b"], (str,)),  # PostgreSQL refuses NUL in text
        (["\ud800"], (str,)),  # a lone surrogate encodes to nothing
        ([float("nan")], (float,)),
        ([float("inf")], (float,)),
        (["x", "y"], (str,)),  # too long
        ([], (str,)),  # too short
        (["x"], (str, str)),
    ],
)
def test_keys_of_the_wrong_shape_or_type_are_refused(after: list[Any], types: tuple[type]) -> None:
    assert refused(forged(after), types=types)


def test_keys_at_the_edges_of_their_types_are_accepted() -> None:
    token = forged([2**63 - 1, -(2**63), 1.5, "线路 ✓"])
    assert paging.decode_token(token, types=(int, int, float, str)) == [
        2**63 - 1,
        -(2**63),
        1.5,
        "线路 ✓",
    ]


def test_time_keys_round_trip_in_utc_and_refuse_anything_else() -> None:
    moment = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
    assert paging.time_from_key(paging.time_key(moment)) == moment
    shifted = paging.time_from_key("2026-03-02T16:00:00+08:00")
    assert shifted == datetime(2026, 3, 2, 8, 0, tzinfo=UTC) and shifted.tzinfo is UTC
    for bad in ("yesterday", "2026-03-02T08:00:00", "0001-01-01T00:00:00+14:00", ""):
        with pytest.raises(InvalidArgument) as caught:
            paging.time_from_key(bad)
        assert caught.value.field_violations[0].field == "pageToken"


def test_page_size_defaults_caps_and_refuses_negatives() -> None:
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(0, 50) == 50
    assert paging.page_size(7, 50) == 7
    assert paging.page_size(5000) == paging.MAX_PAGE_SIZE == 1000
    with pytest.raises(InvalidArgument) as caught:
        paging.page_size(-1)
    assert [v.field for v in caught.value.field_violations] == ["pageSize"]


def test_next_page_token_only_when_a_row_beyond_the_page_was_fetched() -> None:
    assert paging.next_page_token(["a", "b"], 2, lambda row: [row]) == ""
    token = paging.next_page_token(["a", "b", "c"], 2, lambda row: [row], ["f"])
    assert paging.decode_token(token, ["f"], types=(str,)) == ["b"]


# -- keyset conditions ---------------------------------------------------------------

_metadata = MetaData()
_items = Table(
    "paging_items",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("pinned", Boolean, nullable=False),
    Column("score", Integer, nullable=False),
    Column("name", String(16), nullable=False),
)


@pytest.fixture
def items(database_url: str) -> Iterator[Engine]:
    """A table of rows with many ties on every column but the last."""
    engine = create_engine(database_url)
    _metadata.create_all(engine)
    rows = [{"id": i, "pinned": i % 3 == 0, "score": i % 4, "name": f"n{i % 5}"} for i in range(40)]
    with engine.begin() as connection:
        connection.execute(_items.insert(), rows)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "descending",
    [True, False, (True, False, True, False), (False, True, False, True)],
    ids=["descending", "ascending", "mixed", "mixed-other-way"],
)
def test_keyset_pages_walk_every_row_once_in_order(
    items: Engine, descending: bool | tuple[bool, ...]
) -> None:
    columns = (_items.c.pinned, _items.c.score, _items.c.name, _items.c.id)
    flags = [descending] * 4 if isinstance(descending, bool) else list(descending)
    order = [c.desc() if down else c.asc() for c, down in zip(columns, flags, strict=True)]
    with items.connect() as connection:
        everything = [tuple(r) for r in connection.execute(select(*columns).order_by(*order))]
        walked: list[tuple[Any, ...]] = []
        after: list[Any] | None = None
        while True:
            query = select(*columns).order_by(*order).limit(7)
            if after is not None:
                query = query.where(paging.keyset_after(columns, after, descending=descending))
            page = [tuple(r) for r in connection.execute(query)]
            if not page:
                break
            walked += page
            after = list(page[-1])
    assert walked == everything and len(walked) == 40


def test_one_column_keys_pick_the_rows_strictly_beyond(items: Engine) -> None:
    column = _items.c.score
    with items.connect() as connection:

        def scores(condition: Any) -> set[int]:
            return {r[0] for r in connection.execute(select(column).where(condition))}

        assert scores(paging.descending_after([column], [2])) == {0, 1}
        assert scores(paging.ascending_after([column], [2])) == {3}
