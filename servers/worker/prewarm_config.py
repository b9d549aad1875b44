"""The pre-warm's settings (`PALMGRID_WORKER_PREWARM_*`): when it may run, how hard it
may press on the databases, whom it warms and how long its entries live."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings

# No pre-warmed entry outlives a day (cachetags.MAX_LIFETIME).
_DAY = 24 * 3600


class PrewarmConfig(ServiceSettings):
    """Field `prewarm_x` is read from `PALMGRID_WORKER_PREWARM_X`."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_WORKER_")

    # The off-peak window, China Standard Time; a window may span midnight (23:00-05:00).
    prewarm_window_start: time = time(2, 0)
    prewarm_window_end: time = time(6, 0)
    # Calls to the services per second (each is one database read), and how many may
    # go at once after a pause.
    prewarm_queries_per_second: float = Field(default=20.0, gt=0, le=10_000)
    prewarm_burst: int = Field(default=1, ge=1, le=1_000)
    # Users with a login or a request in the last N days are warmed.
    prewarm_active_days: int = Field(default=7, ge=1, le=90)
    # At most this many users per run (the first by user id after the activity filter).
    prewarm_max_users: int = Field(default=100_000, ge=1)
    # How long a pre-warmed entry is served as fresh: from the window until the morning,
    # never past midnight CST (answers such as a bill's overdue state change with the
    # day), never shorter than the method's own TTL. Writes still invalidate at once.
    prewarm_entry_ttl_seconds: int = Field(default=6 * 3600, ge=1, le=_DAY)
    # The service account (client certificate CN) the pre-warm calls the services as.
    prewarm_account: str = "prewarm"
    # The edge's AES key file for values at rest (PALMGRID_EDGE_CACHE_KEY_FILE); unset:
    # <data dir>/edge/cache.key, the edge's default.
    prewarm_cache_key_file: Path | None = None
    prewarm_call_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
