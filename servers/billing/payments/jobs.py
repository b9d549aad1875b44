"""The payment jobs, run every few seconds on one background thread per process:
resolve PENDING payments and refunds with the provider, and deliver queued alerts.

Each pass is safe to run on several replicas at once (settlement locks the payment
row, the outbox claims its rows), and a failing part is logged without stopping the
others. `run_once()` is the same pass on the caller's thread (tests, operators).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from servers.billing.payments.outbox import deliver_due
from servers.billing.payments.recovery import resolve_pending as resolve_payments
from servers.billing.payments.refunds import resolve_pending as resolve_refunds

if TYPE_CHECKING:
    from servers.billing.payments.context import PaymentContext

log = logging.getLogger("palmgrid.payments.jobs")


class PaymentJobs:
    """The background loop of one process's payments."""

    def __init__(self, service: PaymentContext) -> None:
        self._service = service
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="payment-jobs", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def run_once(self) -> None:
        """One pass of every job."""
        service = self._service
        for name, job in (
            ("resolve payments", lambda: resolve_payments(service)),
            ("follow refunds", lambda: resolve_refunds(service)),
            ("deliver alerts", lambda: deliver_due(service.runtime, now=service.now())),
        ):
            if self._stop.is_set():
                return
            try:
                job()
            except Exception:
                log.exception("payment job failed", extra={"job": name})

    def _loop(self, interval: float) -> None:
        # The first pass runs at once: after a restart, payments left PENDING by the
        # previous process are resolved before anything else.
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(interval)
