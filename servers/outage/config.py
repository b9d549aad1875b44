"""The outage service's own settings, from `PALMGRID_OUTAGE_*` variables (docs/outage.md).

The notice period of planned outages is not here: administrators change it at run time,
so it is the system parameter `plannedOutageNotice` in the account service.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class OutageConfig(ServiceSettings):
    """Outage rules that are configuration rather than data. Field `x` is read from
    `PALMGRID_OUTAGE_X`; `OutageConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_OUTAGE_")

    # How long before a planned outage's start its subscribers are reminded.
    reminder_lead_seconds: int = Field(default=86400, ge=600, le=7 * 86400)
    # How often the clock's transitions (start, planned end) and reminders run; 0: never
    # (the worker or a test runs them).
    jobs_interval_seconds: float = Field(default=30.0, ge=0, le=3600)
    # How often the change feed looks for changes other replicas committed.
    feed_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    # How often a quiet watch stream sends a heartbeat.
    watch_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # How often pending notices are looked for when nothing wakes the dispatcher.
    delivery_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # One call to billing or account.
    upstream_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # How long the notice period read from the account service is reused.
    parameters_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
