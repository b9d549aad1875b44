"""The article writes of CareService, for content editors: write a draft, change it,
publish it, withdraw it.

Access (`care.articles.*`) and auditing come from the methods' declared options and
are enforced by the runtime (which writes each call's audit record; a withdrawal adds
its reason); these methods hold the logic. Publishing takes effect at
once (there is no scheduled publication), so the edge can drop its cached article
lists at the moment the public view changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from servers.care.article_resources import (
    UPDATABLE,
    apply_fields,
    article_id,
    article_resource,
)
from servers.care.models import ArticleRow, ArticleState
from servers.runtime import (
    Clock,
    FailedPrecondition,
    NotFound,
    Runtime,
    audit_note,
    require_principal,
)
from servers.runtime.etags import check_etag
from servers.runtime.idempotency import insert_once
from servers.runtime.ids import new_id
from servers.runtime.update_masks import fields_to_update


def _get_row(session: Session, name: str) -> ArticleRow:
    row = session.get(ArticleRow, article_id(name), with_for_update=True)
    if row is None:
        raise NotFound(f"{name} not found")
    return row


class ArticleEditingMethods:
    """CreateArticle, UpdateArticle, PublishArticle, WithdrawArticle."""

    runtime: Runtime
    clock: Clock

    def _save(self, session: Session, row: ArticleRow, now: datetime) -> resources_pb2.Article:
        """Store a change to `row`: a new version, changed at `now`."""
        row.version += 1
        row.update_time = now
        session.add(row)
        session.flush()
        return article_resource(row)

    def CreateArticle(
        self, request: care_service_pb2.CreateArticleRequest, context: Any
    ) -> resources_pb2.Article:
        author = require_principal().user
        now = self.clock.now()
        # Title, body and kind (required by the request rules) come from the request below.
        row = ArticleRow(
            id=new_id(),
            title="",
            body="",
            kind="",
            state=ArticleState.DRAFT.value,
            author=author,
            create_time=now,
            update_time=now,
        )
        apply_fields(row, request.article, UPDATABLE)
        return insert_once(
            self.runtime, request, row, resource=article_resource, find=_get_row, clock=self.clock
        )

    def UpdateArticle(
        self, request: care_service_pb2.UpdateArticleRequest, context: Any
    ) -> resources_pb2.Article:
        change = request.article
        fields = fields_to_update(request.update_mask, change, UPDATABLE)
        with self.runtime.session(write=True) as session:
            row = _get_row(session, change.name)
            check_etag(change.etag, change.name, row.version)
            if not fields:
                return article_resource(row)
            apply_fields(row, change, fields)
            return self._save(session, row, self.clock.now())

    def PublishArticle(
        self, request: care_service_pb2.PublishArticleRequest, context: Any
    ) -> resources_pb2.Article:
        with self.runtime.session(write=True) as session:
            row = _get_row(session, request.name)
            check_etag(request.etag, request.name, row.version)
            if row.state == ArticleState.PUBLISHED.value:
                raise FailedPrecondition(f"{request.name} is already published")
            now = self.clock.now()
            row.state = ArticleState.PUBLISHED.value
            row.publish_time = now
            row.withdraw_time = None
            row.withdraw_reason = ""
            return self._save(session, row, now)

    def WithdrawArticle(
        self, request: care_service_pb2.WithdrawArticleRequest, context: Any
    ) -> resources_pb2.Article:
        with self.runtime.session(write=True) as session:
            row = _get_row(session, request.name)
            if row.state != ArticleState.PUBLISHED.value:
                raise FailedPrecondition(f"{request.name} is not published")
            now = self.clock.now()
            row.state = ArticleState.WITHDRAWN.value
            row.withdraw_time = now
            row.withdraw_reason = request.reason
            audit_note().details = {"reason": request.reason}
            return self._save(session, row, now)
