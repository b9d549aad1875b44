"""How long one DeliverDueMessages call may go on sending what it claimed.

A call claims a batch at once but sends it one delivery after another. It sends the
next one only while

- its caller still waits (a worker killed, or whose deadline passed, reads no answer),
  with time left in the caller's deadline for a whole send (the first send excepted,
  so that every call makes progress), and
- the batch's claim holds for a whole send, so no other caller can have claimed the
  row meanwhile (the claim ends `claim_seconds` after it was made).

What the call did not send it hands back (`DeliveryMethods._release`): due again at
once for the next call, rather than held until the claim lapses.
"""

from __future__ import annotations

import time

import grpc


class SendWindow:
    """Opened right after a claim; asked before each send."""

    def __init__(
        self, context: grpc.ServicerContext, send_seconds: float, claim_seconds: float
    ) -> None:
        self._context = context
        self._send_seconds = send_seconds
        self._claim_end = time.monotonic() + claim_seconds

    def allows(self, sent: int) -> bool:
        """Whether one more send may start, `sent` having been made in this call."""
        if not self._context.is_active():
            return False  # the caller went away or its deadline passed
        if time.monotonic() + self._send_seconds > self._claim_end:
            return False
        if sent == 0:
            return True
        remaining = self._context.time_remaining()
        return remaining is None or remaining >= self._send_seconds
