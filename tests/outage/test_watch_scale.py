"""1,000 watch streams open on one outage process at once (loopback, one client channel):
each subscribed to the one change feed, none holding a server thread; a unary RPC still
answers promptly while they are open, and a change made then reaches every one of them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import grpc.aio
import pytest

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_service_pb2_grpc
from tests.outage.support import OutageSystem, outage_system

STREAMS = 1000
HEARTBEAT = outage_pb.OUTAGE_CHANGE_KIND_HEARTBEAT


@pytest.fixture(scope="module")
def running_system(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[OutageSystem]:
    # Heartbeats every minute: the streams stay quiet unless something changes.
    with outage_system(
        tmp_path_factory.mktemp("outage"), module_database_url, watch_heartbeat_seconds=60
    ) as running:
        yield running


class Watchers:
    """`STREAMS` streams on one aio channel, driven by an event loop on its own thread."""

    def __init__(self, system: OutageSystem) -> None:
        self._system = system
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._calls: list[grpc.aio.UnaryStreamCall] = []  # type: ignore[type-arg]

    def run(self, coroutine: object, timeout: float) -> object:
        future: Future[object] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    async def open(self) -> None:
        """Open every stream and wait for its headers (sent once it subscribed)."""
        self._channel = grpc.aio.secure_channel(
            self._system.outage.target, self._system.credentials
        )
        stub = outage_service_pb2_grpc.OutageServiceStub(self._channel)
        self._calls = [stub.WatchOutages(outage_pb.WatchOutagesRequest()) for _ in range(STREAMS)]
        await asyncio.gather(*(call.initial_metadata() for call in self._calls))

    async def next_changes(self) -> list[str]:
        """The outage of each stream's next change (heartbeats skipped)."""

        async def next_change(call: grpc.aio.UnaryStreamCall) -> str:  # type: ignore[type-arg]
            while True:
                reply = await call.read()
                assert reply is not grpc.aio.EOF
                if reply.change_kind != HEARTBEAT:
                    return str(reply.outage.name)

        return list(await asyncio.gather(*(next_change(call) for call in self._calls)))

    async def _close(self) -> None:
        for call in self._calls:
            call.cancel()
        await self._channel.close()

    def close(self) -> None:
        self.run(self._close(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def wait_for_subscribers(system: OutageSystem, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while system.process.feed.subscriber_count != count:
        assert time.monotonic() < deadline, (
            f"{system.process.feed.subscriber_count} subscribed, not {count}"
        )
        time.sleep(0.05)


# SQLite only: what is measured is the server, not the database.
@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_a_thousand_open_streams_leave_the_unary_rpcs_answering(system: OutageSystem) -> None:
    watchers = Watchers(system)
    try:
        watchers.run(watchers.open(), timeout=60)
        wait_for_subscribers(system, STREAMS, timeout=10)
        # The server's 16 pool threads are all free: a read and a write answer at once
        # (7 ms and 0.12 s measured on a quiet machine). A server holding a thread per
        # stream would not answer within the call's timeout at all; the bounds here are
        # loose so that a loaded machine does not fail them.
        started = time.monotonic()
        system.stub.ListOutages(outage_pb.ListOutagesRequest(), timeout=5)
        assert time.monotonic() - started < 3.0
        changes = asyncio.run_coroutine_threadsafe(watchers.next_changes(), watchers.loop)
        started = time.monotonic()
        outage = system.announce()
        assert time.monotonic() - started < 3.0
        names = changes.result(timeout=30)
        assert names == [outage.name] * STREAMS
        assert time.monotonic() - started < 10
    finally:
        watchers.close()
    wait_for_subscribers(system, 0, timeout=10)
