"""The staging import's settings (`PALMGRID_WORKER_IMPORT_*`): when it may read the
marketing system's staging database, how hard it may press on it, and what it reads."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servers.runtime import ServiceSettings

SOURCES = ("CUSTOMERS", "TARIFF_ASSIGNMENTS", "METER_READINGS", "PAYMENTS")


class ImportConfig(ServiceSettings):
    """Field `import_x` is read from `PALMGRID_WORKER_IMPORT_X`."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_WORKER_")

    # The window in which the staging database may be read, China Standard Time; one
    # that ends where it starts is the whole day, one may span midnight (22:00-06:00).
    import_window_start: time = time(0, 0)
    import_window_end: time = time(0, 0)
    # Staging rows read per second at most, in batches of `import_batch_rows`.
    import_rows_per_second: float = Field(default=2000.0, gt=0, le=1_000_000)
    import_batch_rows: int = Field(default=500, ge=1, le=5000)
    # The sources imported, in this order (the archive before what refers to it).
    import_sources: Annotated[tuple[str, ...], NoDecode] = SOURCES

    @field_validator("import_sources", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip().upper() for part in value.split(",") if part.strip())
        unknown = [v for v in value if v not in SOURCES]
        if unknown:
            raise ValueError(f"unknown import sources {unknown}; known: {', '.join(SOURCES)}")
        return value
