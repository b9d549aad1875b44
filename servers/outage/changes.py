"""Recording a change of an outage, in the transaction that makes it, and announcing it
after the commit.

`record` appends the change to the feed (`outage_changes`, what watch streams send) and,
for events customers hear of, a notice to the outbox (`outage_notices`); both commit
with the change itself, so a crash after the commit loses neither. `Announcer.committed`
then bumps the `outages` cache tag (every cached outage read carries it), wakes this
process's change feed (so its streams see the change at once) and its notice dispatcher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from cachetags.invalidate import TagInvalidator
from servers.outage.models import ChangeRow, NoticeRow, OutageRow
from servers.outage.notice_texts import NoticeEvent, compose
from servers.outage.resources import outage_resource

log = logging.getLogger("palmgrid.outage.changes")

OUTAGES_TAG = "outages"
# Serializes change inserts on PostgreSQL, so feed sequence numbers commit in order and
# a feed reading "after seq N" never skips one committed late ("outage" in ASCII).
_FEED_LOCK_KEY = 0x6F75746167


def record(
    session: Session,
    row: OutageRow,
    kind: str,
    now: datetime,
    *,
    notify: NoticeEvent | None = None,
    areas: Iterable[str] = (),
) -> None:
    """Append the change `kind` ("ANNOUNCED", …) of `row` (already changed) to the feed,
    and a notice of `notify` to the customers of the outage's areas and `areas`."""
    session.flush()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_FEED_LOCK_KEY))  # type: ignore[call-overload]
    session.add(
        ChangeRow(
            outage_id=row.id,
            kind=kind,
            outage=outage_resource(row).SerializeToString(),
            change_time=now,
        )
    )
    if notify is not None:
        queue_notice(session, row, notify, now, areas=areas)
    session.flush()


def queue_notice(
    session: Session,
    row: OutageRow,
    event: NoticeEvent,
    now: datetime,
    *,
    areas: Iterable[str] = (),
) -> None:
    """Queue a message about `event` of `row` to the customers of its areas and `areas`."""
    title, body = compose(event, row)
    session.add(
        NoticeRow(
            outage_id=row.id,
            event=event.value,
            area_codes=sorted({*row.area_codes, *areas}),
            title=title,
            body=body,
            create_time=now,
            next_attempt_time=now,
        )
    )


class Announcer:
    """What follows a committed change: the cache bump and the wake-ups."""

    def __init__(self, memcached_servers: Iterable[str] | None) -> None:
        self._lock = threading.Lock()
        self._servers = tuple(memcached_servers) if memcached_servers is not None else None
        self._listeners: list[Callable[[], None]] = []

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` (which must not block) after every committed change."""
        with self._lock:
            self._listeners.append(callback)

    def committed(self) -> None:
        """Announce, after commit, that outages changed."""
        if self._servers is not None:
            TagInvalidator.shared(self._servers).bump([OUTAGES_TAG])
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
