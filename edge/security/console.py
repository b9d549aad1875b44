"""The back-office web console's static files at `/console/`, as ASGI middleware.

The console is plain files (HTML, ES modules, CSS, one vendored library) that call the
edge's JSON routes on the same origin; the edge serves them from a directory it is
given (the repository's `clients/console/`), so the intranet needs nothing else.

The files are read once, when the edge starts (no disk reads on the event loop; a new
release is a restart, as for the edge's own code), and only those, with a known type,
are served: no directory listings, no `..`. Each answer carries the console's own
Content-Security-Policy: scripts, styles and connections from this origin only, images
also as `data:` (captchas and QR codes), no inline script, no `eval`, no framing.
"""

from __future__ import annotations

from pathlib import Path

from edge.security.headers import App, Receive, Scope, Send

__all__ = ["CONSOLE_CSP", "ConsoleFiles"]

PREFIX = "/console/"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".mjs": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
}


class ConsoleFiles:
    def __init__(self, app: App, directory: Path) -> None:
        self.app = app
        root = directory.resolve()
        self.files: dict[str, tuple[bytes, bytes]] = {
            path.relative_to(root).as_posix(): (_TYPES[path.suffix], path.read_bytes())
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix in _TYPES
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PREFIX.rstrip("/"):
            await _answer(send, 308, [(b"location", PREFIX.encode())], b"", head=False)
            return
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, [(b"allow", b"GET, HEAD")], b"", head=False)
            return
        found = self.files.get(path[len(PREFIX) :] or "index.html")
        if found is None:
            body = b"not found\n"
            await _answer(send, 404, [(b"content-type", b"text/plain")], body, head=False)
            return
        content_type, body = found
        headers = [
            (b"content-type", content_type),
            (b"content-security-policy", CONSOLE_CSP.encode()),
            # Always revalidated: a new release is picked up at the next load.
            (b"cache-control", b"no-cache"),
        ]
        await _answer(send, 200, headers, body, head=scope["method"] == "HEAD")


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, head: bool
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
