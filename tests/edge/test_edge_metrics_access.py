"""Who may read the edge's /metrics: direct peers in the allowed networks only."""

from __future__ import annotations

import pytest

from edge.metrics import MetricsAccess

LOOPBACK = MetricsAccess(("127.0.0.1/32", "::1/128"))


@pytest.mark.parametrize(
    ("access", "peer", "headers", "allowed"),
    [
        (LOOPBACK, "127.0.0.1", [], True),
        (LOOPBACK, "::1", [], True),
        (LOOPBACK, "10.0.0.7", [], False),
        # Relayed by a proxy: a phone's request, whatever address it names.
        (LOOPBACK, "127.0.0.1", [(b"x-forwarded-for", b"127.0.0.1")], False),
        (LOOPBACK, None, [], False),
        (LOOPBACK, "not-an-address", [], False),
        (MetricsAccess(()), "127.0.0.1", [], False),
        (MetricsAccess(("10.0.0.0/8",)), "10.2.3.4", [], True),
    ],
)
def test_metrics_access(
    access: MetricsAccess, peer: str | None, headers: list[tuple[bytes, bytes]], allowed: bool
) -> None:
    assert access.allows(peer, headers) is allowed
