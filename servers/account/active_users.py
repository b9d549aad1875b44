"""Who was active lately: customer users with a login or a request since a time, and
the customers bound to them (ListActiveUsers, for the worker's pre-warm).

A login sets the user's `last_login_time` and its session's `last_activity_time`;
every request the edge checks with AuthenticateSession moves `last_activity_time`. The
later of the two is the user's last activity, so sessions cleaned up since still leave
the login behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from servers.account import models, users
from servers.runtime.protoconv import timestamp


@dataclass(frozen=True, slots=True)
class ActiveUser:
    user_id: str
    last_active: datetime
    customers: tuple[str, ...]

    def to_proto(self) -> internal_pb.ActiveUser:
        return internal_pb.ActiveUser(
            user=f"users/{self.user_id}",
            customers=list(self.customers),
            last_active_time=timestamp(self.last_active),
        )


def active_after(
    session: Session, since: datetime, *, after_user: str | None, limit: int
) -> list[ActiveUser]:
    """Up to `limit` active customer users with a binding, by user id, after
    `after_user`."""
    recent = (
        select(
            col(models.Session.user_id).label("user_id"),
            func.max(col(models.Session.last_activity_time)).label("last_activity"),
        )
        .where(col(models.Session.last_activity_time) >= since)
        .group_by(col(models.Session.user_id))
        .subquery()
    )
    bound = exists().where(col(models.CustomerBinding.user_id) == col(models.User.id))
    query = (
        select(models.User, recent.c.last_activity)
        .outerjoin(recent, recent.c.user_id == col(models.User.id))
        .where(
            col(models.User.kind) == users.CUSTOMER,
            col(models.User.state) == users.ACTIVE,
            or_(recent.c.last_activity.is_not(None), col(models.User.last_login_time) >= since),
            bound,
        )
    )
    if after_user is not None:
        query = query.where(col(models.User.id) > after_user)
    rows = session.exec(query.order_by(col(models.User.id)).limit(limit)).all()
    customers = _customers_of(session, [user.id for user, _ in rows])
    return [
        ActiveUser(user.id, _latest(user.last_login_time, activity), customers.get(user.id, ()))
        for user, activity in rows
    ]


def _customers_of(session: Session, user_ids: list[str]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    if user_ids:
        bindings = session.exec(
            select(models.CustomerBinding)
            .where(col(models.CustomerBinding.user_id).in_(user_ids))
            .order_by(col(models.CustomerBinding.customer))
        ).all()
        for binding in bindings:
            found.setdefault(binding.user_id, []).append(binding.customer)
    return {user: tuple(names) for user, names in found.items()}


def _latest(login: datetime | None, activity: datetime | None) -> datetime:
    times = [t for t in (login, activity) if t is not None]
    return max(times)
