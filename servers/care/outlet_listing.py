"""The order of ListOutlets: nearest first from a point, else by name.

A bureau has tens of outlets and a province a few thousand, so the list is ordered in
memory. That also makes "by name" the same on SQLite and PostgreSQL (code-point order
of the display name; a database collation would order Chinese differently per server).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servers.care.geo import haversine_meters
from servers.care.models import OutletRow

# A sort key: (distance in whole metres, id) from a point, else (display name, id).
SortKey = tuple[int | str, str]


@dataclass(frozen=True)
class Point:
    """A WGS 84 point in degrees."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class Placed:
    """An outlet in the list with its sort key and, from a point, its distance."""

    row: OutletRow
    key: SortKey
    distance_meters: int | None


def distance_meters(point: Point, row: OutletRow) -> int:
    """The haversine distance from `point` to the outlet, rounded to whole metres."""
    return round(haversine_meters(point.latitude, point.longitude, row.latitude, row.longitude))


def placed(row: OutletRow, point: Point | None) -> Placed:
    if point is None:
        return Placed(row, (row.display_name, row.id), None)
    distance = distance_meters(point, row)
    # Ordered by the distance as returned, so the answer reads in order to the metre;
    # ties go by id.
    return Placed(row, (distance, row.id), distance)


def ordered(
    rows: Iterable[OutletRow], point: Point | None, *, service: str | None = None
) -> list[Placed]:
    """The outlets offering `service` (every outlet for None) in list order."""
    chosen = (row for row in rows if service is None or service in row.services)
    return sorted((placed(row, point) for row in chosen), key=lambda p: p.key)


def page_after(
    items: list[Placed], after: SortKey | None, size: int
) -> tuple[list[Placed], SortKey | None]:
    """The `size` items after sort key `after` (from the start for None), and the key to
    resume after when more follow."""
    start = 0 if after is None else next((i for i, p in enumerate(items) if p.key > after), None)
    if start is None:
        return [], None
    page = items[start : start + size]
    more = start + size < len(items)
    return page, (page[-1].key if more and page else None)
