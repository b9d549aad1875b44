"""WatchOutages: a stream of outage changes, resumable from a cursor, with heartbeats.

Each stream subscribes to the process's change feed (`servers.outage.feed`) before it
reads anything, so no change falls between its backlog and its live part: the backlog
(after the client's cursor, or the current outages with include_existing) is read once,
up to the subscription's start; live changes after that follow, each once, in feed
order. The cursor of a change is its feed sequence number.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
from sqlmodel import col, select

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from servers.outage.feed import Change, Subscription
from servers.outage.models import OPEN_STATES, OutageRow
from servers.outage.process import OutageProcess
from servers.outage.resources import change_kind_value, outage_resource
from servers.runtime import Clock
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

    def WatchOutages(
        self, request: outage_service_pb2.WatchOutagesRequest, context: grpc.ServicerContext
    ) -> Iterator[Response]:
        wanted = _Filter(request)
        subscription = self.process.feed.subscribe()
        context.add_callback(subscription.close)
        # Headers now, not with the first change: the edge answers 200 once it has
        # (non-empty) headers. They say where the stream starts.
        context.send_initial_metadata((("x-watch-cursor", str(subscription.since)),))
        try:
            last = subscription.since
            if request.cursor:
                last = int(request.cursor)
                for change in self.process.feed.history(last, subscription.since):
                    last = change.seq
                    if wanted.matches(change.outage):
                        yield _response(change)
            elif request.include_existing:
                yield from self._existing(wanted, subscription.since)
            yield from self._live(subscription, wanted, last, context)
        finally:
            subscription.close()

    def _existing(self, wanted: _Filter, since: int) -> Iterator[Response]:
        with self.process.runtime.session() as session:
            rows = session.exec(
                select(OutageRow)
                .where(col(OutageRow.state).in_(OPEN_STATES))
                .order_by(col(OutageRow.start_time), col(OutageRow.id))
            ).all()
            outages = [outage_resource(row) for row in rows]
        now = timestamp(self.clock.now())
        for outage in outages:
            if wanted.matches(outage):
                yield Response(
                    change_kind=EXISTING, outage=outage, change_time=now, cursor=str(since)
                )

    def _live(
        self,
        subscription: Subscription,
        wanted: _Filter,
        last: int,
        context: grpc.ServicerContext,
    ) -> Iterator[Response]:
        beat = self.process.config.watch_heartbeat_seconds
        quiet_since = time.monotonic()
        while context.is_active():
            change = subscription.next(timeout=beat)
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
