"""The payment-provider adapter: billing's client of the provider's merchant API.

`PaymentProvider` is the seam the rest of payments uses; `WechatPayV3Client` implements
it over HTTP with the protocol in `protocol.py` (the sandbox speaks the same). Errors
say what billing may conclude:

    ProviderError
     ├── ProviderUnreachable     not connected: the provider saw nothing
     ├── ProviderOutcomeUnknown  sent, but no usable answer (timeout, 5xx, dropped
     │                           connection): ask again later, never assume either way
     └── ProviderRejected        the provider refused it (HTTP 4xx with a code)
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx

from servers.billing.payments import protocol, statement
from servers.billing.payments.keys import MerchantKeys
from servers.billing.payments.protocol import ProtocolError
from servers.billing.payments.statement import StatementRecord


class ProviderError(Exception):
    """A provider call that did not give an answer billing can act on as success."""


class ProviderUnreachable(ProviderError):
    """The request never reached the provider."""


class ProviderOutcomeUnknown(ProviderError):
    """The request may or may not have taken effect at the provider."""


class ProviderRejected(ProviderError):
    """The provider answered with an error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ProviderTransaction:
    """An order as the provider reports it (query answer or callback resource)."""

    out_trade_no: str
    transaction_id: str
    # NOTPAY, USERPAYING, SUCCESS, REFUND (paid, then refunded), CLOSED, REVOKED, PAYERROR
    trade_state: str
    total_fen: int
    merchant_id: str
    app_id: str
    success_time: datetime | None

    @property
    def paid(self) -> bool:
        """Whether the payer's money was taken (a later refund does not undo that)."""
        return self.trade_state in ("SUCCESS", "REFUND")

    @property
    def failed(self) -> bool:
        """Whether the order can no longer be paid."""
        return self.trade_state in ("CLOSED", "REVOKED", "PAYERROR")

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ProviderTransaction:
        """Read a transaction document; ProtocolError when fields are missing."""
        try:
            amount = document["amount"]
            success = document.get("success_time")
            return cls(
                out_trade_no=str(document["out_trade_no"]),
                transaction_id=str(document.get("transaction_id") or ""),
                trade_state=str(document["trade_state"]),
                total_fen=_fen(amount["total"]),
                merchant_id=str(document["mchid"]),
                app_id=str(document["appid"]),
                success_time=protocol.parse_time(success) if success else None,
            )
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"transaction lacks {exc}") from None


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider reports it."""

    out_refund_no: str
    out_trade_no: str
    refund_id: str
    # PROCESSING, SUCCESS, CLOSED, ABNORMAL
    status: str
    amount_fen: int
    success_time: datetime | None

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ProviderRefund:
        try:
            success = document.get("success_time")
            status = document.get("status") or document["refund_status"]
            return cls(
                out_refund_no=str(document["out_refund_no"]),
                out_trade_no=str(document["out_trade_no"]),
                refund_id=str(document.get("refund_id") or ""),
                status=str(status),
                amount_fen=_fen(document["amount"]["refund"]),
                success_time=protocol.parse_time(success) if success else None,
            )
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"refund lacks {exc}") from None


def _fen(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"amount {value!r} is not integer fen")
    return value


class PaymentProvider(Protocol):
    """What payments need from a provider. Amounts are fen; times aware datetimes."""

    def create_order(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        expire_time: datetime,
        notify_url: str,
    ) -> str:
        """Place an order; returns its prepay id. Placing the same order again returns
        the same prepay id (the provider keys orders by `out_trade_no`)."""
        ...

    def checkout_payload(self, prepay_id: str) -> str:
        """The JSON the app hands to the provider's SDK to let the payer confirm."""
        ...

    def query_order(self, out_trade_no: str) -> ProviderTransaction | None:
        """The order as the provider has it; None when the provider has no such order."""
        ...

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order so it can no longer be paid."""
        ...

    def create_refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> ProviderRefund:
        """Ask for a refund; asking again with the same `out_refund_no` is one refund."""
        ...

    def query_refund(self, out_refund_no: str) -> ProviderRefund | None:
        """The refund as the provider has it; None when unknown."""
        ...

    def statement(self, day: date) -> list[StatementRecord]:
        """The provider's statement of `day` (China Standard Time)."""
        ...


class WechatPayV3Client:
    """`PaymentProvider` over the WeChat Pay v3-style merchant API."""

    def __init__(
        self,
        base_url: str,
        *,
        merchant_id: str,
        app_id: str,
        keys: MerchantKeys,
        timeout: float,
        max_skew_seconds: float = 300,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.app_id = app_id
        self.keys = keys
        self._max_skew = max_skew_seconds
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    # --- orders --------------------------------------------------------------------

    def create_order(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        expire_time: datetime,
        notify_url: str,
    ) -> str:
        document = self._call(
            "POST",
            "/v3/pay/transactions/app",
            {
                "appid": self.app_id,
                "mchid": self.merchant_id,
                "description": description,
                "out_trade_no": out_trade_no,
                "time_expire": protocol.format_time(expire_time),
                "notify_url": notify_url,
                "amount": {"total": amount_fen, "currency": "CNY"},
            },
        )
        prepay_id = document.get("prepay_id") if document else None
        if not isinstance(prepay_id, str) or not prepay_id:
            raise ProviderOutcomeUnknown("order answer without prepay_id")
        return prepay_id

    def checkout_payload(self, prepay_id: str) -> str:
        timestamp, nonce = str(int(time.time())), protocol.new_nonce()
        message = f"{self.app_id}\n{timestamp}\n{nonce}\n{prepay_id}\n".encode()
        return json.dumps(
            {
                "appid": self.app_id,
                "partnerid": self.merchant_id,
                "prepayid": prepay_id,
                "package": "Sign=WXPay",
                "noncestr": nonce,
                "timestamp": timestamp,
                "sign": protocol.sign(self.keys.private_key, message),
            },
            separators=(",", ":"),
        )

    def query_order(self, out_trade_no: str) -> ProviderTransaction | None:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}"
        try:
            document = self._call("GET", path, query={"mchid": self.merchant_id})
        except ProviderRejected as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return None
            raise
        if document is None:
            raise ProviderOutcomeUnknown("empty query answer")
        return ProviderTransaction.from_document(document)

    def close_order(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
        self._call("POST", path, {"mchid": self.merchant_id})

    # --- refunds -------------------------------------------------------------------

    def create_refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> ProviderRefund:
        document = self._call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "reason": reason[:80],
                "notify_url": notify_url,
                "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            },
        )
        if document is None:
            raise ProviderOutcomeUnknown("empty refund answer")
        return ProviderRefund.from_document(document)

    def query_refund(self, out_refund_no: str) -> ProviderRefund | None:
        try:
            document = self._call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")
        except ProviderRejected as exc:
            if exc.code == "RESOURCE_NOT_EXISTS":
                return None
            raise
        if document is None:
            raise ProviderOutcomeUnknown("empty refund answer")
        return ProviderRefund.from_document(document)

    # --- statements ----------------------------------------------------------------

    def statement(self, day: date) -> list[StatementRecord]:
        try:
            bill = self._call(
                "GET",
                "/v3/bill/tradebill",
                query={"bill_date": day.isoformat(), "bill_type": "ALL"},
            )
        except ProviderRejected as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return []  # no trade that day
            raise
        if bill is None or "download_url" not in bill:
            raise ProviderOutcomeUnknown("statement answer without download_url")
        url = urlsplit(str(bill["download_url"]))
        target = f"{url.path}?{url.query}" if url.query else url.path
        text = self._send("GET", target, b"").content
        if bill.get("hash_type") != "SHA256" or hashlib.sha256(text).hexdigest() != bill.get(
            "hash_value"
        ):
            raise ProtocolError("statement does not match its hash")
        return statement.read(text)

    # --- transport -----------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One signed API call; the verified JSON answer (None when empty)."""
        target = f"{path}?{urlencode(query)}" if query else path
        payload = protocol.dumps(body) if body is not None else b""
        reply = self._send(method, target, payload)
        try:
            protocol.verify_signed(
                reply.headers,
                reply.content,
                public_key=self.keys.provider_public_key,
                serial=self.keys.provider_serial,
                max_skew_seconds=self._max_skew,
            )
        except ProtocolError as exc:
            # An answer we cannot trust says nothing about what happened.
            raise ProviderOutcomeUnknown(f"unverifiable answer: {exc}") from exc
        document = protocol.loads(reply.content) if reply.content else None
        if reply.status_code >= 400:
            code = str((document or {}).get("code", "UNKNOWN"))
            message = str((document or {}).get("message", ""))
            raise ProviderRejected(reply.status_code, code, message)
        return document

    def _send(self, method: str, target: str, payload: bytes) -> httpx.Response:
        headers = {
            "Authorization": protocol.authorization(
                merchant_id=self.merchant_id,
                serial=self.keys.serial,
                private_key=self.keys.private_key,
                method=method,
                target=target,
                body=payload,
            ),
            "Accept": "application/json",
        }
        if payload:
            headers["Content-Type"] = "application/json"
        try:
            reply = self._http.request(method, target, content=payload, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderUnreachable(f"provider not reachable: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ProviderOutcomeUnknown(f"no answer from the provider: {exc}") from exc
        if reply.status_code >= 500:
            raise ProviderOutcomeUnknown(f"provider error {reply.status_code}")
        return reply
