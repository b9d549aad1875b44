"""The worker's own settings, `PALMGRID_WORKER_*` (docs/runtime.md lists them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servers.runtime import ServiceSettings
from servers.worker.schedule import parse_schedule


class WorkerConfig(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PALMGRID_WORKER_")

    # A claimed job is the claimer's for this long, renewed while it runs (every third
    # of it); a worker that dies leaves its job to others once it lapses.
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # How often the worker looks for due jobs.
    tick_seconds: float = Field(default=1.0, gt=0, le=60)
    # The deadline of each call a job makes to a service.
    call_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # JSON: job name -> schedule text, replacing the job's own ("daily 01:30").
    schedules: dict[str, str] = Field(default_factory=dict)
    # Comma-separated job names this worker runs; empty: every registered job.
    jobs: Annotated[tuple[str, ...], NoDecode] = ()
    # Comma-separated modules to import besides servers.worker.jobs (each registers jobs).
    job_modules: Annotated[tuple[str, ...], NoDecode] = ()
    # Run records older than this are deleted.
    history_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("jobs", "job_modules", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("schedules")
    @classmethod
    def _check_schedules(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            parse_schedule(text)
        return value
