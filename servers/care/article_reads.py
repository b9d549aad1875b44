"""The article reads of CareService: the public list and page of published articles,
and the editors' search over every state.

ListArticles and GetArticle are public and cached by the edge for everyone, so they
never return anything but published articles: a draft or withdrawn article is
NOT_FOUND there even for editors, who find it with SearchArticles.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from servers.care.article_resources import article_id, article_resource, kind_name, state_name
from servers.care.models import ArticleRow, ArticleState
from servers.runtime import NotFound, Runtime, paging

FULL = resources_pb2.ARTICLE_VIEW_FULL

_COLUMNS = ArticleRow.__table__.c  # type: ignore[attr-defined]
# Public order: pinned first, then newest publication first; ties by id.
_PUBLIC_ORDER = (_COLUMNS.pinned, _COLUMNS.publish_time, _COLUMNS.id)
# Editors' order: most recently changed first; ties by id.
_CHANGED_ORDER = (_COLUMNS.update_time, _COLUMNS.id)


def _page(
    runtime: Runtime, query: SelectOfScalar[ArticleRow], size: int
) -> tuple[list[ArticleRow], bool]:
    """The first `size` rows of `query` and whether more follow."""
    with runtime.session() as session:
        rows = list(session.exec(query.limit(size + 1)).all())
    return rows[:size], len(rows) > size


class ArticleReadMethods:
    """ListArticles, GetArticle, SearchArticles."""

    runtime: Runtime

    def ListArticles(
        self, request: care_service_pb2.ListArticlesRequest, context: Any
    ) -> care_service_pb2.ListArticlesResponse:
        kind = kind_name(request.kind) if request.kind else None
        filters = [kind]
        query = select(ArticleRow).where(ArticleRow.state == ArticleState.PUBLISHED.value)
        if kind is not None:
            query = query.where(ArticleRow.kind == kind)
        after = paging.decode_token(request.page_token, filters, types=(bool, str, str))
        if after is not None:
            pinned, published, last_id = after
            key = (pinned, paging.time_from_key(published), last_id)
            query = query.where(paging.descending_after(_PUBLIC_ORDER, key))
        query = query.order_by(*(c.desc() for c in _PUBLIC_ORDER))
        size = paging.page_size(request.page_size)
        rows, more = _page(self.runtime, query, size)
        next_token = ""
        if more:
            last = rows[-1]
            assert last.publish_time is not None  # published articles always have one
            key_out = [last.pinned, paging.time_key(last.publish_time), last.id]
            next_token = paging.encode_token(key_out, filters)
        return care_service_pb2.ListArticlesResponse(
            articles=[article_resource(r, with_body=request.view == FULL) for r in rows],
            next_page_token=next_token,
        )

    def GetArticle(
        self, request: care_service_pb2.GetArticleRequest, context: Any
    ) -> resources_pb2.Article:
        with self.runtime.session() as session:
            row = session.get(ArticleRow, article_id(request.name))
        # A draft answers like a missing article, so its existence does not leak.
        if row is None or row.state != ArticleState.PUBLISHED.value:
            raise NotFound(f"{request.name} not found")
        return article_resource(row)

    def SearchArticles(
        self, request: care_service_pb2.SearchArticlesRequest, context: Any
    ) -> care_service_pb2.SearchArticlesResponse:
        state = state_name(request.state) if request.state else None
        kind = kind_name(request.kind) if request.kind else None
        text = request.query.strip().lower()
        filters = [state, kind, text]
        query = select(ArticleRow)
        if state is not None:
            query = query.where(ArticleRow.state == state)
        if kind is not None:
            query = query.where(ArticleRow.kind == kind)
        if text:
            # lower() on both sides: LIKE is case-insensitive on SQLite, not on PostgreSQL.
            query = query.where(func.lower(ArticleRow.title).contains(text, autoescape=True))
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(_CHANGED_ORDER, key))
        query = query.order_by(*(c.desc() for c in _CHANGED_ORDER))
        rows, more = _page(self.runtime, query, paging.page_size(request.page_size))
        next_token = ""
        if more:
            last = rows[-1]
            next_token = paging.encode_token([paging.time_key(last.update_time), last.id], filters)
        return care_service_pb2.SearchArticlesResponse(
            articles=[article_resource(r, with_body=request.view == FULL) for r in rows],
            next_page_token=next_token,
        )
