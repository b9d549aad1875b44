"""Test-only fault points: PALMGRID_PAYMENT_FAULT names one, and the process exits at
once when it gets there, as a power cut or `kill -9` would stop it. The tests use them
to prove that a payment interrupted at that point is recovered. The production profile
refuses the setting."""

from __future__ import annotations

import logging
import os
import sys

from servers.billing.payments.settings import FaultPoint, PaymentSettings

log = logging.getLogger("palmgrid.payments")

# The exit status of a process killed by SIGKILL, as a shell reports it.
CRASH_STATUS = 137


def reach(settings: PaymentSettings, point: FaultPoint) -> None:
    """Exit the process without any cleanup if `point` is the configured fault."""
    if settings.fault != point:
        return
    log.critical("fault point reached: exiting now", extra={"fault": point})
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(CRASH_STATUS)
