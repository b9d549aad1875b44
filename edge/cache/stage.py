"""The `cache` slot: answers reads from Memcached and invalidates after writes.

For a method with a cache policy, the entry key covers the method, the canonical
request and who shares the entry (`sharing_scope`); the entry is valid only under the
generations of its tags read *before* the upstream call (see cachetags.tags for why
that ordering makes invalidation safe), read with it in one round trip. Misses go
through `ReadThrough`: one upstream call per key however many callers miss at once,
stale entries served while one refreshes or while the upstream fails. The stage
stores the upstream's message before the `encrypt` stage seals or masks it for the
caller, and sealed at rest.

Every answer of a cacheable method gets an `ETag` and a `Cache-Control`; a matching
`If-None-Match` gets 304. After a successful call of a method that declares
`invalidates`, its tags are bumped (and left in `exchange.state["invalidated_tags"]`
for the session stage).

Memcached down or hung never fails a read: the entry and generations cannot be read,
so the upstream is called and nothing is stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import grpc

from cachetags import (
    AsyncCachePool,
    CachePool,
    CacheUnavailable,
    EntryStore,
    ReadThrough,
    TagGenerations,
)
from cachetags.flight import Outcome, Source
from cachetags.plans import GLOBAL, CachePlan, entry_address, render_tags
from edge.cache.http import cache_control, etag, matches
from edge.cache.near import NearCache, NearCacheOptions
from edge.cache.policy import plan_route
from edge.errors import EdgeError, UpstreamFailure
from edge.fieldcrypt.fields import has_sensitive
from edge.pipeline import Exchange, Handler, HttpResponse, Reply
from edge.routes import Route
from edge.stages import BuildRequestStage, json_body
from palmgrid.type.v1 import identity_pb2

__all__ = ["CacheStage"]

log = logging.getLogger(__name__)

_C = grpc.StatusCode
# Upstream failures a stale entry may stand in for; refusals (NOT_FOUND, PERMISSION_DENIED …)
# are answers and are never hidden.
_FAILURES = frozenset(
    c.value[0] for c in (_C.UNAVAILABLE, _C.DEADLINE_EXCEEDED, _C.INTERNAL, _C.UNKNOWN)
)


_BUILD = BuildRequestStage()
# Answers this request read as current, which the near cache may copy (a coalesced
# answer was read by another request, which may have started before a write here).
_CURRENT = frozenset({Source.HIT, Source.MISS})


def _kept(reply: Reply, route: Route, as_body: bool) -> bytes:
    """What an entry keeps of a reply: its JSON body (left on the reply, so `respond`
    does not encode it again) or the message's bytes; the ETag is taken over it."""
    if not as_body:
        payload: bytes = reply.message.SerializeToString()
        return payload
    if reply.body is None:
        reply.body = json_body(route, reply.message)
    return reply.body


def _is_failure(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamFailure) and exc.code in _FAILURES


class CacheStage:
    def __init__(
        self,
        pool: AsyncCachePool | CachePool | None,
        reader: ReadThrough | None,
        routes: Iterable[Route],
        near: NearCache | None = None,
    ) -> None:
        self.pool = pool
        self.reader = reader
        self.near = near if near is not None else NearCache(NearCacheOptions(ttl=0))
        self.generations = TagGenerations(pool) if pool is not None else None
        self.plans: dict[int, CachePlan] = {id(r): plan_route(r) for r in routes}
        self.stats: Counter[str] = Counter()
        self.bodies: dict[int, bool] = {}

    def _plan(self, route: Route) -> CachePlan:
        plan = self.plans.get(id(route))
        if plan is None:
            plan = self.plans[id(route)] = plan_route(route)
        return plan

    async def prefetch_keys(
        self, exchange: Exchange, principal: identity_pb2.Principal
    ) -> list[str]:
        """What this stage will read for the exchange if `principal` is the caller, so
        the session stage can fetch it with the revocation mark in one round trip.

        Only a cacheable GET without a body is known this early: its request is built
        here (and kept for the pipeline); bad input is left for `build_request` to
        refuse in its turn, after the access checks.
        """
        route = exchange.route
        assert route is not None
        plan = self._plan(route)
        if not plan.cacheable or exchange.method != "GET" or self.reader is None:
            return []
        if route.body_kind != "none":
            return []
        if exchange.request is None:
            try:
                exchange.request = await _BUILD.build(exchange)
            except EdgeError:
                return []
        address = entry_address(plan, exchange.request, principal)
        if address is not None and not has_sensitive(exchange.request.DESCRIPTOR):
            # Only the decrypt stage changes a request before this stage (it opens
            # sealed fields): without such fields, the address is worked out once.
            exchange.state["cache_address"] = (principal, address)
        if address is None or self.near.get(address.key) is not None:
            return []
        # The batch is read after this: a copy of its answer dates from now.
        exchange.state["cache_read_at"] = self.near.clock()
        return EntryStore.lookup_keys(address.key, address.tags)

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route = exchange.route
        assert route is not None
        plan = self._plan(route)
        session = exchange.state.get("session")
        user = session.user if session is not None else None
        if plan.cacheable and exchange.method == "GET":
            await self._read(exchange, call_next, route, plan)
        else:
            await call_next(exchange)
        if plan.invalidates and isinstance(exchange.reply, Reply):
            await self._invalidate(exchange, plan, user)

    async def _read(
        self, exchange: Exchange, call_next: Handler, route: Route, plan: CachePlan
    ) -> None:
        session = exchange.state.get("session")
        principal = session.principal if session is not None else None
        known = exchange.state.get("cache_address")
        if known is not None and known[0] is principal:
            address = known[1]
        else:
            address = entry_address(plan, exchange.request, principal)
        stores_body = self._stores_body(route)
        if address is None or self.reader is None:
            self.stats["bypass"] += 1
            await call_next(exchange)
            if isinstance(exchange.reply, Reply):
                self._validators(
                    exchange, plan, _kept(exchange.reply, route, stores_body), "bypass"
                )
            return

        near = plan.scope == GLOBAL and stores_body and self.near.enabled
        if near and (body := self.near.get(address.key)) is not None:
            self.stats["near"] += 1
            exchange.reply = Reply(None, body=body)
            self._validators(exchange, plan, body, Source.HIT.value)
            return

        async def load() -> bytes:
            await call_next(exchange)
            assert isinstance(exchange.reply, Reply)
            return _kept(exchange.reply, route, stores_body)

        read_at = exchange.state.get("cache_read_at", self.near.clock())
        batch = session.prefetched if session is not None else None
        read = batch.covering(EntryStore.lookup_keys(address.key, address.tags)) if batch else None
        outcome: Outcome = await self.reader.load(
            address.key,
            load,
            tags=address.tags,
            ttl=plan.ttl,
            stale_for=plan.stale_if_error,
            seal=plan.seal,
            is_failure=_is_failure,
            read=read,
            json_body=stores_body,
        )
        self.stats[outcome.source.value] += 1
        kept = outcome.payload
        if outcome.source is not Source.MISS and outcome.source is not Source.BYPASS:
            entry = outcome.entry
            if entry.json_body if entry is not None else stores_body:
                # Served as stored: no message is decoded, no JSON encoded.
                exchange.reply = Reply(None, body=outcome.payload)
            else:
                # Message bytes (a response with sensitive fields, or a pre-warmed entry).
                exchange.reply = Reply(route.response_class.FromString(outcome.payload))
                kept = _kept(exchange.reply, route, stores_body)
        if near and outcome.source in _CURRENT:
            self.near.put(address.key, kept, address.tags, read_at=read_at)
        # The entry's digest is of its payload: good for the ETag only when that payload
        # is what is served (not a message re-encoded from it).
        stored = outcome.entry
        digest = stored.digest if stored is not None and stored.payload is kept else b""
        self._validators(exchange, plan, kept, outcome.source.value, digest)

    def _stores_body(self, route: Route) -> bool:
        """Whether the route's entries keep the JSON body rather than the message: every
        response but those with sensitive fields, which the `encrypt` stage seals or
        masks for each session after the shared entry is opened."""
        stores = self.bodies.get(id(route))
        if stores is None:
            stores = not route.raw_response and not has_sensitive(route.spec.method.output_type)
            self.bodies[id(route)] = stores
        return stores

    def _validators(
        self, exchange: Exchange, plan: CachePlan, payload: bytes, source: str, digest: bytes = b""
    ) -> None:
        session = exchange.state.get("session")
        variant = "masked"
        if session is not None and session.client_public_key:
            variant = "sealed:" + session.client_public_key.hex()
        tag = etag(payload, variant, digest)
        headers = [
            (b"etag", tag),
            (b"cache-control", cache_control(plan)),
            (b"x-cache", source.upper().encode()),
        ]
        if not plan.public:
            headers.append((b"vary", b"Authorization"))
        if matches(exchange.header(b"if-none-match"), tag):
            exchange.response = HttpResponse(304, [*headers, *exchange.response_headers])
            return
        exchange.response_headers.extend(headers)

    async def _invalidate(self, exchange: Exchange, plan: CachePlan, user: str | None) -> None:
        tags = render_tags(plan.invalidates, exchange.request, user)
        if tags is None:
            log.warning("edge: %s: invalidation tags could not be rendered", plan.method)
            return
        exchange.state["invalidated_tags"] = tags
        self.near.drop_tags(tags)
        if self.generations is None:
            return
        try:
            await self.generations.abump(tags)
        except CacheUnavailable as exc:
            log.warning("edge: tags not bumped after %s: %s", plan.method, exc)
        finally:
            # A read that started while the bump was on its way may have seen a node
            # not bumped yet: what it copied goes too.
            self.near.drop_tags(tags)
