"""Resumable streams at the edge: an SSE event carries a message's cursor as its id, and
a reconnecting client's `Last-Event-ID` becomes the request's cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from edge import streaming
from palmgrid.outage.v1 import outage_service_pb2 as outage_pb


async def _collect(values: list[dict[str, Any]], fmt: streaming.StreamFormat) -> bytes:
    async def messages() -> AsyncIterator[dict[str, Any]]:
        for value in values:
            yield value

    frames = streaming.frames(messages(), lambda v: v, lambda e: None, fmt, 0)
    return b"".join([frame async for frame in frames])


def test_sse_event_id_is_the_message_cursor() -> None:
    body = asyncio.run(_collect([{"cursor": "41", "x": 1}, {"x": 2}], "sse"))
    assert body == b'id: 41\ndata: {"cursor":"41","x":1}\n\ndata: {"x":2}\n\n'


def test_ndjson_lines_carry_no_event_id() -> None:
    body = asyncio.run(_collect([{"cursor": "41"}], "ndjson"))
    assert body == b'{"result":{"cursor":"41"}}\n'


def test_last_event_id_fills_the_request_cursor() -> None:
    request = outage_pb.WatchOutagesRequest()
    streaming.resume_cursor(request, b"41")
    assert request.cursor == "41"


def test_a_cursor_in_the_query_wins_over_last_event_id() -> None:
    request = outage_pb.WatchOutagesRequest(cursor="7")
    streaming.resume_cursor(request, b"41")
    assert request.cursor == "7"


def test_last_event_id_is_ignored_without_a_cursor_field_or_when_unprintable() -> None:
    other = outage_pb.ListOutagesRequest()
    streaming.resume_cursor(other, b"41")
    assert other == outage_pb.ListOutagesRequest()
    request = outage_pb.WatchOutagesRequest()
    streaming.resume_cursor(request, b"4\n1")
    assert request.cursor == ""
