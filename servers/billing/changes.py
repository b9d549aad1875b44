"""Where the billing service announces that a customer's data changed.

Billing reads are cached by the edge under the tag `customer/customers/{id}` (see the
cache policies in billing_service.proto). Every write path that changes what those
reads return — archive upserts, readings, recomputed usage and bills, ledger entries
booked outside a tagged RPC — calls `customer_data_changed` after its transaction
commits. This is the single place where the cache invalidation lands: it will bump
each tag through the shared cache-tag library once that exists; until then it only
logs at DEBUG, and callers need no change when it starts doing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger("palmgrid.billing.changes")


def customer_tag(customer_id: str) -> str:
    """The cache tag of everything read about customer `customer_id`."""
    return f"customer/customers/{customer_id}"


def customer_data_changed(customer_ids: Iterable[str]) -> None:
    """Announce, after commit, that these customers' billing data changed."""
    tags = sorted({customer_tag(customer_id) for customer_id in customer_ids})
    if tags:
        log.debug("customer data changed", extra={"tags": tags[:20], "count": len(tags)})
