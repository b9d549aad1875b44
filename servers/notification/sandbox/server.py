"""The sandbox SMS and push gateway: a local HTTP server speaking the protocol of
`servers.notification.gateways`.

| method and path | what |
|---|---|
| `POST /v1/sms` | `{"phone", "text"}` with `Idempotency-Key` → `{"messageId", "duplicate"}` |
| `POST /v1/push` | `{"tokens", "title", "text"}` with `Idempotency-Key` → the same |

Control API for developers and tests (no authentication: bind it to loopback only):
`GET`/`PUT /sandbox/behaviour` (`{"mode": "accept|reject|fail|delay", "delay_seconds"}`),
`GET /sandbox/messages` (`{"received": […], "delivered": […]}`, see `book.py`),
`POST /sandbox/reset`.

A phone number that is not a mainland mobile number (11 digits from 1), a push without
tokens and a send without an idempotency key are refused with 400 whatever the
behaviour; they are not recorded.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from servers.notification.gateways import IDEMPOTENCY_HEADER, PUSH_PATH, SMS_PATH
from servers.notification.sandbox.behaviour import Behaviour
from servers.notification.sandbox.book import Book, Entry
from servers.runtime.localhttp import SandboxHandler, SandboxHttpServer

log = logging.getLogger("palmgrid.notification.sandbox")

MAX_BODY_BYTES = 65536
_PHONE = re.compile(r"^1[0-9]{10}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class GatewayFault(Exception):
    """A 4xx answer with a code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Sandbox:
    """The sandbox gateway; `start()` serves it on `host:port` (0: a free port)."""

    def __init__(
        self,
        *,
        behaviour: Behaviour | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        journal: Path | None = None,
    ) -> None:
        self.book = Book(journal)
        self._behaviour = behaviour or Behaviour()
        self._behaviour.check()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = SandboxHttpServer((host, port), _Handler)
        self._httpd.sandbox = self  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        return self._httpd.port

    @property
    def url(self) -> str:
        return self._httpd.url

    def start(self) -> Sandbox:
        self._httpd.start("gateway-sandbox")
        return self

    def stop(self) -> None:
        """Stop serving; open connections are cut too, as when a gateway goes away."""
        self._stopping.set()
        self._httpd.stop()

    @property
    def behaviour(self) -> Behaviour:
        with self._lock:
            return self._behaviour

    def update_behaviour(self, **changes: Any) -> Behaviour:
        with self._lock:
            self._behaviour = self._behaviour.updated(changes)
            return self._behaviour

    def send(self, channel: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Take one send; the HTTP status and JSON answer."""
        if not _KEY.match(key):
            raise GatewayFault(
                400, "MISSING_IDEMPOTENCY_KEY", f"{IDEMPOTENCY_HEADER} 缺失或格式错误"
            )
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise GatewayFault(400, "INVALID_PARAMETER", "缺少 text")
        if channel == "sms":
            phone = body.get("phone")
            if not isinstance(phone, str) or not _PHONE.match(phone):
                raise GatewayFault(400, "INVALID_NUMBER", "手机号码格式错误")
            to, title = [phone], ""
        else:
            tokens = body.get("tokens")
            if (
                not isinstance(tokens, list)
                or not tokens
                or not all(isinstance(t, str) for t in tokens)
            ):
                raise GatewayFault(400, "INVALID_TOKEN", "缺少推送令牌")
            to, title = list(tokens), str(body.get("title", ""))
        behaviour = self.behaviour
        refuse = {"reject": "rejected", "fail": "failed"}.get(behaviour.mode)
        entry = self.book.take(channel, key, to, title, text, refuse=refuse)  # type: ignore[arg-type]
        if behaviour.mode == "delay" and behaviour.delay_seconds > 0:
            self._stopping.wait(behaviour.delay_seconds)
        return _answer(entry)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _answer(entry: Entry) -> tuple[int, dict[str, Any]]:
    if entry.outcome == "rejected":
        return 400, {"code": "REJECTED", "message": "网关拒绝发送"}
    if entry.outcome == "failed":
        return 503, {"code": "UNAVAILABLE", "message": "网关暂时不可用"}
    return 200, {"messageId": entry.message_id, "duplicate": entry.outcome == "duplicate"}


class _Handler(SandboxHandler):
    """Routes one HTTP request to the sandbox."""

    server_version = "PalmGridGatewaySandbox/1"

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    def handle_method(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise GatewayFault(413, "TOO_LARGE", "请求过大")
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise GatewayFault(400, "INVALID_PARAMETER", "请求体必须是 JSON 对象")
            self._json(*self._route(method, self.path, body))
        except GatewayFault as fault:
            self._json(fault.status, {"code": fault.code, "message": fault.message})
        except ValueError as exc:
            self._json(400, {"code": "INVALID_PARAMETER", "message": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting (a timed-out call)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        sandbox = self.sandbox
        key = self.headers.get(IDEMPOTENCY_HEADER, "")
        if method == "POST" and path == SMS_PATH:
            return sandbox.send("sms", key, body)
        if method == "POST" and path == PUSH_PATH:
            return sandbox.send("push", key, body)
        if path == "/sandbox/behaviour" and method == "GET":
            return 200, sandbox.behaviour.to_json()
        if path == "/sandbox/behaviour" and method == "PUT":
            return 200, sandbox.update_behaviour(**body).to_json()
        if path == "/sandbox/messages" and method == "GET":
            return 200, sandbox.book.snapshot()
        if path == "/sandbox/reset" and method == "POST":
            sandbox.book.reset()
            return 200, {}
        raise GatewayFault(404, "NOT_FOUND", f"no such API {method} {path}")

    def _json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
