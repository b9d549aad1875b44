"""CSV files of a staging table's shape, sent with CreateImportJob (`palm imports run
--file`): read whole, each value converted to its column's type, and written to a SQLite
staging database of the job's own (`<data dir>/ingest/uploads/{job}.db`), which the
job then reads like the staging database — the same batches, cursor, checks and
quarantine. A file that cannot be read is refused whole, naming its line and column."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from servers.ingest.staging import KINDS, create_staging_schema
from servers.ingest.staging_rows import Row, insert_rows
from servers.runtime import FieldViolation, InvalidArgument
from servers.runtime.db import create_engine

FIELD = "csv_file"


def upload_path(data_dir: Path, job_id: str) -> Path:
    return data_dir / "ingest" / "uploads" / f"{job_id}.db"


def upload_engine(data_dir: Path, job_id: str) -> Engine:
    return create_engine(f"sqlite:///{upload_path(data_dir, job_id)}")


def _refuse(description: str) -> InvalidArgument:
    return InvalidArgument(
        f"the CSV file cannot be imported: {description}",
        field_violations=[FieldViolation(FIELD, description)],
    )


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time needs its zone (Z or +08:00)")
    return moment


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError("not true or false")
    return lowered in ("true", "1")


# By the column's Python type; text is taken as it is.
CONVERTERS: dict[type, Callable[[str], Any]] = {bool: _boolean, int: int, datetime: _time}


def _converter(column: sa.Column[Any]) -> Callable[[str], Any]:
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):  # UtcDateTime: its DateTime's type
        kind = kind.impl_instance
    return CONVERTERS.get(kind.python_type, str)


def parse_csv(source: str, content: bytes) -> list[Row]:
    """The rows of `content` for `source`'s staging table; InvalidArgument (field
    `csv_file`) naming what cannot be read."""
    table = KINDS[source].table
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse("the file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    known = {c.name for c in table.columns}
    needed = {c.name for c in table.columns if not c.nullable and c.server_default is None}
    unknown = [name for name in header if name not in known]
    if unknown:
        raise _refuse(f"unknown column {unknown[0]!r} for {table.name}")
    missing = sorted(needed - set(header))
    if missing:
        raise _refuse(f"missing column {missing[0]!r} of {table.name}")
    converters = {name: _converter(table.columns[name]) for name in header}
    rows: list[Row] = []
    for line, values in enumerate(reader, start=2):
        row: Row = {}
        for name, convert in converters.items():
            value = values.get(name)
            if value is None:
                raise _refuse(f"line {line} has fewer values than the header")
            if value == "" and table.columns[name].nullable:
                row[name] = None
                continue
            try:
                row[name] = convert(value)
            except ValueError as error:
                raise _refuse(f"line {line}, column {name!r}: {error}") from None
        rows.append(row)
    if not rows:
        raise _refuse("the file has no rows")
    return rows


def store_upload(data_dir: Path, job_id: str, source: str, rows: list[Row]) -> None:
    """Write the rows to the job's own staging database."""
    path = upload_path(data_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = upload_engine(data_dir, job_id)
    try:
        create_staging_schema(engine)
        insert_rows(engine, source, rows)
    finally:
        engine.dispose()
