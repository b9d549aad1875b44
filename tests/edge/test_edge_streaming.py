"""Server streaming as NDJSON (grpc-gateway's format) and as Server-Sent Events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.edge.conftest import make_edge
from tests.edge.edge_harness import RunningEdge
from tests.edge.edge_protos import Compiled
from tests.edge.library_server import WATCHES_ENDED


def lines(r: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in r.text.splitlines() if line]


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        if not block or block.startswith(":"):
            continue
        kind, data = "message", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = orjson.loads(line[6:])
        events.append((kind, data))
    return events


def test_ndjson_has_one_result_line_per_message(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books:watch?count=3")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["grpc-metadata-x-watch"] == "started"
    got = lines(r)
    assert [line["result"]["book"]["name"] for line in got] == [
        "shelves/1/books/0",
        "shelves/1/books/1",
        "shelves/1/books/2",
    ]
    assert got[2]["result"]["book"]["readCount"] == "2"


def test_ndjson_mid_stream_failure_is_a_last_error_line(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books:watch?count=2&failCode=9")
    assert r.status_code == 200
    got = lines(r)
    assert len(got) == 3
    assert got[2] == {"error": {"code": 9, "message": "the shelf burnt down", "details": []}}


def test_failure_before_the_first_message_is_an_http_error(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books:watch?count=0&failCode=5")
    assert r.status_code == 404
    assert r.json()["code"] == 5


def test_empty_stream_is_an_empty_body(client: httpx.Client) -> None:
    r = client.get("/v1/shelves/1/books:watch?count=0")
    assert (r.status_code, r.text) == (200, "")


def test_sse_when_the_client_asks_for_it(client: httpx.Client) -> None:
    r = client.get(
        "/v1/shelves/1/books:watch?count=2&failCode=14",
        headers={"accept": "text/event-stream"},
    )
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache"
    events = sse_events(r.text)
    assert [kind for kind, _ in events] == ["message", "message", "error"]
    assert events[1][1]["book"]["name"] == "shelves/1/books/1"
    assert events[2][1]["code"] == 14


@pytest.fixture(scope="module")
def keepalive_url(edgetest: Compiled, library: int) -> Iterator[str]:
    with RunningEdge(make_edge(edgetest, library, sse_keepalive=0.1)) as running:
        yield running.url


def test_sse_sends_keepalives_while_the_upstream_is_quiet(keepalive_url: str) -> None:
    r = httpx.get(
        keepalive_url + "/v1/shelves/1/books:watch?count=1&delaySeconds=0.5",
        headers={"accept": "text/event-stream"},
        timeout=10,
    )
    assert ": keep-alive\n\n" in r.text
    assert [kind for kind, _ in sse_events(r.text)] == ["message"]


def test_client_leaving_cancels_the_upstream_stream(edge_url: str) -> None:
    shelf = "shelves/leaving"
    with (
        httpx.Client(base_url=edge_url, timeout=10) as http,
        http.stream("GET", f"/v1/{shelf}/books:watch?count=1000&delaySeconds=0.02") as r,
    ):
        for n, _ in enumerate(r.iter_lines()):
            if n == 2:
                break
    deadline = time.monotonic() + 5
    while shelf not in WATCHES_ENDED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert WATCHES_ENDED[shelf] < 1000
