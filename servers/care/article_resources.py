"""Articles between their rows and the `palmgrid.care.v1.Article` resource."""

from __future__ import annotations

from collections.abc import Iterable

from palmgrid.care.v1 import resources_pb2
from servers.care.models import ArticleRow
from servers.runtime.etags import etag
from servers.runtime.ids import Collection
from servers.runtime.protoconv import timestamp

ARTICLES = Collection("articles")

# The fields UpdateArticle may change (its update_mask rule lists the same).
UPDATABLE = ("title", "summary", "body", "kind", "pinned", "cover_image_uri")


article_name = ARTICLES.name
article_id = ARTICLES.id


def kind_name(value: int) -> str:
    """The stored name of an ArticleKind value ("NOTICE")."""
    return resources_pb2.ArticleKind.Name(value).removeprefix("ARTICLE_KIND_")  # type: ignore[arg-type]


def kind_value(name: str) -> resources_pb2.ArticleKind.ValueType:
    return resources_pb2.ArticleKind.Value(f"ARTICLE_KIND_{name}")


def state_name(value: int) -> str:
    """The stored name of an ArticleState value ("PUBLISHED")."""
    return resources_pb2.ArticleState.Name(value).removeprefix("ARTICLE_STATE_")  # type: ignore[arg-type]


def state_value(name: str) -> resources_pb2.ArticleState.ValueType:
    return resources_pb2.ArticleState.Value(f"ARTICLE_STATE_{name}")


def article_resource(row: ArticleRow, *, with_body: bool = True) -> resources_pb2.Article:
    """The Article of a row; lists in ARTICLE_VIEW_BASIC leave out the body."""
    name = article_name(row.id)
    return resources_pb2.Article(
        name=name,
        title=row.title,
        summary=row.summary,
        body=row.body if with_body else "",
        kind=kind_value(row.kind),
        state=state_value(row.state),
        pinned=row.pinned,
        cover_image_uri=row.cover_image_uri,
        author=row.author,
        publish_time=timestamp(row.publish_time),
        withdraw_time=timestamp(row.withdraw_time),
        withdraw_reason=row.withdraw_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        etag=etag(name, row.version),
    )


def apply_fields(row: ArticleRow, article: resources_pb2.Article, fields: Iterable[str]) -> None:
    """Copy `fields` (names from UPDATABLE) of `article` onto `row`."""
    for field in fields:
        if field == "kind":
            row.kind = kind_name(article.kind)
        else:
            setattr(row, field, getattr(article, field))
