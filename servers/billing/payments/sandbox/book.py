"""The sandbox provider's book: its orders and refunds, held in memory, thread-safe.

It decides what the provider answers (an order created twice under one `out_trade_no`
is one order; a paid order cannot be paid, closed or created again) and what it later
reports in callbacks, queries and statements. Every order can be charged at most once.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from servers.billing.payments.protocol import format_time
from servers.billing.payments.sandbox.behaviour import Behaviour
from servers.billing.payments.statement import PAYMENT, REFUND, StatementRecord
from servers.runtime import CHINA_STANDARD_TIME


class ProviderFault(Exception):
    """An error answer of the provider API: HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Order:
    """One order (a transaction once paid)."""

    out_trade_no: str
    app_id: str
    merchant_id: str
    description: str
    total_fen: int
    notify_url: str
    prepay_id: str
    behaviour: Behaviour
    create_time: datetime
    expire_time: datetime | None = None
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: datetime | None = None
    refunded_fen: int = 0
    # Create calls that named this out_trade_no (a retried create is not a new order).
    create_requests: int = 1
    # Left out of statements (tests use it to make the provider and ledger disagree).
    hidden_from_statement: bool = False

    def same_request(self, other: Order) -> bool:
        return (self.total_fen, self.description, self.app_id) == (
            other.total_fen,
            other.description,
            other.app_id,
        )

    @property
    def charged(self) -> bool:
        """Whether the payer's money was taken."""
        return self.trade_state in ("SUCCESS", "REFUND")

    def document(self) -> dict[str, Any]:
        """The transaction as the query API and the callback resource show it."""
        paid = self.charged
        document: dict[str, Any] = {
            "appid": self.app_id,
            "mchid": self.merchant_id,
            "out_trade_no": self.out_trade_no,
            "transaction_id": self.transaction_id,
            "trade_type": "APP",
            "trade_state": self.trade_state,
            "trade_state_desc": _STATE_TEXT[self.trade_state],
            "bank_type": "OTHERS" if paid else "",
            "attach": "",
            "payer": {"openid": "oPalmGridSandboxPayer"},
            "amount": {
                "total": self.total_fen,
                "payer_total": self.total_fen if paid else 0,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        if self.success_time is not None:
            document["success_time"] = format_time(self.success_time)
        return document


_STATE_TEXT = {
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
    "PAYERROR": "支付失败",
}


@dataclass
class RefundRecord:
    """One refund of a paid order."""

    out_refund_no: str
    out_trade_no: str
    refund_id: str
    amount_fen: int
    notify_url: str
    behaviour: Behaviour
    create_time: datetime
    status: str = "PROCESSING"
    success_time: datetime | None = None

    def document(self, order: Order) -> dict[str, Any]:
        document: dict[str, Any] = {
            "mchid": order.merchant_id,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "status": self.status,
            "refund_status": self.status,
            "create_time": format_time(self.create_time),
            "amount": {
                "total": order.total_fen,
                "refund": self.amount_fen,
                "payer_total": order.total_fen,
                "payer_refund": self.amount_fen,
                "currency": "CNY",
            },
        }
        if self.success_time is not None:
            document["success_time"] = format_time(self.success_time)
        return document


@dataclass
class Book:
    """Orders and refunds by merchant number."""

    orders: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, RefundRecord] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def create_order(self, request: Order) -> tuple[Order, bool]:
        """Take an order; returns it and whether it is new. Creating an order again with
        the same parameters returns the first one (the same prepay id)."""
        with self._lock:
            existing = self.orders.get(request.out_trade_no)
            if existing is None:
                self.orders[request.out_trade_no] = request
                return request, True
            existing.create_requests += 1
            if existing.charged:
                raise ProviderFault(400, "ORDERPAID", "该订单已支付")
            if existing.trade_state == "CLOSED":
                raise ProviderFault(400, "ORDER_CLOSED", "该订单已关闭")
            if not existing.same_request(request):
                raise ProviderFault(400, "INVALID_REQUEST", "商户订单号重复, 参数不一致")
            return existing, False

    def settle_order(self, out_trade_no: str, now: datetime) -> Order | None:
        """The payer acts on the order as its behaviour says; returns the order when it
        was charged now (a callback is due), else None."""
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None or order.trade_state != "NOTPAY":
                return None
            if order.expire_time is not None and now >= order.expire_time:
                order.trade_state = "CLOSED"
                return None
            if order.behaviour.outcome == "decline":
                order.trade_state = "PAYERROR"
                return None
            if order.behaviour.outcome == "never":
                return None
            order.trade_state = "SUCCESS"
            order.transaction_id = self._new_id("4200", now)
            order.success_time = now.replace(microsecond=0)
            return order

    def query(self, out_trade_no: str, now: datetime) -> Order:
        """The order, closed first if it expired unpaid; ProviderFault when unknown."""
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None:
                raise ProviderFault(404, "ORDER_NOT_EXIST", "订单不存在")
            if (
                order.trade_state == "NOTPAY"
                and order.expire_time is not None
                and now >= order.expire_time
            ):
                order.trade_state = "CLOSED"
            return order

    def close(self, out_trade_no: str, now: datetime) -> None:
        """Close an unpaid order so it can no longer be paid."""
        with self._lock:
            order = self.query(out_trade_no, now)
            if order.charged:
                raise ProviderFault(400, "ORDERPAID", "该订单已支付")
            order.trade_state = "CLOSED"

    def create_refund(self, request: RefundRecord, now: datetime) -> tuple[RefundRecord, bool]:
        """Take a refund of a paid order; returns it and whether it is new."""
        with self._lock:
            existing = self.refunds.get(request.out_refund_no)
            if existing is not None:
                if existing.amount_fen != request.amount_fen:
                    raise ProviderFault(400, "INVALID_REQUEST", "退款单号重复, 参数不一致")
                return existing, False
            order = self.query(request.out_trade_no, now)
            if not order.charged:
                raise ProviderFault(400, "INVALID_REQUEST", "订单未支付")
            if order.refunded_fen + request.amount_fen > order.total_fen:
                raise ProviderFault(400, "INVALID_REQUEST", "退款金额超过订单可退金额")
            request.refund_id = self._new_id("5030", now)
            order.refunded_fen += request.amount_fen
            order.trade_state = "REFUND"
            self.refunds[request.out_refund_no] = request
            return request, True

    def settle_refund(self, out_refund_no: str, now: datetime) -> RefundRecord | None:
        """Complete a PROCESSING refund as its behaviour says; returns it when done."""
        with self._lock:
            refund = self.refunds.get(out_refund_no)
            if refund is None or refund.status != "PROCESSING":
                return None
            if refund.behaviour.outcome == "never":
                return None
            if refund.behaviour.outcome == "decline":
                refund.status = "ABNORMAL"
                order = self.orders[refund.out_trade_no]
                order.refunded_fen -= refund.amount_fen
            else:
                refund.status = "SUCCESS"
            refund.success_time = now.replace(microsecond=0)
            return refund

    def refund(self, out_refund_no: str) -> RefundRecord:
        with self._lock:
            refund = self.refunds.get(out_refund_no)
            if refund is None:
                raise ProviderFault(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return refund

    def statement(self, day: date) -> list[StatementRecord]:
        """Succeeded payments and refunds of `day` (China Standard Time), by time."""
        records: list[StatementRecord] = []
        with self._lock:
            for order in self.orders.values():
                if (
                    order.success_time is not None
                    and not order.hidden_from_statement
                    and order.success_time.astimezone(CHINA_STANDARD_TIME).date() == day
                ):
                    records.append(
                        StatementRecord(
                            kind=PAYMENT,
                            time=order.success_time,
                            transaction_id=order.transaction_id,
                            out_trade_no=order.out_trade_no,
                            amount_fen=order.total_fen,
                        )
                    )
            for refund in self.refunds.values():
                if (
                    refund.status == "SUCCESS"
                    and refund.success_time is not None
                    and refund.success_time.astimezone(CHINA_STANDARD_TIME).date() == day
                ):
                    order = self.orders[refund.out_trade_no]
                    records.append(
                        StatementRecord(
                            kind=REFUND,
                            time=refund.success_time,
                            transaction_id=order.transaction_id,
                            out_trade_no=order.out_trade_no,
                            amount_fen=refund.amount_fen,
                            refund_id=refund.refund_id,
                            out_refund_no=refund.out_refund_no,
                        )
                    )
        return sorted(records, key=lambda r: (r.time, r.out_trade_no, r.out_refund_no))

    def snapshot(self) -> list[dict[str, Any]]:
        """Every order, for the sandbox's inspection endpoint and tests."""
        with self._lock:
            return [
                {
                    "out_trade_no": o.out_trade_no,
                    "trade_state": o.trade_state,
                    "transaction_id": o.transaction_id,
                    "total": o.total_fen,
                    "refunded": o.refunded_fen,
                    "create_requests": o.create_requests,
                }
                for o in self.orders.values()
            ]

    def _new_id(self, prefix: str, now: datetime) -> str:
        day = now.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")
        return f"{prefix}{day}{next(self._serial):08d}{secrets.randbelow(10**8):08d}"
