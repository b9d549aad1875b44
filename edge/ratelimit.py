"""Per-method request limits from `(palmgrid.options.v1.method).rate_limit`.

Counters live in Memcached in fixed one-minute windows, one per method and subject
(client IP, signed-in user): the first request of a window creates the counter with
`add`, the others `incr` it. A request over either limit is refused with 429 and a
`Retry-After` of the seconds left in the window.

Limits fail open: when Memcached cannot answer, requests pass. What they protect is
guarded for real elsewhere — the account service's lockout after failed logins lives
in its database, payments are idempotent by request id — so a cache outage costs
only the early refusal, never correctness.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from cachetags import AsyncCachePool, CachePool, CacheUnavailable, keys, steps
from cachetags.steps import Steps
from edge.errors import EdgeError
from edge.pipeline import Exchange, Handler
from edge.security.clientip import TrustedProxies
from palmgrid.options.v1 import options_pb2

__all__ = ["Decision", "RateLimitStage", "RateLimited", "RateLimiter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Seconds until the window that refused the request ends (0 when allowed).
    retry_after: int = 0
    # Which subject hit its limit: "ip" or "user" ("" when allowed).
    subject: str = ""


class RateLimited(Exception):
    """A request over its method's limit; answered with 429 and Retry-After."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"rate limit per {decision.subject} exceeded")
        self.retry_after = decision.retry_after
        self.subject = decision.subject


class RateLimiter:
    def __init__(
        self,
        pool: CachePool | AsyncCachePool | None,
        *,
        window: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.window = window
        self.clock = clock

    async def acheck(
        self,
        method: str,
        limits: options_pb2.RateLimit,
        *,
        client_ip: str,
        user: str | None,
    ) -> Decision:
        """Count this request against the method's limits and say whether it may pass."""
        return await steps.run_async(self.pool, self.check_steps(method, limits, client_ip, user))

    def check_steps(
        self, method: str, limits: options_pb2.RateLimit, client_ip: str, user: str | None
    ) -> Steps[Decision]:
        subjects: list[tuple[str, str, int]] = []
        if limits.per_ip_per_minute > 0 and client_ip:
            subjects.append(("ip", client_ip, limits.per_ip_per_minute))
        if limits.per_user_per_minute > 0 and user:
            subjects.append(("user", user, limits.per_user_per_minute))
        if not subjects or self.pool is None:
            return Decision(True)
        now = self.clock()
        scaled = self.window / 60
        index = math.floor(now / self.window)
        retry_after = max(1, math.ceil((index + 1) * self.window - now))
        for kind, subject, per_minute in subjects:
            limit = max(1, math.floor(per_minute * scaled))
            try:
                count = yield from self._count(keys.key("rl", method, kind, subject, str(index)))
            except CacheUnavailable:
                log.warning("rate limit not checked: the cache cannot answer")
                return Decision(True)
            if count > limit:
                return Decision(False, retry_after, kind)
        return Decision(True)

    def _count(self, key: str) -> Steps[int]:
        value = yield from steps.incr(key)
        if value is not None:
            return value
        if (yield from steps.add(key, b"1", self.window + 5)):
            return 1
        # Another request created the counter between our incr and add.
        return (yield from steps.incr(key)) or 1


class RateLimitStage:
    """The `rate_limit` slot: 429 with `Retry-After` over a method's declared limits."""

    def __init__(self, limiter: RateLimiter, proxies: TrustedProxies) -> None:
        self.limiter = limiter
        self.proxies = proxies

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route = exchange.route
        assert route is not None
        rules = route.spec.rules
        if rules is not None and rules.HasField("rate_limit"):
            session = exchange.state.get("session")
            decision = await self.limiter.acheck(
                route.method_name,
                rules.rate_limit,
                client_ip=self.proxies.client_ip_of(exchange),
                user=session.user if session is not None else None,
            )
            if not decision.allowed:
                seconds = str(decision.retry_after)
                raise EdgeError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"too many requests; retry after {seconds} s",
                    "RATE_LIMITED",
                    headers=[(b"retry-after", seconds.encode())],
                    metadata={"retryAfterSeconds": seconds, "limitedBy": decision.subject},
                )
        await call_next(exchange)
