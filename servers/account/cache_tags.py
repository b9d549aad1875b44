"""Dropping what the edge cached for users whose supply offices or roles changed.

The edge keeps each staff member's reads of customer data as entries of their own,
tagged with their user tag (`user/users/{id}`, docs/caching.md "Who bumps"). What those
reads may return follows from the staff member's supply offices and roles, which the
account service changes without touching the data: it bumps the users' tags as soon as
the change commits — the cache's counterpart of the revocation the same change writes
for their sessions — so no entry of the old scope is served again, fresh or stale. Only
a committed change bumps; a cache that cannot be reached is logged by `cachetags`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event
from sqlmodel import Session

from cachetags import TagInvalidator


def bump_users_after_commit(
    session: Session, invalidator: TagInvalidator | None, users: Iterable[str]
) -> None:
    """Bump `user/users/{id}` of each of `users` once `session` commits."""
    names = sorted(set(users))
    if invalidator is None or not names:
        return

    def bump(_: Session) -> None:
        invalidator.bump_users(names)

    event.listen(session, "after_commit", bump, once=True)
