"""The dev profile's demo data (placeholder until the seeding is built)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine


def seed(engine: Engine, now: datetime, *, customers: int = 1000) -> int:
    """Seed the demo customers when missing; returns how many were added."""
    return 0
