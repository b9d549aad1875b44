"""The sandbox payment provider: a local HTTP server speaking the WeChat Pay v3-style
merchant API (see `servers.billing.payments.protocol`).

Merchant API (requests must carry a valid merchant `Authorization`; JSON answers are
signed with the provider key):

| method and path | what |
|---|---|
| `POST /v3/pay/transactions/app` | create an order → `{"prepay_id"}` |
| `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…` | query an order (the transaction) |
| `POST /v3/pay/transactions/out-trade-no/{no}/close` | close an unpaid order → 204 |
| `POST /v3/refund/domestic/refunds` | refund (part of) a paid order |
| `GET /v3/refund/domestic/refunds/{out_refund_no}` | query a refund |
| `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD` | the day's statement: `download_url`, SHA-256 |
| `GET /v3/billdownload/file?token=…` | the statement text (see `statement.py`) |

Control API for developers and tests (no authentication: bind it to loopback only):
`GET`/`PUT /sandbox/behaviour`, `GET /sandbox/orders`, `POST /sandbox/callbacks:flush`
(deliver held callbacks, newest first).

After an order is created the payer "acts" after `confirm_delay_seconds` as the
behaviour's `outcome` says; a paid order's `TRANSACTION.SUCCESS` callback is then
delivered to its notify URL (`delivery.py`) as the behaviour's `callbacks` says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc

from servers.billing.payments import protocol, statement
from servers.billing.payments.keys import ProviderKeys
from servers.billing.payments.protocol import ProtocolError
from servers.billing.payments.sandbox.behaviour import Behaviour
from servers.billing.payments.sandbox.book import (
    Book,
    Order,
    ProviderFault,
    RefundRecord,
)
from servers.billing.payments.sandbox.delivery import CallbackTransport, Timer
from servers.runtime import CHINA_STANDARD_TIME, SYSTEM_CLOCK, Clock
from servers.runtime.localhttp import SandboxHandler, SandboxHttpServer

log = logging.getLogger("palmgrid.payments.sandbox")

MAX_BODY_BYTES = 65536
AUTH_MAX_SKEW_SECONDS = 300
_OUT_NO = re.compile(r"^[A-Za-z0-9_\-|*]{6,64}$")
_ORDER_PATH = re.compile(r"^/v3/pay/transactions/out-trade-no/([^/]+)$")
_CLOSE_PATH = re.compile(r"^/v3/pay/transactions/out-trade-no/([^/]+)/close$")
_REFUND_PATH = re.compile(r"^/v3/refund/domestic/refunds/([^/]+)$")


class Sandbox:
    """The sandbox provider; `start()` serves it on `host:port` (0: a free port)."""

    def __init__(
        self,
        keys: ProviderKeys,
        *,
        merchant_id: str,
        app_id: str,
        behaviour: Behaviour | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        grpc_credentials: grpc.ChannelCredentials | None = None,
        https_ca_file: Path | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.merchant_id = merchant_id
        self.app_id = app_id
        self.book = Book()
        self._behaviour = behaviour or Behaviour()
        self._behaviour.check()
        self._lock = threading.Lock()
        self._held: list[tuple[str, bytes]] = []
        self._statements: dict[str, bytes] = {}
        self._stopping = threading.Event()
        self._timer: Timer | None = None
        self._transport = CallbackTransport(
            grpc_credentials=grpc_credentials, https_ca_file=https_ca_file
        )
        self._httpd = SandboxHttpServer((host, port), _Handler)
        self._httpd.sandbox = self  # type: ignore[attr-defined]
        self._started = False

    # --- lifecycle ----------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.port

    @property
    def url(self) -> str:
        return self._httpd.url

    def start(self) -> Sandbox:
        self._timer = Timer()
        self._httpd.start("sandbox-http")
        self._started = True
        log.info("sandbox provider serving", extra={"url": self.url})
        return self

    def stop(self) -> None:
        """Stop serving; open keep-alive connections are cut too, as when a provider
        goes away."""
        self._stopping.set()
        self._httpd.stop()
        if self._timer is not None:
            self._timer.stop()
        self._transport.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def serving(self) -> bool:
        """Whether it was started and not stopped."""
        return self._started and not self._stopping.is_set()

    # --- behaviour and control ----------------------------------------------------

    def reset(self, behaviour: Behaviour | None = None) -> None:
        """Forget every order, refund, held callback and statement, and take `behaviour`
        (default: the default behaviour), as a freshly started sandbox."""
        chosen = behaviour or Behaviour()
        chosen.check()
        with self._lock:
            self.book = Book()
            self._held.clear()
            self._statements.clear()
            self._behaviour = chosen

    @property
    def behaviour(self) -> Behaviour:
        with self._lock:
            return self._behaviour

    def set_behaviour(self, behaviour: Behaviour) -> None:
        behaviour.check()
        with self._lock:
            self._behaviour = behaviour

    def update_behaviour(self, **changes: Any) -> Behaviour:
        """Change some behaviour fields for orders created from now on."""
        with self._lock:
            self._behaviour = self._behaviour.updated(changes)
            return self._behaviour

    @property
    def held_callbacks(self) -> int:
        """How many callbacks wait for `flush_callbacks`."""
        with self._lock:
            return len(self._held)

    def flush_callbacks(self, *, reverse: bool = True) -> int:
        """Deliver the held callbacks (newest first unless `reverse` is false); returns
        how many there were."""
        with self._lock:
            held, self._held = self._held, []
        for url, body in reversed(held) if reverse else held:
            self._deliver(url, body, self.behaviour.callback_retry_seconds, 0)
        return len(held)

    def charges(self, out_trade_no: str) -> int:
        """How many times the payer was charged for an order (0 or 1)."""
        with self.book._lock:
            order = self.book.orders.get(out_trade_no)
            return 1 if order is not None and order.charged else 0

    # --- merchant API -------------------------------------------------------------

    def create_order(self, merchant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        out_trade_no = _required(body, "out_trade_no")
        if not _OUT_NO.match(out_trade_no):
            raise ProviderFault(400, "PARAM_ERROR", "out_trade_no 格式错误")
        amount = body.get("amount") or {}
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            raise ProviderFault(400, "PARAM_ERROR", "amount.total 必须为正整数 (分)")
        if body.get("mchid") != merchant_id or body.get("appid") != self.app_id:
            raise ProviderFault(400, "PARAM_ERROR", "mchid 与 appid 不匹配")
        expire = body.get("time_expire")
        request = Order(
            out_trade_no=out_trade_no,
            app_id=self.app_id,
            merchant_id=merchant_id,
            description=str(body.get("description", "")),
            total_fen=total,
            notify_url=_required(body, "notify_url"),
            prepay_id=f"wx{now.strftime('%d%H%M%S')}{secrets.token_hex(12)}",
            behaviour=self.behaviour,
            create_time=now,
            expire_time=protocol.parse_time(expire) if expire else None,
        )
        order, new = self.book.create_order(request)
        if new:
            self._after(order.behaviour.confirm_delay_seconds, lambda: self._confirm(order))
        return {"prepay_id": order.prepay_id}

    def query_order(self, out_trade_no: str) -> dict[str, Any]:
        return self.book.query(out_trade_no, self.clock.now()).document()

    def close_order(self, out_trade_no: str) -> None:
        self.book.close(out_trade_no, self.clock.now())

    def create_refund(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        amount = body.get("amount") or {}
        refund_fen = amount.get("refund")
        if not isinstance(refund_fen, int) or isinstance(refund_fen, bool) or refund_fen <= 0:
            raise ProviderFault(400, "PARAM_ERROR", "amount.refund 必须为正整数 (分)")
        request = RefundRecord(
            out_refund_no=_required(body, "out_refund_no"),
            out_trade_no=_required(body, "out_trade_no"),
            refund_id="",
            amount_fen=refund_fen,
            notify_url=str(body.get("notify_url", "")),
            behaviour=self.behaviour,
            create_time=now,
        )
        order = self.book.query(request.out_trade_no, now)
        if amount.get("total") != order.total_fen:
            raise ProviderFault(400, "PARAM_ERROR", "amount.total 与订单金额不一致")
        refund, new = self.book.create_refund(request, now)
        if new:
            self._after(refund.behaviour.confirm_delay_seconds, lambda: self._finish(refund))
        return refund.document(order)

    def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        refund = self.book.refund(out_refund_no)
        return refund.document(self.book.orders[refund.out_trade_no])

    def trade_bill(self, bill_date: str) -> dict[str, Any]:
        try:
            day = date.fromisoformat(bill_date)
        except ValueError:
            raise ProviderFault(400, "PARAM_ERROR", "bill_date 格式错误") from None
        if day > self.clock.now().astimezone(CHINA_STANDARD_TIME).date():
            raise ProviderFault(400, "INVALID_REQUEST", "账单日期不合法")
        records = self.book.statement(day)
        if not records:
            raise ProviderFault(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        text = statement.write(records, app_id=self.app_id, merchant_id=self.merchant_id)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._statements[token] = text
        return {
            "hash_type": "SHA256",
            "hash_value": hashlib.sha256(text).hexdigest(),
            "download_url": f"{self.url}/v3/billdownload/file?token={token}",
        }

    def statement_file(self, token: str) -> bytes:
        with self._lock:
            text = self._statements.get(token)
        if text is None:
            raise ProviderFault(404, "RESOURCE_NOT_EXISTS", "账单文件不存在")
        return text

    # --- payer and callbacks ------------------------------------------------------

    def _after(self, delay: float, job: Any) -> None:
        if self._timer is not None:
            self._timer.after(delay, job)

    def _confirm(self, order: Order) -> None:
        paid = self.book.settle_order(order.out_trade_no, self.clock.now())
        if paid is None:
            return
        resource = protocol.dumps(paid.document())
        self._notify(
            paid.notify_url,
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            resource,
            paid.behaviour,
        )

    def _finish(self, refund: RefundRecord) -> None:
        done = self.book.settle_refund(refund.out_refund_no, self.clock.now())
        if done is None or not done.notify_url:
            return
        order = self.book.orders[done.out_trade_no]
        event = "REFUND.SUCCESS" if done.status == "SUCCESS" else "REFUND.ABNORMAL"
        resource = protocol.dumps(done.document(order))
        self._notify(done.notify_url, event, "退款结果", "refund", resource, done.behaviour)

    def _notify(
        self,
        url: str,
        event_type: str,
        summary: str,
        kind: str,
        resource: bytes,
        behaviour: Behaviour,
    ) -> None:
        body = protocol.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": protocol.format_time(self.clock.now()),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": protocol.encrypt_resource(
                    self.keys.api_v3_key, resource, associated_data=kind, original_type=kind
                ),
            }
        )
        retries = behaviour.callback_retry_seconds
        if behaviour.callbacks == "none":
            return
        if behaviour.callbacks == "held":
            with self._lock:
                self._held.append((url, body))
            return
        self._deliver(url, body, retries, 0)
        if behaviour.callbacks == "twice":
            # The same result again at about the same time, as a provider does when it
            # did not see the first acknowledgement.
            self._after(0.0, lambda: self._deliver(url, body, retries, 0))

    def _deliver(self, url: str, body: bytes, retries: tuple[float, ...], attempt: int) -> None:
        if self._stopping.is_set():
            return
        headers = protocol.signed_headers(self.keys.private_key, self.keys.serial, body)
        if self._transport.send(url, body, headers):
            return
        if attempt < len(retries):
            self._after(retries[attempt], lambda: self._deliver(url, body, retries, attempt + 1))
        else:
            log.warning("callback given up", extra={"url": url})

    # --- request authentication ---------------------------------------------------

    def authenticate(self, method: str, target: str, body: bytes, authorization: str) -> str:
        """Check a merchant request's signature; returns its merchant id."""
        try:
            params = protocol.parse_authorization(authorization)
        except ProtocolError as exc:
            raise ProviderFault(401, "SIGN_ERROR", str(exc)) from None
        if params["mchid"] != self.merchant_id:
            raise ProviderFault(401, "SIGN_ERROR", "商户号不存在")
        if params["serial_no"].upper() != self.keys.merchant_serial:
            raise ProviderFault(401, "SIGN_ERROR", "商户证书序列号有误")
        try:
            stamped = int(params["timestamp"])
        except ValueError:
            raise ProviderFault(401, "SIGN_ERROR", "时间戳格式错误") from None
        if abs(time.time() - stamped) > AUTH_MAX_SKEW_SECONDS:
            raise ProviderFault(401, "SIGN_ERROR", "请求已过期")
        message = protocol.request_message(
            method, target, params["timestamp"], params["nonce_str"], body
        )
        if not protocol.verify(self.keys.merchant_public_key, message, params["signature"]):
            raise ProviderFault(401, "SIGN_ERROR", "签名错误")
        return params["mchid"]

    def hold_create_response(self, seconds: float) -> None:
        """Keep a create-order answer back (the 'time out' behaviour)."""
        if seconds > 0:
            self._stopping.wait(seconds)


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ProviderFault(400, "PARAM_ERROR", f"缺少参数 {name}")
    return value


class _Handler(SandboxHandler):
    """Routes one HTTP request to the sandbox."""

    server_version = "PalmGridPaymentSandbox/1"

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    def handle_method(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise ProviderFault(413, "PARAM_ERROR", "请求过大")
            body = self.rfile.read(length) if length else b""
            if parts.path.startswith("/sandbox/"):
                self._control(method, parts.path, query, body)
                return
            merchant = self.sandbox.authenticate(
                method, self.path, body, self.headers.get("Authorization", "")
            )
            self._merchant(method, parts.path, query, merchant, body)
        except ProviderFault as fault:
            self._json(fault.status, {"code": fault.code, "message": fault.message})
        except (ProtocolError, ValueError) as exc:
            self._json(400, {"code": "PARAM_ERROR", "message": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the merchant gave up waiting (a timed-out call)

    def _merchant(
        self, method: str, path: str, query: dict[str, str], merchant: str, body: bytes
    ) -> None:
        sandbox = self.sandbox
        if method == "POST" and path == "/v3/pay/transactions/app":
            reply = sandbox.create_order(merchant, protocol.loads(body))
            sandbox.hold_create_response(sandbox.behaviour.create_delay_seconds)
            self._json(200, reply)
        elif method == "GET" and (match := _ORDER_PATH.match(path)):
            self._json(200, sandbox.query_order(match.group(1)))
        elif method == "POST" and (match := _CLOSE_PATH.match(path)):
            sandbox.close_order(match.group(1))
            self._json(204, None)
        elif method == "POST" and path == "/v3/refund/domestic/refunds":
            self._json(200, sandbox.create_refund(protocol.loads(body)))
        elif method == "GET" and (match := _REFUND_PATH.match(path)):
            self._json(200, sandbox.query_refund(match.group(1)))
        elif method == "GET" and path == "/v3/bill/tradebill":
            self._json(200, sandbox.trade_bill(query.get("bill_date", "")))
        elif method == "GET" and path == "/v3/billdownload/file":
            self._raw(200, sandbox.statement_file(query.get("token", "")), "text/csv")
        else:
            raise ProviderFault(404, "NOT_FOUND", f"no such API {method} {path}")

    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        sandbox = self.sandbox
        if path == "/sandbox/behaviour" and method == "GET":
            self._json(200, sandbox.behaviour.to_json(), signed=False)
        elif path == "/sandbox/behaviour" and method == "PUT":
            changes = json.loads(body or b"{}")
            self._json(200, sandbox.update_behaviour(**changes).to_json(), signed=False)
        elif path == "/sandbox/orders" and method == "GET":
            self._json(200, {"orders": sandbox.book.snapshot()}, signed=False)
        elif path == "/sandbox/callbacks:flush" and method == "POST":
            count = sandbox.flush_callbacks(reverse=query.get("reverse", "true") != "false")
            self._json(200, {"delivered": count}, signed=False)
        else:
            raise ProviderFault(404, "NOT_FOUND", f"no such control {method} {path}")

    def _json(self, status: int, document: dict[str, Any] | None, *, signed: bool = True) -> None:
        body = b"" if document is None else protocol.dumps(document)
        headers = {}
        if signed:
            keys = self.sandbox.keys
            headers = protocol.signed_headers(keys.private_key, keys.serial, body)
        headers["Request-ID"] = uuid.uuid4().hex
        self._raw(status, body, "application/json", headers)

    def _raw(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)
