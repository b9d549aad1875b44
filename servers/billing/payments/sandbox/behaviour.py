"""How the sandbox provider behaves: what happens to an order and to its callbacks.

Read when an order is created (later changes do not affect orders already taken). The
dev default confirms every order after about a second with one callback; tests and
developers change it with `PUT /sandbox/behaviour` or the `--outcome`-style flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

# What the payer does: pay (SUCCESS), fail at the bank (PAYERROR), or never pay (the
# order stays NOTPAY until it expires or is closed).
Outcome = Literal["succeed", "decline", "never"]
# How result callbacks are sent: once; twice (the same result delivered again, as a
# provider retrying a lost acknowledgement does); not at all (only a query finds the
# result); or held until `flush` delivers them, newest first (out of order).
CallbackMode = Literal["once", "twice", "none", "held"]

OUTCOMES: tuple[str, ...] = ("succeed", "decline", "never")
CALLBACK_MODES: tuple[str, ...] = ("once", "twice", "none", "held")


@dataclass(frozen=True)
class Behaviour:
    """The sandbox's behaviour for new orders and refunds. Times are seconds."""

    outcome: Outcome = "succeed"
    # The payer pays (or fails) this long after the order is created.
    confirm_delay_seconds: float = 1.0
    # Creating an order answers after this long (the order is taken at once): longer
    # than the merchant's timeout makes the call time out with the order placed.
    create_delay_seconds: float = 0.0
    callbacks: CallbackMode = "once"
    # Delays between delivery attempts of a callback that was not acknowledged; after
    # the last one the callback is given up (WeChat Pay retries over 24 hours).
    callback_retry_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0, 180.0)

    def updated(self, changes: Mapping[str, Any]) -> Behaviour:
        """A copy with `changes` (JSON field names) applied; ValueError when invalid."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown behaviour fields: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if "callback_retry_seconds" in values:
            values["callback_retry_seconds"] = tuple(
                float(x) for x in values["callback_retry_seconds"]
            )
        for name in ("confirm_delay_seconds", "create_delay_seconds"):
            if name in values:
                values[name] = float(values[name])
        updated = replace(self, **values)
        updated.check()
        return updated

    def check(self) -> None:
        """ValueError unless every field has an allowed value."""
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if self.callbacks not in CALLBACK_MODES:
            raise ValueError(f"callbacks must be one of {', '.join(CALLBACK_MODES)}")
        delays = (self.confirm_delay_seconds, self.create_delay_seconds)
        if min(delays) < 0 or any(d < 0 for d in self.callback_retry_seconds):
            raise ValueError("delays must not be negative")

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["callback_retry_seconds"] = list(self.callback_retry_seconds)
        return document
