"""Articles over gRPC: drafts by editors, publish and withdraw, the public list and page
(published only, pinned first, newest first), the editors' search, and who may write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from google.protobuf import field_mask_pb2

from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import resources_pb2 as res
from tests.care.support import TICK, CareServer, fails

NOTICE = res.ARTICLE_KIND_NOTICE
NEWS = res.ARTICLE_KIND_NEWS


def draft(
    care: CareServer, title: str, kind: res.ArticleKind.ValueType = NOTICE, **fields: Any
) -> res.Article:
    article = res.Article(title=title, body=f"{title}的正文", kind=kind, **fields)
    return care.stub.CreateArticle(pb.CreateArticleRequest(article=article), metadata=care.editor())


def publish(care: CareServer, article: res.Article) -> res.Article:
    return care.stub.PublishArticle(
        pb.PublishArticleRequest(name=article.name), metadata=care.editor()
    )


def published(care: CareServer, title: str, **fields: Any) -> res.Article:
    """A draft published a minute after the previous change."""
    care.clock.advance(timedelta(minutes=1))
    return publish(care, draft(care, title, **fields))


def public_titles(care: CareServer, **request: Any) -> list[str]:
    answer = care.stub.ListArticles(pb.ListArticlesRequest(page_size=100, **request))
    return [a.title for a in answer.articles]


def get_public(care: CareServer, name: str) -> res.Article:
    return care.stub.GetArticle(pb.GetArticleRequest(name=name))


def search(care: CareServer, **request: Any) -> list[res.Article]:
    answer = care.stub.SearchArticles(
        pb.SearchArticlesRequest(page_size=100, **request), metadata=care.editor()
    )
    return list(answer.articles)


def test_a_new_article_is_a_draft_written_by_the_caller(care: CareServer) -> None:
    made = draft(care, "停电公告")
    assert made.state == res.ARTICLE_STATE_DRAFT
    assert made.author == "users/ed1"
    assert not made.HasField("publish_time")


def test_drafts_are_hidden_from_the_public_and_shown_to_editors(care: CareServer) -> None:
    made = draft(care, "草稿")
    assert public_titles(care) == []
    assert fails(lambda: get_public(care, made.name)).reason == "NOT_FOUND"
    # Even an editor gets NOT_FOUND from the public (globally cached) method.
    editor_get = fails(
        lambda: care.stub.GetArticle(pb.GetArticleRequest(name=made.name), metadata=care.editor())
    )
    assert editor_get.reason == "NOT_FOUND"
    assert [a.title for a in search(care)] == ["草稿"]


def test_publishing_shows_the_article_with_its_publish_time(care: CareServer) -> None:
    made = draft(care, "电价调整公告")
    care.clock.advance(timedelta(hours=2))
    done = publish(care, made)
    assert done.state == res.ARTICLE_STATE_PUBLISHED
    assert done.publish_time.ToDatetime() == care.clock.now().replace(tzinfo=None)
    assert public_titles(care) == ["电价调整公告"]
    assert get_public(care, made.name).body == "电价调整公告的正文"


def test_withdrawing_hides_it_and_it_may_be_published_again(care: CareServer) -> None:
    done = published(care, "旧公告")
    withdrawn = care.stub.WithdrawArticle(
        pb.WithdrawArticleRequest(name=done.name, reason="内容有误"), metadata=care.editor()
    )
    assert withdrawn.state == res.ARTICLE_STATE_WITHDRAWN
    assert withdrawn.withdraw_reason == "内容有误"
    assert public_titles(care) == []
    assert fails(lambda: get_public(care, done.name)).reason == "NOT_FOUND"
    [found] = search(care, state=res.ARTICLE_STATE_WITHDRAWN)
    assert found.name == done.name
    care.clock.advance(TICK)
    again = publish(care, withdrawn)
    assert again.state == res.ARTICLE_STATE_PUBLISHED
    assert not again.HasField("withdraw_time") and again.withdraw_reason == ""
    assert again.publish_time.ToDatetime() > done.publish_time.ToDatetime()


def test_wrong_states_fail_the_precondition(care: CareServer) -> None:
    done = published(care, "公告")
    twice = fails(lambda: publish(care, done))
    assert (twice.code.name, twice.reason) == ("FAILED_PRECONDITION", "FAILED_PRECONDITION")
    made = draft(care, "草稿")
    withdraw_draft = fails(
        lambda: care.stub.WithdrawArticle(
            pb.WithdrawArticleRequest(name=made.name, reason="不需要"), metadata=care.editor()
        )
    )
    assert withdraw_draft.code.name == "FAILED_PRECONDITION"


def test_publishing_a_changed_article_with_an_old_etag_aborts(care: CareServer) -> None:
    made = draft(care, "公告")
    care.stub.UpdateArticle(
        pb.UpdateArticleRequest(article=res.Article(name=made.name, title="公告（修订）")),
        metadata=care.editor(),
    )
    stale = fails(
        lambda: care.stub.PublishArticle(
            pb.PublishArticleRequest(name=made.name, etag=made.etag), metadata=care.editor()
        )
    )
    assert stale.code.name == "ABORTED"


def test_pinned_first_then_newest_first(care: CareServer) -> None:
    published(care, "一月新闻", kind=NEWS)
    published(care, "置顶公告", pinned=True)
    published(care, "三月新闻", kind=NEWS)
    published(care, "四月新闻", kind=NEWS)
    assert public_titles(care) == ["置顶公告", "四月新闻", "三月新闻", "一月新闻"]
    assert public_titles(care, kind=NEWS) == ["四月新闻", "三月新闻", "一月新闻"]


def test_public_pages_walk_every_article_once(care: CareServer) -> None:
    for k in range(5):
        published(care, f"公告{k}", pinned=k == 2)
    seen: list[str] = []
    token = ""
    while True:
        page = care.stub.ListArticles(pb.ListArticlesRequest(page_size=2, page_token=token))
        seen += [a.title for a in page.articles]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["公告2", "公告4", "公告3", "公告1", "公告0"]


def test_lists_leave_out_the_body_unless_asked(care: CareServer) -> None:
    published(care, "公告", summary="摘要")
    [basic] = care.stub.ListArticles(pb.ListArticlesRequest()).articles
    assert (basic.summary, basic.body) == ("摘要", "")
    full = care.stub.ListArticles(pb.ListArticlesRequest(view=res.ARTICLE_VIEW_FULL)).articles
    assert full[0].body == "公告的正文"


def test_update_changes_a_published_article_at_once(care: CareServer) -> None:
    done = published(care, "公告")
    care.clock.advance(TICK)
    change = res.Article(name=done.name, title="新标题", summary="不改")
    updated = care.stub.UpdateArticle(
        pb.UpdateArticleRequest(
            article=change, update_mask=field_mask_pb2.FieldMask(paths=["title"])
        ),
        metadata=care.editor(),
    )
    assert (updated.title, updated.summary, updated.state) == (
        "新标题",
        "",
        res.ARTICLE_STATE_PUBLISHED,
    )
    assert get_public(care, done.name).title == "新标题"


def test_search_filters_by_state_kind_and_title_newest_change_first(care: CareServer) -> None:
    published(care, "Power Cut Notice")
    care.clock.advance(TICK)
    draft(care, "停电检修公告")
    care.clock.advance(TICK)
    draft(care, "供电局新闻", kind=NEWS)
    assert [a.title for a in search(care)] == ["供电局新闻", "停电检修公告", "Power Cut Notice"]
    drafts = search(care, state=res.ARTICLE_STATE_DRAFT, kind=NOTICE)
    assert [a.title for a in drafts] == ["停电检修公告"]
    assert [a.title for a in search(care, query="停电")] == ["停电检修公告"]
    assert [a.title for a in search(care, query="power cut")] == ["Power Cut Notice"]
    assert search(care, query="100%") == []


def test_search_pages_are_bound_to_their_filters(care: CareServer) -> None:
    for k in range(3):
        care.clock.advance(TICK)
        draft(care, f"草稿{k}")
    first = care.stub.SearchArticles(pb.SearchArticlesRequest(page_size=2), metadata=care.editor())
    rest = care.stub.SearchArticles(
        pb.SearchArticlesRequest(page_size=2, page_token=first.next_page_token),
        metadata=care.editor(),
    )
    assert [a.title for a in [*first.articles, *rest.articles]] == ["草稿2", "草稿1", "草稿0"]
    assert rest.next_page_token == ""
    other = fails(
        lambda: care.stub.SearchArticles(
            pb.SearchArticlesRequest(page_token=first.next_page_token, query="草稿"),
            metadata=care.editor(),
        )
    )
    assert other.reason == "INVALID_ARGUMENT"


def test_a_customer_may_not_write_or_search_articles(care: CareServer) -> None:
    request = pb.CreateArticleRequest(article=res.Article(title="t", body="b", kind=NOTICE))
    denied = fails(lambda: care.stub.CreateArticle(request, metadata=care.customer()))
    assert (denied.code.name, denied.reason) == ("PERMISSION_DENIED", "PERMISSION_DENIED")
    searched = fails(
        lambda: care.stub.SearchArticles(pb.SearchArticlesRequest(), metadata=care.customer())
    )
    assert searched.reason == "PERMISSION_DENIED"
    assert fails(lambda: care.stub.CreateArticle(request)).code.name == "UNAUTHENTICATED"
