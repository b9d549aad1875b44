"""Where the billing service announces that a customer's data changed.

Billing reads are cached by the edge under the tag `customer/customers/{id}` (see the
cache policies in billing_service.proto). Every write path that changes what those
reads return — archive upserts, readings, recomputed usage and bills, ledger entries
booked outside a tagged RPC — calls `customer_data_changed` after its transaction
commits. This is the single place where the cache invalidation lands: it bumps each
tag through the shared cache-tag library (`cachetags`), so the edge's next read is
fresh. A cache that cannot be reached is logged and skipped: the write has committed,
and entries expire within their bounded TTL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from cachetags.invalidate import TagInvalidator

log = logging.getLogger("palmgrid.billing.changes")


def customer_tag(customer_id: str) -> str:
    """The cache tag of everything read about customer `customer_id`."""
    return f"customer/customers/{customer_id}"


_invalidator: TagInvalidator | None = None
_lock = threading.Lock()


def use_cache(servers: Iterable[str]) -> None:
    """Bump tags in these Memcached servers from now on (billing calls it at start)."""
    global _invalidator
    with _lock:
        _invalidator = TagInvalidator.shared(servers)


def customer_data_changed(customer_ids: Iterable[str]) -> None:
    """Announce, after commit, that these customers' billing data changed."""
    tags = sorted({customer_tag(customer_id) for customer_id in customer_ids})
    if not tags:
        return
    log.debug("customer data changed", extra={"tags": tags[:20], "count": len(tags)})
    invalidator = _invalidator
    if invalidator is not None:
        invalidator.bump(tags)
