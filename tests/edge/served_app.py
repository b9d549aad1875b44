"""A small ASGI app served by the edge's own server (`make_server`, plain HTTP on
loopback) inside a test's event loop: what the server does, apart from the edge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from edge.server import make_server
from tools.ports import free_port

Scope = dict[str, Any]
Http = Callable[[Scope, Any, Any], Awaitable[None]]


def with_lifespan(http: Http) -> Http:
    """`http` as a whole ASGI app: lifespan events answered (make_server turns them on)."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await http(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return app


@asynccontextmanager
async def served(http: Http) -> AsyncIterator[int]:
    """The port `http` is served on until the block ends."""
    port = free_port()
    server = make_server(with_lifespan(http), "127.0.0.1", port, tls=None)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await serving
