"""The outbox as Prometheus sees it: how many deliveries wait, and how long the oldest
has waited (`palmgrid_outbox_depth`, `palmgrid_outbox_oldest_age_seconds`), read from
the deliveries table at each scrape (the state index answers both)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from servers.notification.models import DeliveryRow
from servers.runtime import Clock, Runtime
from servers.runtime.metrics import register_gauge

__all__ = ["register_outbox_gauges"]

_WAITING = "PENDING"


def register_outbox_gauges(runtime: Runtime, clock: Clock) -> None:
    def depth() -> float:
        with runtime.session() as session:
            query = select(func.count()).where(col(DeliveryRow.state) == _WAITING)
            return float(session.exec(query).one())

    def oldest_age() -> float:
        with runtime.session() as session:
            query = select(func.min(DeliveryRow.create_time)).where(
                col(DeliveryRow.state) == _WAITING
            )
            oldest = session.exec(query).one()
        return 0.0 if oldest is None else max(0.0, (clock.now() - oldest).total_seconds())

    labels = {"service": runtime.name}
    register_gauge("palmgrid_outbox_depth", "Deliveries waiting to be sent.", labels, depth)
    register_gauge(
        "palmgrid_outbox_oldest_age_seconds",
        "How long the oldest waiting delivery has waited since it was queued.",
        labels,
        oldest_age,
    )
