"""Ingest throughput: records per second pushed by a source system and imported from
the staging database.

    python -m bench.ingest [--rows 5000] [--batch 500] [--customers 500]

Against a real ingest service beside real billing, account, notification and
inspection services (tests/ingest/support.py: mTLS, SQLite, one process):

1. **push**: `--rows` meter readings for three meters, pushed by the metering system's
   certificate in PushMeterReadings batches of `--batch`; then `--customers` new
   customer records in PushCustomerChanges batches;
2. **staging import**: `--rows` more readings written to the staging database, read by
   the worker's `ingest.import` (no window, no effective rate limit) in batches of
   `--batch`.

Each record is checked (format, customer and meter, the previous reading) and applied
through billing, whose batch upserts and recomputation dominate the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from servers.ingest.staging_rows import insert_rows, reading_row
from servers.worker.config import WorkerConfig
from servers.worker.import_config import ImportConfig
from servers.worker.job import JobContext
from servers.worker.jobs.ingest import import_staging
from servers.worker.process import open_runtime
from tests.ingest.support import (
    CUSTOMERS,
    METER,
    START,
    STORED_WH,
    customer,
    ingest_system,
    reading,
)


def _readings_pushed(system: object, rows: int, batch: int) -> float:
    taken = START - timedelta(days=2) - timedelta(minutes=2 * rows)
    began = time.monotonic()
    for start in range(0, rows, batch):
        chunk = [
            reading(
                CUSTOMERS[i % 3], f"bp{i:07d}", taken + timedelta(minutes=i), STORED_WH + 10 * i
            )
            for i in range(start, min(rows, start + batch))
        ]
        reply = system.metering.PushMeterReadings(  # type: ignore[attr-defined]
            ingest_pb.PushMeterReadingsRequest(meter_readings=chunk, request_id=str(uuid.uuid4()))
        )
        assert reply.created_count == len(chunk), reply
    return rows / (time.monotonic() - began)


def _customers_pushed(system: object, count: int, batch: int) -> float:
    began = time.monotonic()
    for start in range(0, count, batch):
        chunk = [customer(f"33{i:08d}", START) for i in range(start, min(count, start + batch))]
        reply = system.marketing.PushCustomerChanges(  # type: ignore[attr-defined]
            ingest_pb.PushCustomerChangesRequest(customers=chunk, request_id=str(uuid.uuid4()))
        )
        assert reply.created_count == len(chunk), reply
    return count / (time.monotonic() - began)


def _staging_imported(system: object, directory: Path, rows: int, batch: int) -> float:
    taken = START - timedelta(days=1) - timedelta(minutes=rows)
    changed = START - timedelta(hours=1)
    staged = (
        reading_row(
            f"bs{i:07d}",
            CUSTOMERS[i % 3],
            METER,
            taken + timedelta(minutes=i),
            STORED_WH + 10_000_000 + 10 * i,
            changed + timedelta(milliseconds=i),
        )
        for i in range(rows)
    )
    insert_rows(system.staging, "METER_READINGS", staged)  # type: ignore[attr-defined]
    settings = system.settings.model_copy(  # type: ignore[attr-defined]
        update={"ingest_target": system.ingest.target, "data_dir": directory}  # type: ignore[attr-defined]
    )
    runtime = open_runtime(settings, WorkerConfig())
    try:
        context = JobContext("ingest.import", runtime, system.clock, 60)  # type: ignore[attr-defined]
        config = ImportConfig(
            import_rows_per_second=1_000_000,
            import_batch_rows=batch,
            import_sources=("METER_READINGS",),
        )
        began = time.monotonic()
        summary = import_staging(context, config)
        elapsed = time.monotonic() - began
    finally:
        runtime.close()
    assert summary.startswith(f"meter_readings: {rows} read, {rows} applied"), summary
    return rows / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--customers", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        with ingest_system(directory, f"sqlite:///{directory / 'ingest.db'}") as system:
            pushed = _readings_pushed(system, args.rows, args.batch)
            print(f"push: {args.rows} meter readings at {pushed:,.0f} records/s")
            made = _customers_pushed(system, args.customers, args.batch)
            print(f"push: {args.customers} new customers at {made:,.0f} records/s")
            imported = _staging_imported(system, directory, args.rows, args.batch)
            print(f"staging import: {args.rows} meter readings at {imported:,.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
