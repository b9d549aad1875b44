"""Masks for sensitive values shown without encryption (palmgrid.options.v1.MaskStyle).

Every mask is idempotent (masking a masked value changes nothing), so a value a server
already masked passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from palmgrid.options.v1 import options_pb2

__all__ = ["mask"]

_FULL = "****"


def _phone(value: str) -> str:
    # 13800000042 → 138****0042
    if len(value) < 8:
        return _FULL
    return f"{value[:3]}****{value[-4:]}"


def _name(value: str) -> str:
    # 张三明 → 张*明, 张三 → 张*
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def _id_number(value: str) -> str:
    # 110101199001011234 → 110101********1234
    if len(value) <= 10:
        return _FULL
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _bank_account(value: str) -> str:
    # 6222021234567890123 → ***************0123
    if len(value) <= 4:
        return _FULL
    return "*" * (len(value) - 4) + value[-4:]


_STYLES: dict[int, Callable[[str], str]] = {
    options_pb2.MASK_STYLE_PHONE: _phone,
    options_pb2.MASK_STYLE_NAME: _name,
    options_pb2.MASK_STYLE_ID_NUMBER: _id_number,
    options_pb2.MASK_STYLE_BANK_ACCOUNT: _bank_account,
}


def mask(value: str, style: int) -> str:
    """The value masked by `style`; unknown, unset and FULL styles hide everything."""
    if not value:
        return value
    return _STYLES.get(style, lambda _: _FULL)(value)
