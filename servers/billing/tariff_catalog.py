"""Tariffs as data: the TOML files under `servers/billing/tariffs/` and the versions
stored in the database.

Each file `<tariff id>.toml` holds a tariff (display name, description, customer
category) and its published `[[versions]]` (id, effective_date, description and a
schedule, see servers.billing.schedule). At start-up `install_tariffs` adds what the
database lacks; published versions are never changed, so a file whose published
version differs from the stored one stops the start-up with `TariffConflict` (publish
a new version instead). Staff add versions through the admin API as drafts and publish
them; charging uses published versions only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from servers.billing.charging import PricedVersion
from servers.billing.models import Tariff, TariffVersion
from servers.billing.schedule import Schedule, ScheduleError

TARIFF_DIR = Path(__file__).resolve().parent / "tariffs"
PUBLISHED = "PUBLISHED"
DRAFT = "DRAFT"
CATEGORIES = ("RESIDENTIAL", "BUSINESS", "INDUSTRIAL", "AGRICULTURAL")


class TariffConflict(RuntimeError):
    """A tariff file disagrees with a version already published in the database."""


@dataclass(frozen=True)
class FileVersion:
    id: str
    effective_date: date
    description: str
    schedule: Schedule


@dataclass(frozen=True)
class TariffFile:
    id: str
    display_name: str
    description: str
    customer_category: str
    versions: tuple[FileVersion, ...]


def version_name(tariff_id: str, version_id: str) -> str:
    """`tariffs/{tariff}/versions/{version}`."""
    return f"tariffs/{tariff_id}/versions/{version_id}"


def read_tariff_file(path: Path) -> TariffFile:
    """Parse and check one tariff file; ScheduleError names the bad field."""
    with path.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    category = data.get("customer_category")
    if category not in CATEGORIES:
        raise ScheduleError(f"{path.name}: customer_category must be one of {CATEGORIES}")
    versions = []
    for index, item in enumerate(data.get("versions", ())):
        effective = item.get("effective_date")
        if not isinstance(effective, date) or isinstance(effective, datetime):
            raise ScheduleError(f"{path.name}: versions[{index}].effective_date must be a date")
        try:
            schedule = Schedule.from_mapping(item)
        except ScheduleError as error:
            raise ScheduleError(f"{path.name}: versions[{index}].{error}") from error
        versions.append(
            FileVersion(str(item["id"]), effective, str(item.get("description", "")), schedule)
        )
    if len({v.id for v in versions}) != len(versions):
        raise ScheduleError(f"{path.name}: version ids must be unique")
    return TariffFile(
        path.stem,
        str(data["display_name"]),
        str(data.get("description", "")),
        category,
        tuple(versions),
    )


def read_tariff_files(directory: Path = TARIFF_DIR) -> list[TariffFile]:
    """Every `*.toml` tariff in `directory`, by id."""
    return [read_tariff_file(path) for path in sorted(directory.glob("*.toml"))]


def install_tariffs(session: Session, files: Sequence[TariffFile], now: datetime) -> int:
    """Store the tariffs and published versions the database lacks; returns how many
    versions were added. Raises TariffConflict when a stored published version differs."""
    added = 0
    for tariff in files:
        if session.get(Tariff, tariff.id) is None:
            session.add(
                Tariff(
                    id=tariff.id,
                    display_name=tariff.display_name,
                    description=tariff.description,
                    customer_category=tariff.customer_category,
                    create_time=now,
                    update_time=now,
                )
            )
            session.flush()
        for version in tariff.versions:
            stored = session.get(TariffVersion, (tariff.id, version.id))
            if stored is None:
                session.add(
                    TariffVersion(
                        tariff_id=tariff.id,
                        id=version.id,
                        state=PUBLISHED,
                        effective_date=version.effective_date,
                        schedule=version.schedule.to_json(),
                        description=version.description,
                        create_time=now,
                        creator="tariffs/files",
                        publish_time=now,
                        publisher="tariffs/files",
                    )
                )
                added += 1
            elif (
                stored.state != PUBLISHED
                or stored.effective_date != version.effective_date
                or Schedule.from_json(stored.schedule) != version.schedule
            ):
                raise TariffConflict(
                    f"{version_name(tariff.id, version.id)} differs from the published "
                    "version in the database; publish a new version instead of editing one"
                )
    session.flush()
    return added


def published_versions(session: Session, tariff_id: str) -> list[PricedVersion]:
    """The tariff's published versions, oldest first, ready for charging."""
    rows = session.exec(
        select(TariffVersion)
        .where(TariffVersion.tariff_id == tariff_id, TariffVersion.state == PUBLISHED)
        .order_by(col(TariffVersion.effective_date))
    ).all()
    return [priced(row) for row in rows]


def priced(row: TariffVersion) -> PricedVersion:
    """A stored version as the engine takes it."""
    return PricedVersion(
        version_name(row.tariff_id, row.id), row.effective_date, Schedule.from_json(row.schedule)
    )
