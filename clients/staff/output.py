"""How commands show what the services answered: a rich table or panel for people, or
(`--json`) the answer itself as one proto3 JSON document for scripts.

Tables show times in China Standard Time with the zone written out, money in yuan from
integer fen, energy in kWh from integer Wh; the JSON keeps the services' units (UTC,
fen, Wh) untouched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

import typer
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

console = Console()
CHINA = timezone(timedelta(hours=8), "CST")  # China has one zone and no summer time

JsonFlag = Annotated[bool, typer.Option("--json", help="print the service's answer as proto3 JSON")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="at most this many")]
PageToken = Annotated[str, typer.Option(help="from `more:` of the previous page")]


def to_json(message: Message) -> str:
    """proto3 JSON as the edge writes it: lowerCamelCase, unpopulated fields included."""
    return json_format.MessageToJson(
        message, ensure_ascii=False, indent=2, always_print_fields_with_no_presence=True
    )


def show(message: Message, as_json: bool, render: Callable[[], object]) -> None:
    """Print `message` as JSON, or what `render()` builds from it for people."""
    if as_json:
        sys.stdout.write(to_json(message) + "\n")
    else:
        console.print(render())


def show_page(
    reply: Message,
    as_json: bool,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    timed: bool = True,
) -> None:
    """Print one page of a List answer: as JSON, or as a table followed (on stderr) by
    how to ask for the next page."""
    show(reply, as_json, lambda: table(title, columns, rows, timed))
    if not as_json:
        more(getattr(reply, "next_page_token", ""))


def table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], timed: bool = True
) -> Table:
    """Rows under `columns`; the first column (the resource's id) is never wrapped, so
    it can be copied whole. Times in it (`timed`) are China Standard Time, as the
    caption says."""
    caption = "times: UTC+8" if timed else None
    grid = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for index, column in enumerate(columns):
        grid.add_column(column, no_wrap=index == 0)
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    return grid


def fields(title: str, pairs: Iterable[tuple[str, object]]) -> Table:
    """A two-column table of one resource's fields (empty values left out)."""
    grid = Table(show_header=False, title=title, title_justify="left")
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in pairs:
        if value not in ("", None, [], ()):
            grid.add_row(label, str(value))
    return grid


def when(stamp: timestamp_pb2.Timestamp, zone: bool = True) -> str:
    """A timestamp in China Standard Time ("2026-12-20 09:00 +08:00"), "" when unset;
    without the zone in tables, whose caption says it."""
    if not stamp.seconds and not stamp.nanos:
        return ""
    moment = stamp.ToDatetime(tzinfo=UTC).astimezone(CHINA)
    return moment.strftime("%Y-%m-%d %H:%M" + (" +08:00" if zone else ""))


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def kwh(wh: int) -> str:
    return f"{wh / 1000:,.1f} kWh"


def enum_label(name: str, prefix: str) -> str:
    """OUTAGE_STATE_ACTIVE -> active."""
    return name.removeprefix(prefix).lower().replace("_", " ")


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time with its zone ("2026-12-14T09:00+08:00", "...Z"); a time without
    a zone is refused rather than guessed."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} has no zone: add +08:00 or Z", param_hint=option
        ) from None
    return moment


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def resource(collection: str, value: str) -> str:
    """`collection/value`, unless `value` already is a name in that collection."""
    return value if value.startswith(collection + "/") else f"{collection}/{value}"


def more(next_page_token: str) -> None:
    """Say how to see the next page (to stderr, so piped tables stay clean)."""
    if next_page_token:
        Console(stderr=True).print(f"more: --page-token {next_page_token}", style="dim")
