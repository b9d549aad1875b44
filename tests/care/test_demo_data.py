"""The dev profile's demo outlets and articles: what CONTRACT.md promises, valid by the
contract's own rules, and seeded once however often the service starts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import resources_pb2 as res
from servers.care.config import CareConfig
from servers.care.models import ArticleRow, OutletRow
from servers.runtime import CHINA_STANDARD_TIME, Settings, SettingsError
from servers.runtime.validation import RequestValidator
from tests.care.support import CareServer, start_care


def all_outlets(care: CareServer) -> list[res.Outlet]:
    request = pb.ListOutletsRequest(page_size=1000, latitude=25.09, longitude=104.89)
    return list(care.stub.ListOutlets(request).outlets)


def counts(care: CareServer) -> tuple[int, int]:
    with care.runtime.session() as session:
        outlets = session.exec(select(func.count()).select_from(OutletRow)).one()
        articles = session.exec(select(func.count()).select_from(ArticleRow)).one()
    return outlets, articles


def test_at_least_twenty_outlets_around_the_bureau(demo_care: CareServer) -> None:
    outlets = all_outlets(demo_care)
    assert len(outlets) >= 20
    distances = [o.distance_meters for o in outlets]
    assert distances == sorted(distances)
    assert distances[0] < 1000 and distances[-1] < 50_000
    assert outlets[0].display_name == "兴义供电局黄草营业厅"
    assert all(o.phone and o.opening_hours and o.services and o.address for o in outlets)


def test_every_demo_outlet_meets_the_contracts_rules(demo_care: CareServer) -> None:
    validator = RequestValidator()
    for outlet in all_outlets(demo_care):
        outlet.ClearField("distance_meters")
        assert validator.violations(pb.CreateOutletRequest(outlet=outlet)) == [], outlet.name


def test_published_articles_with_the_maintenance_notice_pinned(demo_care: CareServer) -> None:
    articles = demo_care.stub.ListArticles(
        pb.ListArticlesRequest(view=res.ARTICLE_VIEW_FULL)
    ).articles
    first = articles[0]
    assert first.pinned and first.kind == res.ARTICLE_KIND_NOTICE
    day = (demo_care.clock.now() + timedelta(days=5)).astimezone(CHINA_STANDARD_TIME).date()
    assert f"{day.year}年{day.month}月{day.day}日" in first.body
    assert {a.kind for a in articles} == {
        res.ARTICLE_KIND_NOTICE,
        res.ARTICLE_KIND_GUIDE,
        res.ARTICLE_KIND_NEWS,
    }
    assert len(articles) >= 4
    times = [a.publish_time.ToDatetime() for a in articles[1:]]
    assert times == sorted(times, reverse=True)


def test_the_demo_draft_is_for_editors_only(demo_care: CareServer) -> None:
    drafts = demo_care.stub.SearchArticles(
        pb.SearchArticlesRequest(state=res.ARTICLE_STATE_DRAFT), metadata=demo_care.editor()
    ).articles
    assert [a.name for a in drafts] == ["articles/summer-peak-safety"]
    public = demo_care.stub.ListArticles(pb.ListArticlesRequest(page_size=100)).articles
    assert "articles/summer-peak-safety" not in {a.name for a in public}


def test_seeding_again_adds_nothing_and_keeps_edits(tmp_path: Path, database_url: str) -> None:
    first = start_care(tmp_path, database_url, demo_data=True)
    try:
        seeded = counts(first)
        first.stub.UpdateOutlet(
            pb.UpdateOutletRequest(
                outlet=res.Outlet(name="outlets/xy-ruijin", phone="0859-3999999")
            ),
            metadata=first.editor(),
        )
    finally:
        first.close()
    again = start_care(tmp_path, database_url, demo_data=True)
    try:
        assert counts(again) == seeded
        assert again.stub.GetOutlet(pb.GetOutletRequest(name="outlets/xy-ruijin")).phone == (
            "0859-3999999"
        )
    finally:
        again.close()


def test_no_demo_data_unless_in_the_dev_profile(tmp_path: Path) -> None:
    # Built without validation: a real production profile needs key material on disk.
    production = Settings.model_construct(profile="production")
    dev = Settings.model_construct(profile="dev")
    assert not CareConfig(demo_data=True).seeds_demo(production)
    assert CareConfig().seeds_demo(dev)
    assert not CareConfig(demo_data=False).seeds_demo(dev)
    running = start_care(tmp_path, f"sqlite:///{tmp_path / 'care.db'}")
    try:
        assert counts(running) == (0, 0)
    finally:
        running.close()


def test_the_demo_switch_reads_true_or_false() -> None:
    assert CareConfig.load({"PALMGRID_CARE_DEMO_DATA": "0"}).demo_data is False
    assert CareConfig.load({"PALMGRID_CARE_DEMO_DATA": "yes"}).demo_data is True
    assert CareConfig.load({}).demo_data is None
    with pytest.raises(SettingsError, match="PALMGRID_CARE_DEMO_DATA"):
        CareConfig.load({"PALMGRID_CARE_DEMO_DATA": "maybe"})
