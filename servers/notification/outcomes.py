"""What one attempt to send came to, whichever channel made it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ACCEPTED: delivered (or acknowledged as already delivered); FAILED: a temporary
# failure, tried again later; REJECTED: refused for good, not tried again.
Outcome = Literal["ACCEPTED", "FAILED", "REJECTED"]


@dataclass(frozen=True)
class SendResult:
    """An attempt's answer: the outcome, the receipt (a gateway message id or an inbox
    message name), whether the key had been seen before, and what went wrong."""

    outcome: Outcome
    receipt: str = ""
    duplicate: bool = False
    error: str = ""
