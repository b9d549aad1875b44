"""`palm articles`: notices, news and guides for the app, written as Markdown files."""

from __future__ import annotations

import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.message import Message

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.care.v1.resources_pb2 import Article, ArticleKind, ArticleState, ArticleView

group = typer.Typer(
    name="articles", help="Notices, news and guides shown in the app.", no_args_is_help=True
)
STUB = care_service_pb2_grpc.CareServiceStub
ArticleName = Annotated[str, typer.Argument(help="the article, `articles/ID` or ID")]
SUMMARY_MAX = 500


class Kind(StrEnum):
    notice = "notice"
    news = "news"
    guide = "guide"


class State(StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


def from_markdown(text: str) -> tuple[str, str, str]:
    """(title, summary, body) of a Markdown file: the title is its first `# ` heading,
    the body everything after it, the summary the body's first paragraph."""
    lines = text.strip().splitlines()
    title = ""
    if lines and lines[0].startswith("# "):
        title = lines.pop(0)[2:].strip()
    body = "\n".join(lines).strip()
    first = body.split("\n\n", 1)[0].replace("\n", " ").strip()
    return title, first[:SUMMARY_MAX], body


def _article_call(method: str, request: Message) -> Article:
    reply: Article = call("care", STUB, method, request)
    return reply


def article_panel(a: Article) -> object:
    return output.fields(
        a.name,
        [
            ("title", a.title),
            ("kind", output.enum_label(ArticleKind.Name(a.kind), "ARTICLE_KIND_")),
            ("state", output.enum_label(ArticleState.Name(a.state), "ARTICLE_STATE_")),
            ("pinned", "yes" if a.pinned else ""),
            ("summary", a.summary),
            ("published", output.when(a.publish_time)),
            ("withdrawn", output.when(a.withdraw_time)),
            ("withdraw reason", a.withdraw_reason),
            ("updated", output.when(a.update_time)),
        ],
    )


@group.command()
def create(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="the article as Markdown")
    ],
    kind: Annotated[Kind, typer.Option("--kind")] = Kind.notice,
    title: Annotated[str, typer.Option("--title", help="else the file's `# ` heading")] = "",
    summary: Annotated[str, typer.Option("--summary", help="else its first paragraph")] = "",
    pinned: Annotated[bool, typer.Option("--pinned", help="keep it at the top")] = False,
    as_json: output.JsonFlag = False,
) -> None:
    """Write a draft from a Markdown file (publish it with `palm articles publish`).

    Example: `palm articles create notice.md --kind notice`
    """
    heading, first_paragraph, body = from_markdown(file.read_text(encoding="utf-8"))
    if not (title or heading):
        raise typer.BadParameter("no `# ` heading in the file: give --title", param_hint="FILE")
    article = Article(
        title=title or heading,
        summary=summary or first_paragraph,
        body=body,
        kind=ArticleKind.Value("ARTICLE_KIND_" + kind.value.upper()),
        pinned=pinned,
    )
    request = pb.CreateArticleRequest(article=article, request_id=str(uuid.uuid4()))
    created = _article_call("CreateArticle", request)
    output.show(created, as_json, lambda: article_panel(created))


@group.command()
def publish(article: ArticleName, as_json: output.JsonFlag = False) -> None:
    """Publish a draft: the app shows it from now on.

    Example: `palm articles publish ID`
    """
    request = pb.PublishArticleRequest(name=output.resource("articles", article))
    published = _article_call("PublishArticle", request)
    output.show(published, as_json, lambda: article_panel(published))


@group.command()
def withdraw(
    article: ArticleName,
    reason: Annotated[str, typer.Option("--reason")],
    as_json: output.JsonFlag = False,
) -> None:
    """Withdraw a published article from the app.

    Example: `palm articles withdraw ID --reason "superseded"`
    """
    request = pb.WithdrawArticleRequest(name=output.resource("articles", article), reason=reason)
    withdrawn = _article_call("WithdrawArticle", request)
    output.show(withdrawn, as_json, lambda: article_panel(withdrawn))


@group.command("list")
def list_articles(
    state: Annotated[State | None, typer.Option("--state", help="drafts too, or only them")] = None,
    kind: Annotated[Kind | None, typer.Option("--kind")] = None,
    query: Annotated[str, typer.Option("--query", help="words in the title or text")] = "",
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List articles in any state (drafts included), newest first.

    Example: `palm articles list --state draft`
    """
    request = pb.SearchArticlesRequest(
        state=ArticleState.Value("ARTICLE_STATE_" + state.value.upper())
        if state
        else ArticleState.ARTICLE_STATE_UNSPECIFIED,
        kind=ArticleKind.Value("ARTICLE_KIND_" + kind.value.upper())
        if kind
        else ArticleKind.ARTICLE_KIND_UNSPECIFIED,
        query=query,
        view=ArticleView.ARTICLE_VIEW_BASIC,
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.SearchArticlesResponse = call("care", STUB, "SearchArticles", request)
    rows = [
        (
            a.name.removeprefix("articles/"),
            output.enum_label(ArticleKind.Name(a.kind), "ARTICLE_KIND_"),
            output.enum_label(ArticleState.Name(a.state), "ARTICLE_STATE_"),
            output.when(a.publish_time, zone=False),
            a.title,
        )
        for a in reply.articles
    ]
    columns = ["article", "kind", "state", "published", "title"]
    output.show_page(reply, as_json, "articles", columns, rows)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
