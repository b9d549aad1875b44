"""When a call changes who a caller is, their cached session checks must go.

Sources, all recorded in this process's `LocalRevocations` (seen at once, even when
Memcached is down or lost a mark) and, for the first two, as revocation marks in
Memcached (seen by every replica on the next request, cachetags.sessions):

- successful calls through this edge, once the upstream confirmed them: a login
  (`CreateSession`) displaced the user's other sessions; a logout (`DeleteSession`) and
  `ChangePassword` change the caller; any write whose `invalidates` names a
  `user/users/…` tag (bindings, roles, supply offices, disable, reset) changes that user;
- `AccountInternalService.WatchRevocations`: sessions, users and roles that changed by
  other paths (an administrator's CLI, expiry, password reset), streamed by the account
  service from its database (`RevocationWatcher`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from palmgrid.account.v1 import account_internal_service_pb2, account_internal_service_pb2_grpc

__all__ = ["LocalRevocations", "RevocationWatcher", "users_named_by_tags"]

log = logging.getLogger(__name__)


class LocalRevocations:
    """Resource names (`users/…`, `sessions/…`, `roles/…`) revoked recently, by time."""

    def __init__(self, horizon: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        # Older revocations need no memory: no cached check outlives the horizon.
        self.horizon = horizon
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._reset_at = 0.0
        self._lock = threading.Lock()

    def revoke(self, names: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for name in names:
                self._revoked[name] = now
            if len(self._revoked) > 10_000:
                self._revoked = {n: t for n, t in self._revoked.items() if now - t < self.horizon}

    def reset(self) -> None:
        """Everything checked before now is stale."""
        self._reset_at = self.clock()

    def stale(self, names: Iterable[str], checked_at: float) -> bool:
        """Whether a check made at `checked_at` about these names was revoked since."""
        if self._reset_at >= checked_at:
            return True
        revoked = self._revoked
        return any(revoked.get(name, 0.0) >= checked_at for name in names)


def users_named_by_tags(tags: Iterable[str]) -> list[str]:
    """`users/…` names in rendered tags such as `user/users/u1`."""
    return [tag[len("user/") :] for tag in tags if tag.startswith("user/users/")]


class RevocationWatcher:
    """Follows `WatchRevocations` and records what it reports in `LocalRevocations`.

    Started from the serving event loop on the first request; reconnects after a
    failure, resuming after the last generation seen (the account service answers with
    a reset when it cannot replay from there). An account service without the method
    (UNIMPLEMENTED) is not asked again.
    """

    def __init__(
        self,
        channel: Callable[[], grpc.aio.Channel],
        local: LocalRevocations,
        *,
        retry_seconds: float = 1.0,
    ) -> None:
        self._channel = channel
        self.local = local
        self.retry_seconds = retry_seconds
        self.generation = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._given_up = False

    def ensure_started(self) -> None:
        if self._given_up or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        stub: Any = account_internal_service_pb2_grpc.AccountInternalServiceStub(self._channel())
        while True:
            request = account_internal_service_pb2.WatchRevocationsRequest(
                after_generation=self.generation
            )
            try:
                async for change in stub.WatchRevocations(request):
                    self._apply(change)
                    self.connected.set()
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    log.warning("edge: the account service does not stream revocations")
                    self._given_up = True
                    return
                log.info("edge: revocation stream ended (%s); reconnecting", exc.code().name)
            except grpc.aio.UsageError:
                return  # the channel was closed: the edge is stopping
            self.connected.clear()
            await asyncio.sleep(self.retry_seconds)

    def _apply(self, change: account_internal_service_pb2.WatchRevocationsResponse) -> None:
        if change.reset:
            self.local.reset()
        self.local.revoke([*change.sessions, *change.users, *change.roles])
        self.generation = change.generation
