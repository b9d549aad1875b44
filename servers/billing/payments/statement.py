"""The provider's daily statement (trade bill), written by the sandbox and read by the
reconciliation.

The format follows WeChat Pay's trade bill: a CSV whose first line names the columns,
one line per succeeded payment (`交易状态` SUCCESS) or refund (REFUND), every value
prefixed with a backtick (so spreadsheets keep long ids as text), amounts in yuan with
two decimals, times in China Standard Time; then a totals header and a totals line.
Only the columns below are written; the reader finds columns by name and ignores others.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from servers.billing.payments.protocol import ProtocolError
from servers.runtime import CHINA_STANDARD_TIME

COLUMNS = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "微信订单号",
    "商户订单号",
    "交易状态",
    "货币种类",
    "应结订单金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "退款状态",
)
TOTAL_COLUMNS = ("总交易单数", "应结订单总金额", "退款总金额")
PAYMENT = "SUCCESS"
REFUND = "REFUND"
_YUAN = re.compile(r"^([0-9]+)\.([0-9]{2})$")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class StatementRecord:
    """One line of a statement: a succeeded payment or a succeeded refund."""

    kind: str  # PAYMENT ("SUCCESS") or REFUND ("REFUND")
    time: datetime
    transaction_id: str
    out_trade_no: str
    # The payment's amount (fen) on a payment line; the refund's amount on a refund line.
    amount_fen: int
    refund_id: str = ""
    out_refund_no: str = ""


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 1234 → "12.34"."""
    if fen < 0:
        raise ValueError("statement amounts are never negative")
    return f"{fen // 100}.{fen % 100:02d}"


def fen_of(text: str) -> int:
    """Yuan with two decimals as fen, exactly: "12.34" → 1234."""
    match = _YUAN.match(text)
    if not match:
        raise ProtocolError(f"malformed amount {text!r}")
    return int(match.group(1)) * 100 + int(match.group(2))


def write(records: Iterable[StatementRecord], *, app_id: str, merchant_id: str) -> bytes:
    """The statement text (UTF-8) of `records`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = paid = refunded = 0
    for record in records:
        refund = record.kind == REFUND
        row = [
            record.time.astimezone(CHINA_STANDARD_TIME).strftime(_TIME_FORMAT),
            app_id,
            merchant_id,
            record.transaction_id,
            record.out_trade_no,
            record.kind,
            "CNY",
            yuan(0 if refund else record.amount_fen),
            record.refund_id or "0",
            record.out_refund_no or "0",
            yuan(record.amount_fen if refund else 0),
            "SUCCESS" if refund else "",
        ]
        writer.writerow(["`" + value for value in row])
        count += 1
        if refund:
            refunded += record.amount_fen
        else:
            paid += record.amount_fen
    writer.writerow(TOTAL_COLUMNS)
    writer.writerow(["`" + value for value in (str(count), yuan(paid), yuan(refunded))])
    return out.getvalue().encode()


def read(text: bytes) -> list[StatementRecord]:
    """The records of a statement; ProtocolError when it is malformed or its totals do
    not add up."""
    try:
        rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ProtocolError("statement is not UTF-8 CSV") from exc
    if not rows or "商户订单号" not in rows[0]:
        raise ProtocolError("statement has no header line")
    header = rows[0]
    try:
        totals_at = next(i for i, row in enumerate(rows) if row and row[0] == TOTAL_COLUMNS[0])
    except StopIteration:
        raise ProtocolError("statement has no totals") from None
    records = [_record(header, row) for row in rows[1:totals_at] if row]
    totals = [value.lstrip("`") for value in rows[totals_at + 1]]
    paid = sum(r.amount_fen for r in records if r.kind == PAYMENT)
    refunded = sum(r.amount_fen for r in records if r.kind == REFUND)
    if (int(totals[0]), fen_of(totals[1]), fen_of(totals[2])) != (len(records), paid, refunded):
        raise ProtocolError("statement totals do not match its lines")
    return records


def _record(header: list[str], row: list[str]) -> StatementRecord:
    values = dict(zip(header, (value.lstrip("`") for value in row), strict=False))
    try:
        kind = values["交易状态"]
        refund = kind == REFUND
        moment = datetime.strptime(values["交易时间"], _TIME_FORMAT).replace(
            tzinfo=CHINA_STANDARD_TIME
        )
        amount = fen_of(values["退款金额"] if refund else values["应结订单金额"])
        return StatementRecord(
            kind=kind,
            time=moment,
            transaction_id=values["微信订单号"],
            out_trade_no=values["商户订单号"],
            amount_fen=amount,
            refund_id=values["微信退款单号"] if refund else "",
            out_refund_no=values["商户退款单号"] if refund else "",
        )
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"malformed statement line: {exc}") from exc
