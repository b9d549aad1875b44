"""WatchOutages over gRPC: a change made after the stream opened arrives within a second,
a stream resumed from a cursor gets every change after it once, existing outages come
first when asked for, heartbeats keep a quiet stream alive, and every stream of the
process shares one change feed."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from tests.outage.support import OutageSystem, fails

ANNOUNCED = outage_pb.OUTAGE_CHANGE_KIND_ANNOUNCED
CANCELLED = outage_pb.OUTAGE_CHANGE_KIND_CANCELLED
EXISTING = outage_pb.OUTAGE_CHANGE_KIND_EXISTING
HEARTBEAT = outage_pb.OUTAGE_CHANGE_KIND_HEARTBEAT


class Reader:
    """Reads a watch stream on a thread into a queue."""

    def __init__(self, stream: Iterator[outage_pb.WatchOutagesResponse]) -> None:
        self.stream = stream
        self.items: queue.Queue[outage_pb.WatchOutagesResponse] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for item in self.stream:
                self.items.put(item)
        except grpc.RpcError:
            pass

    def next_change(self, timeout: float = 2.0) -> outage_pb.WatchOutagesResponse:
        deadline = time.monotonic() + timeout
        while True:
            item = self.items.get(timeout=max(deadline - time.monotonic(), 0.01))
            if item.change_kind != HEARTBEAT:
                return item

    def close(self) -> None:
        self.stream.cancel()  # type: ignore[attr-defined]


def watch(system: OutageSystem, **fields: object) -> Reader:
    return Reader(system.stub.WatchOutages(outage_pb.WatchOutagesRequest(**fields)))  # type: ignore[arg-type]


def wait_for_subscribers(system: OutageSystem, count: int) -> None:
    """Wait until exactly `count` streams are subscribed (closed ones have left)."""
    deadline = time.monotonic() + 5
    while system.process.feed.subscriber_count != count:
        assert time.monotonic() < deadline, "the streams did not subscribe"
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_streams_left(system: OutageSystem) -> None:
    """Streams of earlier tests leave asynchronously; counts start from none."""
    wait_for_subscribers(system, 0)


def test_a_change_after_the_stream_opened_arrives_while_it_is_open(system: OutageSystem) -> None:
    reader = watch(system)
    try:
        wait_for_subscribers(system, 1)
        started = time.monotonic()
        outage = system.announce()
        change = reader.next_change()
        # Pushed by the feed (it looks every 0.2 s), not found by a poll of the reader's:
        # well under a second on a quiet machine (docs/outage.md), bounded loosely here
        # so that a loaded CI machine does not fail a latency this test does not measure.
        assert time.monotonic() - started < 5.0
        assert change.change_kind == ANNOUNCED
        assert change.outage.name == outage.name
        assert change.cursor
    finally:
        reader.close()


def test_resuming_from_a_cursor_loses_and_repeats_nothing(system: OutageSystem) -> None:
    reader = watch(system)
    try:
        wait_for_subscribers(system, 1)
        first = system.announce()
        seen = reader.next_change()
    finally:
        reader.close()
    wait_for_subscribers(system, 0)
    # Changes made while the client was away.
    second = system.announce(days=9)
    system.stub.CancelOutage(
        outage_pb.CancelOutageRequest(name=first.name, reason="取消"),
        metadata=system.dispatcher(),
    )
    resumed = watch(system, cursor=seen.cursor)
    try:
        wait_for_subscribers(system, 1)
        third = system.announce(days=10)
        got = [resumed.next_change() for _ in range(3)]
        assert [(c.change_kind, c.outage.name) for c in got] == [
            (ANNOUNCED, second.name),
            (CANCELLED, first.name),
            (ANNOUNCED, third.name),
        ]
        cursors = [int(c.cursor) for c in got]
        assert cursors == sorted(cursors) and int(seen.cursor) < cursors[0]
        assert resumed.items.empty() or resumed.items.get().change_kind == HEARTBEAT
    finally:
        resumed.close()


def test_a_cursor_beyond_the_feed_is_refused_naming_it(system: OutageSystem) -> None:
    stream = system.stub.WatchOutages(outage_pb.WatchOutagesRequest(cursor="999999999999"))
    error = fails(lambda: next(stream))
    assert error.code == grpc.StatusCode.OUT_OF_RANGE
    assert error.metadata["field"] == "cursor"


def test_existing_outages_come_first_and_filters_apply(system: OutageSystem) -> None:
    a01 = system.announce()
    system.announce(area_codes=["A02"])
    reader = watch(system, include_existing=True, area_code="A01")
    try:
        existing = reader.next_change()
        assert (existing.change_kind, existing.outage.name) == (EXISTING, a01.name)
        wait_for_subscribers(system, 1)
        system.announce(area_codes=["A02"], days=9)
        later = system.announce(days=9)
        assert reader.next_change().outage.name == later.name
    finally:
        reader.close()


def test_a_quiet_stream_gets_heartbeats(system: OutageSystem) -> None:
    reader = watch(system)
    try:
        beat = reader.items.get(timeout=2)
        assert beat.change_kind == HEARTBEAT
        assert beat.cursor
    finally:
        reader.close()


def test_streams_share_the_process_feed(system: OutageSystem) -> None:
    readers = [watch(system) for _ in range(5)]
    try:
        wait_for_subscribers(system, 5)
        outage = system.announce()
        assert {r.next_change().outage.name for r in readers} == {outage.name}
    finally:
        for reader in readers:
            reader.close()
    deadline = time.monotonic() + 5
    while system.process.feed.subscriber_count:
        assert time.monotonic() < deadline, "closed streams stayed subscribed"
        time.sleep(0.02)
