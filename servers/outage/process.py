"""What one outage process shares across its calls: the upstream clients, the change
feed, the notice dispatcher and the clock's jobs. One per Runtime, built with the
registrations; the feed and the dispatcher start with it (calls need them), the clock's
ticker starts with the server (`start_ticker`, the spec's on_start), and all of them
stop when the Runtime closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from servers.outage.changes import Announcer
from servers.outage.config import OutageConfig
from servers.outage.customers import BillingCustomers
from servers.outage.delivery import NoticeDispatcher
from servers.outage.feed import ChangeFeed
from servers.outage.loop import Loop
from servers.outage.notice_period import NoticePeriod
from servers.outage.schedule import ClockJobs
from servers.runtime import Clock, Runtime


@dataclass
class OutageProcess:
    runtime: Runtime
    config: OutageConfig
    clock: Clock
    customers: BillingCustomers
    notice_period: NoticePeriod
    announcer: Announcer
    feed: ChangeFeed
    dispatcher: NoticeDispatcher
    jobs: ClockJobs
    ticker: Loop | None = field(default=None)

    def start_ticker(self) -> None:
        """Run the clock's jobs every `jobs_interval_seconds` (0: never)."""
        if self.config.jobs_interval_seconds > 0 and self.ticker is None:
            self.ticker = Loop("outage-clock", self.config.jobs_interval_seconds, self.jobs.run_due)
            self.ticker.start()
            self.runtime.on_close(self.ticker.stop)


def build_process(runtime: Runtime, config: OutageConfig, clock: Clock) -> OutageProcess:
    """The process's parts, with the feed and the dispatcher running."""
    timeout = config.upstream_timeout_seconds
    announcer = Announcer(runtime.settings.memcached_servers)
    feed = ChangeFeed(runtime, poll_seconds=config.feed_poll_seconds)
    dispatcher = NoticeDispatcher(
        runtime, clock, interval=config.delivery_interval_seconds, timeout=timeout
    )
    jobs = ClockJobs(
        runtime, clock, announcer, reminder_lead=timedelta(seconds=config.reminder_lead_seconds)
    )
    announcer.listen(feed.wake)
    announcer.listen(dispatcher.wake)
    feed.start()
    runtime.on_close(feed.stop)
    dispatcher.start()
    runtime.on_close(dispatcher.stop)
    return OutageProcess(
        runtime=runtime,
        config=config,
        clock=clock,
        customers=BillingCustomers(runtime, timeout),
        notice_period=NoticePeriod(
            runtime, timeout=timeout, cache_seconds=config.parameters_cache_seconds
        ),
        announcer=announcer,
        feed=feed,
        dispatcher=dispatcher,
        jobs=jobs,
    )
