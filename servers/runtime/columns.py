"""Column types and fields every service's tables use: aware UTC times, auto-increment
keys that work on SQLite and PostgreSQL, JSON lists; and `contains_text`, a substring
test that answers the same on both.

    from servers.runtime.columns import AutoBigInt, UtcDateTime, json_list_field, time_field

    class OutageRow(OutageModel, table=True):
        id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
        start_time: datetime = time_field()
        areas: list[str] = json_list_field()

New tables keep times as `timestamp with time zone` (`UtcDateTime(timezone=True)`, the
default of `time_field`); account's and care's first tables were created without a zone
and say so (`timezone=False`), which stores naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, String, literal
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field

# An integer primary key that SQLite auto-increments (only INTEGER aliases its rowid).
AutoBigInt = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out. A naive datetime is refused: a
    PalmGrid time always says its zone. SQLite has no time zones and a column without a
    zone has none either, so both store naive UTC."""

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; PalmGrid times are aware UTC")
        value = value.astimezone(UTC)
        if not self.timezone or dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def time_field(*, nullable: bool = False, index: bool = False, timezone: bool = True) -> Any:
    """A SQLModel field holding an aware UTC time (None by default until set)."""
    return Field(
        default=None,
        sa_column=Column(UtcDateTime(timezone=timezone), nullable=nullable, index=index),
    )


def json_list_field() -> Any:
    """A SQLModel field holding a JSON list (empty by default)."""
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class _ContainsText(FunctionElement[bool]):
    """`needle` occurs in `haystack`, case-sensitively on every database."""

    type = Boolean()
    inherit_cache = True


@compiles(_ContainsText)
def _contains_text_default(element: _ContainsText, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(strpos({haystack}, {needle}) > 0)"


@compiles(_ContainsText, "sqlite")
def _contains_text_sqlite(element: _ContainsText, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


def contains_text(haystack: ColumnElement[Any], needle: str) -> ColumnElement[bool]:
    """Whether the text `haystack` contains `needle`, with the same case-sensitive answer
    on SQLite and PostgreSQL (LIKE ignores ASCII case on SQLite only), and no wildcards."""
    return _ContainsText(haystack, literal(needle, type_=String()))  # type: ignore[return-value]
