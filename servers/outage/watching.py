"""WatchOutages: a stream of outage changes, resumable from a cursor, with heartbeats.

Each stream subscribes to the process's change feed (`servers.outage.feed`) before it
reads anything, so no change falls between its backlog and its live part: the backlog
(after the client's cursor, or the current outages with include_existing) is read once,
up to the subscription's start; live changes after that follow, each once, in feed
order. The cursor of a change is its feed sequence number.

The method is an async generator: the outage service is served on grpc.aio
(`ServiceSpec.async_streams`), so an open stream waits on the event loop and holds none
of the pool's threads; the one read of its backlog runs on a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc.aio
from sqlmodel import col, select

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from servers.outage.feed import Change, Subscription
from servers.outage.models import OPEN_STATES, OutageRow
from servers.outage.process import OutageProcess
from servers.outage.resources import change_kind_value, outage_resource
from servers.runtime import Clock, OutOfRange
from servers.runtime.protoconv import timestamp

Response = outage_service_pb2.WatchOutagesResponse
HEARTBEAT = outage_service_pb2.OUTAGE_CHANGE_KIND_HEARTBEAT
EXISTING = outage_service_pb2.OUTAGE_CHANGE_KIND_EXISTING


class _Filter:
    def __init__(self, request: outage_service_pb2.WatchOutagesRequest) -> None:
        self.area_code = request.area_code
        self.kind = request.kind

    def matches(self, outage: resources_pb2.Outage) -> bool:
        if self.kind and outage.kind != self.kind:
            return False
        return not self.area_code or self.area_code in outage.area_codes


class WatchMethods:
    """WatchOutages."""

    process: OutageProcess
    clock: Clock

    async def WatchOutages(
        self,
        request: outage_service_pb2.WatchOutagesRequest,
        context: grpc.aio.ServicerContext[outage_service_pb2.WatchOutagesRequest, Response],
    ) -> AsyncIterator[Response]:
        wanted = _Filter(request)
        feed = self.process.feed
        subscription = feed.subscribe()
        try:
            if request.cursor:
                await self._check_cursor(int(request.cursor), subscription.since)
            # Headers now, not with the first change: the edge answers 200 once it has
            # (non-empty) headers. They say where the stream starts.
            await context.send_initial_metadata((("x-watch-cursor", str(subscription.since)),))
            last = subscription.since
            backlog: list[Response] = []
            if request.cursor:
                last = int(request.cursor)
                for change in await asyncio.to_thread(feed.history, last, subscription.since):
                    last = change.seq
                    if wanted.matches(change.outage):
                        backlog.append(_response(change))
            elif request.include_existing:
                backlog = await asyncio.to_thread(self._existing, wanted, subscription.since)
            for response in backlog:
                yield response
            async for response in self._live(subscription, wanted, last):
                yield response
        finally:
            subscription.close()

    async def _check_cursor(self, cursor: int, since: int) -> None:
        """OUT_OF_RANGE for a cursor no stored change has reached: live changes up to
        it would be dropped unseen. One ahead of this process's feed (another replica's
        newer change, not polled yet) is fine."""
        if cursor <= since:
            return
        head = await asyncio.to_thread(self.process.feed.stored_head)
        if cursor > head:
            raise OutOfRange(
                f"cursor {cursor} is beyond the latest change ({head})",
                metadata={"field": "cursor", "head": str(head)},
            )

    def _existing(self, wanted: _Filter, since: int) -> list[Response]:
        with self.process.runtime.session() as session:
            rows = session.exec(
                select(OutageRow)
                .where(col(OutageRow.state).in_(OPEN_STATES))
                .order_by(col(OutageRow.start_time), col(OutageRow.id))
            ).all()
            outages = [outage_resource(row) for row in rows]
        now = timestamp(self.clock.now())
        return [
            Response(change_kind=EXISTING, outage=outage, change_time=now, cursor=str(since))
            for outage in outages
            if wanted.matches(outage)
        ]

    async def _live(
        self, subscription: Subscription, wanted: _Filter, last: int
    ) -> AsyncIterator[Response]:
        beat = self.process.config.watch_heartbeat_seconds
        quiet_since = time.monotonic()
        while True:
            change = await subscription.next(timeout=beat)
            if subscription.closed:
                return
            if change is not None and change.seq > last:  # not sent from the backlog
                last = change.seq
                if wanted.matches(change.outage):
                    quiet_since = time.monotonic()
                    yield _response(change)
                    continue
            if time.monotonic() - quiet_since >= beat:
                quiet_since = time.monotonic()
                yield Response(
                    change_kind=HEARTBEAT, change_time=timestamp(self.clock.now()), cursor=str(last)
                )


def _response(change: Change) -> Response:
    return Response(
        change_kind=change_kind_value(change.kind),
        outage=change.outage,
        change_time=timestamp(change.change_time),
        cursor=str(change.seq),
    )
