"""The demo staging database of the dev profile (CONTRACT.md): a few hundred changed
records the marketing system "wrote", some deliberately bad, so that the worker's first
`ingest.import` run after `./dev up` shows an import with quarantined rows.

Made once, when the staging database has no rows: 100 new customers 3100001001…
3100001100 (three bad: an area code in lower case, an unknown tariff, an unknown billing
mode), their tariff assignments for twenty of them (one to an unknown tariff), 200
meter readings of their meters (two going backwards, one for an unknown meter) and 60
counter payments (one through an app channel, one for an unknown customer)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from servers.ingest.config import IngestConfig, staging_url
from servers.ingest.staging import KINDS, create_staging_schema
from servers.ingest.staging_rows import (
    Row,
    customer_row,
    insert_rows,
    payment_row,
    reading_row,
    tariff_row,
)
from servers.runtime import Clock, Runtime
from servers.runtime.db import create_engine

log = logging.getLogger("palmgrid.ingest.demo")

FIRST = 3_100_001_001
COUNT = 100


def _number(n: int) -> str:
    return str(FIRST + n)


def demo_rows(clock: Clock) -> dict[str, list[Row]]:
    """The demo staging rows by source, changed over the last day."""
    now = clock.now().replace(microsecond=0)
    changed = now - timedelta(days=1)
    customers = [
        customer_row(
            _number(n),
            changed + timedelta(minutes=n),
            address=f"曲靖市麒麟区示范路{n + 1}号",
            area_code=f"A{n % 5 + 1:02d}",
        )
        for n in range(COUNT)
    ]
    customers[7]["area_code"] = "a07"
    customers[31]["tariff"] = "residential-flat-1999"
    customers[64]["billing_mode"] = "CREDIT"
    tariffs = [
        tariff_row(_number(n), "residential-time-of-use", changed + timedelta(hours=2, minutes=n))
        for n in range(0, 40, 2)
    ]
    tariffs[5]["tariff"] = "night-owl"
    readings: list[Row] = []
    taken = now - timedelta(days=2)
    for n in range(COUNT):
        for k in range(2):
            readings.append(
                reading_row(
                    f"demo-{n}-{k}",
                    _number(n),
                    "m1",
                    taken + timedelta(hours=12 * k),
                    500_000 + 12_000 * k + 100 * n,
                    changed + timedelta(hours=3, minutes=n, seconds=k),
                )
            )
    readings[21]["value_wh"] = 1_000  # below the reading before it
    readings[77]["value_wh"] = 2_000
    readings[150]["meter_id"] = "m9"
    paid = now - timedelta(hours=20)
    payments = [
        payment_row(
            f"demo-rc{n:03d}",
            _number(n),
            5_000 + 100 * n,
            paid + timedelta(minutes=n),
            changed + timedelta(hours=4, minutes=n),
        )
        for n in range(60)
    ]
    payments[11]["channel"] = "WECHAT_PAY"
    payments[42]["customer_number"] = "3199999999"
    return {
        "CUSTOMERS": customers,
        "TARIFF_ASSIGNMENTS": tariffs,
        "METER_READINGS": readings,
        "PAYMENTS": payments,
    }


def _empty(engine: Engine) -> bool:
    with engine.connect() as connection:
        return all(
            connection.execute(sa.select(sa.func.count()).select_from(k.table)).scalar_one() == 0
            for k in KINDS.values()
        )


def seed_staging(url: str, clock: Clock) -> int:
    """Fill the staging database at `url` with the demo rows when it has none; how
    many rows were written."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        create_staging_schema(engine)
        if not _empty(engine):
            return 0
        return sum(insert_rows(engine, s, rows) for s, rows in demo_rows(clock).items())
    finally:
        engine.dispose()


def seed_demo(runtime: Runtime, clock: Clock) -> None:
    """The ServiceSpec seeder (the dev profile's): the demo staging database."""
    url = staging_url(runtime.settings, runtime.settings_of(IngestConfig))
    if not url:
        return
    written = seed_staging(url, clock)
    if written:
        log.info("demo staging database written", extra={"rows": written})
