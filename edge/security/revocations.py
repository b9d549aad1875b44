"""When a successful call changes who a caller is, their cached sessions must go.

After the upstream confirms (the reply is in hand, so the account service committed):

- login (`CreateSession`) displaced the user's other sessions → that user;
- logout (`DeleteSession`) and `ChangePassword` → the caller;
- any write whose `invalidates` names a `user/…` tag (bindings, roles, supply offices,
  disable/enable, reset password) → that user: their principal may have changed.

Each such user gets a revocation mark in Memcached (every edge replica sees it on the
next request) and in this process's `LocalRevocations` (seen even when Memcached is
down or the mark was lost).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["LocalRevocations", "users_named_by_tags"]


class LocalRevocations:
    """Users revoked recently by this process: user → time of revocation."""

    def __init__(self, horizon: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        # Older revocations need no memory: no cached session outlives the horizon.
        self.horizon = horizon
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, users: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for user in users:
                self._revoked[user] = now
            if len(self._revoked) > 10_000:
                self._prune(now)

    def revoked_after(self, user: str, checked_at: float) -> bool:
        """Whether `user` was revoked here at or after `checked_at`."""
        at = self._revoked.get(user)
        return at is not None and at >= checked_at

    def _prune(self, now: float) -> None:
        self._revoked = {u: t for u, t in self._revoked.items() if now - t < self.horizon}


def users_named_by_tags(tags: Iterable[str]) -> list[str]:
    """`users/…` names in rendered tags such as `user/users/u1`."""
    return [tag[len("user/") :] for tag in tags if tag.startswith("user/users/")]
