"""The core migrations create exactly the tables the core models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from servers.billing import models

CORE_TABLES = {
    model.__tablename__  # type: ignore[attr-defined]
    for model in (
        models.Customer,
        models.Meter,
        models.MeterReading,
        models.MonthlyUsage,
        models.DailyUsage,
        models.Bill,
        models.Tariff,
        models.TariffVersion,
        models.LedgerEntry,
        models.BalanceRow,
        models.Adjustment,
    )
}


def _core_only(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if kind == "table":
        return name in CORE_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in CORE_TABLES


def test_migrations_match_the_core_models(billing_engine: Engine) -> None:
    with billing_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": _core_only}
        )
        differences = compare_metadata(context, models.metadata)
    assert differences == []
