"""Newest-first pages of ingest's resources (import jobs, quarantined records): keyset
pages by (create_time, id), each token bound to the list's filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import col

from servers.runtime import Runtime, paging

Row = TypeVar("Row")


def newest_first(
    runtime: Runtime, model: type[Row], query: Any, request: Any, filters: Sequence[Any]
) -> tuple[list[Row], str]:
    """One page of `query` (rows of `model`) after `request.page_token`, at most
    `request.page_size` (0: 50); the rows and the next page's token."""
    order = (col(model.create_time), col(model.id))  # type: ignore[attr-defined]
    after = paging.decode_token(request.page_token, list(filters), types=(str, str))
    if after is not None:
        query = query.where(
            paging.descending_after(order, (paging.time_from_key(after[0]), after[1]))
        )
    size = paging.page_size(request.page_size, 50)
    with runtime.session() as session:
        rows = list(session.exec(query.order_by(*(c.desc() for c in order)).limit(size + 1)))
    token = paging.next_page_token(
        rows, size, lambda r: [paging.time_key(r.create_time), r.id], list(filters)
    )
    return rows[:size], token
