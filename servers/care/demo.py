"""The dev profile's demo data (CONTRACT.md, "The dev profile's demo data"): the service
outlets in `demo_outlets.toml` and the articles in `demo_articles.toml`.

Seeding is idempotent: a row whose id exists is left as it is (an editor may have
changed it), and only missing ones are added. Article times follow from the seeding
time, so the notices read as current.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any

from sqlmodel import Session, col, select

from servers.care.models import ArticleRow, ArticleState, CareModel, OutletRow
from servers.runtime import CHINA_STANDARD_TIME

HERE = Path(__file__).resolve().parent
OUTLETS_FILE = HERE / "demo_outlets.toml"
ARTICLES_FILE = HERE / "demo_articles.toml"

MAINTENANCE_AFTER = timedelta(days=5)
_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(frozen=True)
class Seeded:
    """How many rows a seeding added."""

    outlets: int
    articles: int


def _days(spec: str) -> list[str]:
    """The days of "MONDAY" or of a range "MONDAY-FRIDAY", in week order."""
    first, _, last = spec.partition("-")
    start, end = _WEEK.index(first), _WEEK.index(last or first)
    return list(_WEEK[start : end + 1])


def _opening_hours(periods: list[dict[str, str]]) -> list[dict[str, str]]:
    """Stored opening periods, by day then opening time, from a schedule's ranges."""
    expanded = [
        {"day": day, "open": p["open"], "close": p["close"]}
        for p in periods
        for day in _days(p["days"])
    ]
    return sorted(expanded, key=lambda p: (_WEEK.index(p["day"]), p["open"]))


def outlet_rows(now: datetime, path: Path = OUTLETS_FILE) -> list[OutletRow]:
    """The demo outlets as rows created at `now`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    schedules: dict[str, list[dict[str, str]]] = data["schedules"]
    services: dict[str, list[str]] = data["services"]
    return [
        OutletRow(
            id=item["id"],
            display_name=item["display_name"],
            address=item["address"],
            latitude=item["latitude"],
            longitude=item["longitude"],
            phone=item["phone"],
            opening_hours=_opening_hours(schedules[item["schedule"]]),
            hours_note=item.get("hours_note", ""),
            services=list(services[item["services"]]),
            supply_office=item.get("supply_office", ""),
            create_time=now,
            update_time=now,
        )
        for item in data["outlets"]
    ]


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _article_row(item: dict[str, Any], now: datetime, values: dict[str, str]) -> ArticleRow:
    state = ArticleState(item["state"])
    published = None
    if state is ArticleState.PUBLISHED:
        published = now - timedelta(days=item["published_days_ago"])
    created = published or now
    return ArticleRow(
        id=item["id"],
        title=Template(item["title"]).substitute(values),
        summary=Template(item.get("summary", "")).substitute(values),
        body=Template(item["body"].strip()).substitute(values),
        kind=item["kind"],
        state=state.value,
        pinned=item.get("pinned", False),
        publish_time=published,
        create_time=created,
        update_time=created,
    )


def article_rows(now: datetime, path: Path = ARTICLES_FILE) -> list[ArticleRow]:
    """The demo articles as rows seeded at `now`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    # The notices' dates are written in China Standard Time.
    maintenance_day = (now + MAINTENANCE_AFTER).astimezone(CHINA_STANDARD_TIME).date()
    values = {"maintenance_date": _chinese_date(maintenance_day)}
    return [_article_row(item, now, values) for item in data["articles"]]


def _add_missing(session: Session, rows: list[Any], model: type[CareModel]) -> int:
    ids = [row.id for row in rows]
    present = set(session.exec(select(model.id).where(col(model.id).in_(ids))).all())  # type: ignore[attr-defined]
    missing = [row for row in rows if row.id not in present]
    session.add_all(missing)
    session.flush()
    return len(missing)


def seed(session: Session, now: datetime) -> Seeded:
    """Add the demo outlets and articles that are missing."""
    return Seeded(
        outlets=_add_missing(session, outlet_rows(now), OutletRow),
        articles=_add_missing(session, article_rows(now), ArticleRow),
    )
