"""The floor under any edge written as an ASGI app on this stack: uvicorn exactly as the
edge runs it (uvloop, httptools, the same TLS), serving one fixed body and doing
nothing else — no routing, no stage, no Memcached, no upstream.

    python -m bench.asgi_floor PORT BODY_FILE CERT KEY    # HTTPS
    python -m bench.asgi_floor PORT BODY_FILE             # plain HTTP

bench.edge_cache serves the 24-month `monthlyUsage` body with it, on the edge's CPU,
to show how much of a cache hit's cost is the HTTP server and TLS themselves: no
secure edge on this stack can serve more than this floor.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from edge.server import TlsFiles, make_server


def fixed_body_app(body: bytes) -> Any:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    answer = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(answer)

    return app


def main(argv: list[str]) -> int:
    port, body_file, *tls = argv
    files = TlsFiles(Path(tls[0]), Path(tls[1])) if tls else None
    app = fixed_body_app(Path(body_file).read_bytes())
    make_server(app, "127.0.0.1", int(port), tls=files).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
