"""The change feed: one reader of `outage_changes` per process, fanning out to every
open watch stream.

A stream never polls the database itself. The feed's thread reads the changes after the
last one it saw, every `poll_seconds` or at once when this process committed one (so
changes other replicas commit arrive within a poll), and hands each to every
subscription's queue. A resuming stream reads its backlog once, when it opens.

Streams are async generators on the server's event loop (`ServiceSpec.async_streams`),
so a subscription's queue is an asyncio queue of that loop: the feed's thread hands a
change over with `call_soon_threadsafe`, and a waiting stream holds no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from palmgrid.outage.v1 import resources_pb2
from servers.outage.loop import Loop
from servers.outage.models import ChangeRow
from servers.runtime import Runtime

# Most changes read at once; a longer backlog is read in several passes.
BATCH = 500


@dataclass(frozen=True)
class Change:
    """One change of an outage, in feed order (`seq`). Shared by every stream: read only."""

    seq: int
    kind: str
    outage: resources_pb2.Outage
    change_time: datetime


def _change(row: ChangeRow) -> Change:
    assert row.seq is not None
    return Change(row.seq, row.kind, resources_pb2.Outage.FromString(row.outage), row.change_time)


class Subscription:
    """The live changes after `since`, in order, for one stream on an event loop."""

    _CLOSED = object()

    def __init__(self, feed: ChangeFeed, since: int, loop: asyncio.AbstractEventLoop) -> None:
        self.since = since
        self._feed = feed
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False

    def put(self, change: Change) -> None:
        """Hand `change` to the stream (from any thread)."""
        self._put(change)

    def _put(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def next(self, timeout: float) -> Change | None:
        """The next change, or None after `timeout` seconds without one or once closed."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if item is self._CLOSED:
            self.closed = True
            return None
        assert isinstance(item, Change)
        return item

    def close(self) -> None:
        """Stop receiving; a waiting `next` returns at once. Safe to call twice, from
        any thread."""
        self._feed.unsubscribe(self)
        self._put(self._CLOSED)


class ChangeFeed:
    """Reads new changes once for the whole process and fans them out."""

    def __init__(self, runtime: Runtime, *, poll_seconds: float) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._head = 0
        self._loop = Loop("outage-feed", poll_seconds, self._poll)

    def start(self) -> None:
        self._head = self.stored_head()
        self._loop.start()

    def stored_head(self) -> int:
        """The latest change stored (by any replica), which the feed may not have read yet."""
        with self._runtime.session() as session:
            head = session.exec(select(func.max(ChangeRow.seq))).one()
        return int(head or 0)

    def stop(self) -> None:
        self._loop.stop()
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()

    def wake(self) -> None:
        """Look for new changes now (this process committed one)."""
        self._loop.wake()

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        """A subscription to every change after the feed's current head (its `since`),
        delivered on the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            subscription = Subscription(self, self._head, loop)
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def history(self, after: int, upto: int) -> list[Change]:
        """The committed changes with `after` < seq <= `upto`, in order."""
        changes: list[Change] = []
        while after < upto:
            rows = self._read(after, upto)
            if not rows:
                break
            changes.extend(rows)
            after = rows[-1].seq
        return changes

    def _read(self, after: int, upto: int | None = None) -> list[Change]:
        query = select(ChangeRow).where(col(ChangeRow.seq) > after)
        if upto is not None:
            query = query.where(col(ChangeRow.seq) <= upto)
        with self._runtime.session() as session:
            rows = session.exec(query.order_by(col(ChangeRow.seq)).limit(BATCH)).all()
            return [_change(row) for row in rows]

    def _poll(self) -> None:
        while not self._loop.stopped:
            changes = self._read(self._head)
            if not changes:
                return
            self._fan_out(changes)

    def _fan_out(self, changes: Sequence[Change]) -> None:
        with self._lock:
            for change in changes:
                for subscription in self._subscriptions:
                    subscription.put(change)
                self._head = change.seq
