"""A customer logs in over HTTPS, binds a customer and reads it, cached the second time."""

from __future__ import annotations

from collections.abc import Callable

from clients.edge_client import EdgeClient
from tests.e2e.conftest import demo_customer


def test_customer_reads_balance_through_the_cache(new_customer: Callable[..., EdgeClient]) -> None:
    client = new_customer(1)
    first = client.balance_reply(demo_customer(1))
    second = client.balance_reply(demo_customer(1))
    assert first.json == second.json
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
