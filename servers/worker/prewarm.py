"""Pre-warm: load active users' hot data into the edge's cache before they ask.

    report = run_prewarm(account_channel, billing_channel, store, config, clock=clock)

1. Outside the off-peak window (`PALMGRID_WORKER_PREWARM_WINDOW_START`/`_END`, China
   Standard Time) nothing happens: no call, no cache access.
2. The account service lists the customer users with a login or a request in the last
   `PREWARM_ACTIVE_DAYS` days and their bound customers (ListActiveUsers, paged).
3. For each customer, once however many users share it, and each hot read (balance,
   monthly usage, bills: the requests the app sends for its first screens), the entry
   the edge would look up for such a user is found with `cachetags.entry_address` —
   the same plan, sharing scope, tags and key derivation as the edge's cache stage.
   An entry still fresh is left alone; otherwise the tag generations are read *before*
   billing is called and the answer is stored under them, sealed with the edge's key,
   exactly as the edge stores a miss (so a write that commits meanwhile still
   invalidates it).
4. Every call to a service (one database read each) first takes a token from a token
   bucket of `PREWARM_QUERIES_PER_SECOND`; the run stops when the window closes.

Identity: the pre-warm calls as its own service account (`prewarm`, an mTLS client
certificate) allowed only ListActiveUsers and the three billing reads, with the data
scope of every supply office. It never acts as the users it warms for: no assertion is
made or borrowed. Billing answers these reads identically to a bound customer user and
to a service account (no masking or fields depend on the caller), which is what makes
the answer fit to serve to the customer's users; tests/e2e/test_prewarm.py checks it by
reading through the edge.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time as wall
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import grpc
from google.protobuf.message import Message

from cachetags import (
    CachePlan,
    CachePool,
    CacheUnavailable,
    EntryStore,
    ValueCipher,
    entry_address,
    plan_method,
)
from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as internal_grpc
from palmgrid.billing.v1 import billing_service_pb2, billing_service_pb2_grpc
from palmgrid.options.v1 import options_pb2
from palmgrid.type.v1 import identity_pb2
from servers.runtime import (
    CHINA_STANDARD_TIME,
    SYSTEM_CLOCK,
    Clock,
    Settings,
    downstream_call_options,
    load_settings,
)
from servers.runtime.methods import method_rules
from servers.runtime.protoconv import timestamp
from servers.runtime.tls import open_channel
from servers.worker.prewarm_config import PrewarmConfig
from servers.worker.token_bucket import TokenBucket

__all__ = ["HOT_READS", "Connections", "PrewarmReport", "connect", "in_window", "run_prewarm"]

log = logging.getLogger(__name__)

_BILLING = billing_service_pb2.DESCRIPTOR.services_by_name["BillingService"]
_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class HotRead:
    """One read the app makes for a customer, with the request the edge builds for it
    from the route (no query parameters)."""

    method: str  # BillingService method name
    request: Callable[[str], Message]  # customer name → request

    @property
    def plan(self) -> CachePlan:
        method = _BILLING.methods_by_name[self.method]
        rules = method_rules(method)
        # Sealing is never wrong: the edge opens sealed entries whatever its plan says,
        # and customer-scoped entries are sealed anyway.
        return plan_method(
            method.full_name,
            rules,
            public=rules.access.public,
            streaming=method.server_streaming,
            sensitive=True,
        )


HOT_READS: tuple[HotRead, ...] = (
    HotRead("GetBalance", lambda c: billing_service_pb2.GetBalanceRequest(name=f"{c}/balance")),
    HotRead("ListMonthlyUsage", lambda c: billing_service_pb2.ListMonthlyUsageRequest(parent=c)),
    HotRead("ListBills", lambda c: billing_service_pb2.ListBillsRequest(parent=c)),
)


@dataclass
class PrewarmReport:
    """What a run did. `outcome`: outside-window, done, window-closed or
    cache-unavailable."""

    outcome: str
    users: int = 0
    customers: int = 0
    written: int = 0
    already_fresh: int = 0
    failed: int = 0
    # Calls to the services (account pages and billing reads), each one database read.
    queries: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.seconds if self.seconds > 0 else 0.0


def in_window(moment: datetime, start: time, end: time) -> bool:
    """Whether `moment` falls in [start, end) China Standard Time; a window whose end
    is not after its start spans midnight."""
    local = moment.astimezone(CHINA_STANDARD_TIME).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def entry_ttl(plan: CachePlan, config: PrewarmConfig, now: datetime) -> int:
    """Seconds a pre-warmed entry stays fresh: the configured lifetime, cut at the next
    midnight CST, and never below the method's own TTL."""
    local = now.astimezone(CHINA_STANDARD_TIME)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), CHINA_STANDARD_TIME)
    until_midnight = int((midnight - local).total_seconds())
    return max(plan.ttl, min(config.prewarm_entry_ttl_seconds, until_midnight))


def run_prewarm(
    account: grpc.Channel,
    billing: grpc.Channel,
    store: EntryStore,
    config: PrewarmConfig,
    *,
    clock: Clock = SYSTEM_CLOCK,
    bucket: TokenBucket | None = None,
    users: Collection[str] | None = None,
    reads: Sequence[HotRead] = HOT_READS,
) -> PrewarmReport:
    """Warm the edge's cache for the active users, within the window and the rate.

    `account` and `billing` are channels to those services authenticated as the
    pre-warm's service account; `store` is an EntryStore on the edge's Memcached pool
    with the edge's cipher; `clock` judges the window and the activity period; `bucket`
    paces the calls (default: the configured rate and burst); `users` restricts the
    run to these active users (`users/{id}`). Errors of single reads are counted and
    logged; a failure to list the active users raises grpc.RpcError.
    """
    window = (config.prewarm_window_start, config.prewarm_window_end)
    if not in_window(clock.now(), *window):
        return PrewarmReport("outside-window")
    bucket = bucket or TokenBucket(config.prewarm_queries_per_second, config.prewarm_burst)
    report = PrewarmReport("done")
    started = wall.monotonic()
    warmer = _Warmer(billing, store, config, bucket, report, clock)
    plans = [(read, read.plan) for read in reads]
    try:
        for active in _active_users(account, config, clock, bucket, report):
            if users is not None and active.user not in users:
                continue
            if not in_window(clock.now(), *window):
                report.outcome = "window-closed"
                break
            if report.users >= config.prewarm_max_users:
                break
            report.users += 1
            principal = identity_pb2.Principal(
                user=active.user,
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                customers=list(active.customers),
            )
            for customer in active.customers:
                warmer.warm(customer, principal, plans)
    except CacheUnavailable as exc:
        log.warning("pre-warm stopped: the cache cannot be reached", extra={"error": str(exc)})
        report.outcome = "cache-unavailable"
    report.seconds = wall.monotonic() - started
    log.info("pre-warm finished", extra={"report": asdict(report)})
    return report


def _active_users(
    account: grpc.Channel,
    config: PrewarmConfig,
    clock: Clock,
    bucket: TokenBucket,
    report: PrewarmReport,
) -> Iterator[internal_pb.ActiveUser]:
    stub = internal_grpc.AccountInternalServiceStub(account)
    since = clock.now() - timedelta(days=config.prewarm_active_days)
    token = ""
    while True:
        bucket.take()
        report.queries += 1
        page = stub.ListActiveUsers(
            internal_pb.ListActiveUsersRequest(
                active_after=timestamp(since), page_size=_PAGE_SIZE, page_token=token
            ),
            **_options(config),
        )
        yield from page.active_users
        token = page.next_page_token
        if not token:
            return


def _options(config: PrewarmConfig) -> dict[str, Any]:
    # Outside a call: a new request id and the configured timeout; no identity but
    # the channel's certificate.
    return downstream_call_options(default_timeout=config.prewarm_call_timeout_seconds).kwargs()


class _Warmer:
    """Writes the entries of one customer's hot reads, each customer once per run."""

    def __init__(
        self,
        billing: grpc.Channel,
        store: EntryStore,
        config: PrewarmConfig,
        bucket: TokenBucket,
        report: PrewarmReport,
        clock: Clock,
    ) -> None:
        self.stub = billing_service_pb2_grpc.BillingServiceStub(billing)
        self.store = store
        self.config = config
        self.bucket = bucket
        self.report = report
        self.clock = clock
        self.done: set[str] = set()

    def warm(
        self,
        customer: str,
        principal: identity_pb2.Principal,
        plans: Sequence[tuple[HotRead, CachePlan]],
    ) -> None:
        if customer in self.done:
            return
        self.done.add(customer)
        self.report.customers += 1
        for read, plan in plans:
            self._warm_one(read, plan, customer, principal)

    def _warm_one(
        self, read: HotRead, plan: CachePlan, customer: str, principal: identity_pb2.Principal
    ) -> None:
        request = read.request(customer)
        address = entry_address(plan, request, principal)
        if address is None or plan.scope != options_pb2.CACHE_SCOPE_CUSTOMER:
            raise ValueError(f"{plan.method} has no customer-shared entry to pre-warm")
        entry, generations = self.store.lookup(address.key, address.tags, sealed=plan.seal)
        if entry is not None and entry.fresh(self.store.clock()):
            self.report.already_fresh += 1
            return
        self.bucket.take()
        self.report.queries += 1
        try:
            reply = getattr(self.stub, read.method)(request, **_options(self.config))
        except grpc.RpcError as exc:
            self.report.failed += 1
            failure = f"{read.method} {customer}: {exc.code().name}"
            self.report.failures.append(failure)
            log.warning("pre-warm read failed", extra={"method": read.method, "error": failure})
            return
        self.store.put(
            address.key,
            reply.SerializeToString(),
            ttl=entry_ttl(plan, self.config, self.clock.now()),
            stale_for=plan.stale_if_error,
            seal=plan.seal,
            generations=generations,
        )
        self.report.written += 1


@dataclass
class Connections:
    """What a pre-warm run needs from the environment: channels to account and billing
    as the pre-warm's service account, and the edge's entry store."""

    account: grpc.Channel
    billing: grpc.Channel
    store: EntryStore

    def close(self) -> None:
        self.store.pool.close()
        self.account.close()
        self.billing.close()


def connect(settings: Settings, config: PrewarmConfig) -> Connections:
    """Channels to the services' targets with the `PREWARM_ACCOUNT` certificate, and an
    EntryStore on `PALMGRID_MEMCACHED_SERVERS` sealing with the edge's key file."""
    key_file = config.prewarm_cache_key_file or settings.data_dir / "edge" / "cache.key"
    cipher = ValueCipher.from_file(key_file)
    return Connections(
        open_channel(settings, "account", account=config.prewarm_account),
        open_channel(settings, "billing", account=config.prewarm_account),
        EntryStore(CachePool(settings.memcached_servers), cipher),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m servers.worker.prewarm [--user users/ID ...]`: one run now, from the
    environment's settings; prints the report as JSON. Exit 1 when the cache could not
    be reached or a read failed."""
    parser = argparse.ArgumentParser(prog="python -m servers.worker.prewarm", description=__doc__)
    parser.add_argument("--user", action="append", help="only these users (users/{id})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = PrewarmConfig.load()
    connections = connect(load_settings(), config)
    try:
        report = run_prewarm(
            connections.account, connections.billing, connections.store, config, users=args.user
        )
    finally:
        connections.close()
    print(json.dumps({**asdict(report), "queries_per_second": report.queries_per_second}))
    return 1 if report.outcome == "cache-unavailable" or report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
