"""Staging rows as the marketing system writes them, for the demo staging database,
the tests and the benchmark: one builder per table and a bulk insert."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from servers.ingest.staging import KINDS
from servers.runtime import write_transaction

Row = dict[str, Any]


def customer_row(
    number: str,
    update_time: datetime,
    *,
    holder_name: str = "王小明",
    address: str = "曲靖市麒麟区南宁西路1号",
    supply_office: str = "QJ-QL",
    area_code: str = "A01",
    tariff: str = "residential-tiered",
    billing_mode: str = "POSTPAID",
    state: str = "ACTIVE",
    meters: Sequence[str] = ("m1",),
) -> Row:
    """A customer archive row with single-phase meters `meters`."""
    return {
        "id": number,
        "holder_name": holder_name,
        "holder_id_number": "",
        "registered_phone": f"1380000{number[-4:]}",
        "address": address,
        "supply_office": supply_office,
        "area_code": area_code,
        "tariff": tariff,
        "billing_mode": billing_mode,
        "large_household": False,
        "state": state,
        "meters": json.dumps([{"id": m, "kind": "SINGLE_PHASE", "multiplier": 1} for m in meters]),
        "open_date": "2020-01-01",
        "update_time": update_time,
    }


def reading_row(
    reading_id: str,
    customer_number: str,
    meter_id: str,
    read_time: datetime,
    value_wh: int,
    update_time: datetime,
) -> Row:
    return {
        "id": reading_id,
        "customer_number": customer_number,
        "meter_id": meter_id,
        "read_time": read_time,
        "value_wh": value_wh,
        "quality": "ACTUAL",
        "source": "REMOTE",
        "update_time": update_time,
    }


def tariff_row(customer_number: str, tariff: str, update_time: datetime) -> Row:
    return {"id": customer_number, "tariff": tariff, "update_time": update_time}


def payment_row(
    receipt: str,
    customer_number: str,
    amount_fen: int,
    paid_time: datetime,
    update_time: datetime,
    *,
    channel: str = "COUNTER",
) -> Row:
    return {
        "id": receipt,
        "customer_number": customer_number,
        "amount_fen": amount_fen,
        "channel": channel,
        "receipt_number": receipt.upper(),
        "paid_time": paid_time,
        "update_time": update_time,
    }


def insert_rows(engine: Engine, source: str, rows: Iterable[Row], chunk: int = 5000) -> int:
    """Insert rows into `source`'s staging table in chunks; how many."""
    table = KINDS[source].table
    count = 0
    batch: list[Row] = []
    with write_transaction(engine) as connection:
        for row in rows:
            batch.append(row)
            if len(batch) == chunk:
                connection.execute(table.insert(), batch)
                count += len(batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)
            count += len(batch)
    return count
