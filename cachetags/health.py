"""Each Memcached node's state, for health endpoints: `UP` when it answers a `version`
now, `DOWN` when it is out of the ring (it failed; the background probe brings it back)
or fails to answer (which takes it out, as any failed call does)."""

from __future__ import annotations

from cachetags.pool import CachePool, CacheUnavailable

__all__ = ["node_states"]


def node_states(pool: CachePool) -> dict[str, str]:
    """`host:port` → `UP` or `DOWN` for every configured node (blocking, ≤ one timeout
    per node)."""
    live = set(pool.live_servers())
    states: dict[str, str] = {}
    for server in pool.servers:
        key = pool._ring._make_client_key(server)
        state = "DOWN"
        if key in live:
            client = pool._ring.clients[key]
            try:
                pool._run_on(client, client.version)
                state = "UP"
            except CacheUnavailable:
                pass
        states[f"{server[0]}:{server[1]}"] = state
    return states
