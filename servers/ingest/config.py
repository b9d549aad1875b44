"""The ingest service's own settings, from `PALMGRID_INGEST_*` variables (docs/runtime.md
lists them; docs/ingest.md explains them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings, Settings


class IngestConfig(ServiceSettings):
    """Field `x` is read from `PALMGRID_INGEST_X`; `IngestConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_INGEST_")

    # One call to billing (archive, readings, tariffs, payments) or inspection.
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The marketing system's staging database, an SQLAlchemy URL (SQLite or
    # PostgreSQL); empty: none, and import jobs fail. The dev profile's default is the
    # demo staging database in the data directory.
    staging_url: str = ""


def staging_url(settings: Settings, config: IngestConfig) -> str:
    """The staging database import jobs read: the configured one; in the dev profile,
    by default, the demo one in the data directory."""
    if config.staging_url or settings.profile != "dev":
        return config.staging_url
    return f"sqlite:///{settings.data_dir / 'ingest' / 'staging.db'}"
