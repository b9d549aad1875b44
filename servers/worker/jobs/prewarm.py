"""Pre-warm: the edge's cache filled with active users' hot data in the off-peak window
(servers.worker.prewarm; docs/caching.md)."""

from __future__ import annotations

from servers.worker.job import Job, JobContext, register
from servers.worker.prewarm import connect, in_window, run_prewarm
from servers.worker.prewarm_config import PrewarmConfig


def prewarm(context: JobContext) -> str:
    """One pre-warm run; outside the window it opens nothing. Runs every few minutes, so
    a window that opens (or a worker that starts) mid-window is used at once; entries
    still fresh are skipped, so repeated runs in one window cost little."""
    config = PrewarmConfig.load()
    window = (config.prewarm_window_start, config.prewarm_window_end)
    if not in_window(context.now(), *window):
        return "outside-window"
    connections = connect(context.runtime.settings, config)
    try:
        report = run_prewarm(
            connections.account, connections.billing, connections.store, config, clock=context.clock
        )
    finally:
        connections.close()
    summary = (
        f"{report.outcome}: {report.users} users, {report.customers} customers, "
        f"{report.written} entries written, {report.already_fresh} fresh, "
        f"{report.failed} failed, {report.queries_per_second:.1f} queries/s"
    )
    if report.outcome == "cache-unavailable" or report.failed:
        raise RuntimeError(summary)
    return summary


register(
    Job("edge.prewarm", "every 5m", prewarm, "load active users' hot data into the edge's cache")
)
