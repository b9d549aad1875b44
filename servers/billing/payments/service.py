"""The payments part of a billing process: its context (settings, keys, provider
client, clock: `context.py`) and background jobs, built once per service Runtime
(`payment_service(runtime)`).

The billing service builds it at start-up, which starts the jobs (the resolver that
recovers pending payments after a crash, refund follow-up and the alert outbox); the
method groups (`methods.py`) reach it through `payment_service(self.runtime)`. It closes
with the Runtime: `Runtime.close()` runs its close hooks before disposing the engine, so
no job outlives its database.
Tests build it explicitly with their own settings.
"""

from __future__ import annotations

import logging
import threading

from servers.billing.payments.context import PaymentContext
from servers.billing.payments.jobs import PaymentJobs
from servers.billing.payments.provider import PaymentProvider
from servers.billing.payments.settings import PaymentSettings, load_payment_settings
from servers.runtime import SYSTEM_CLOCK, Clock, Runtime

log = logging.getLogger("palmgrid.payments")

# Every in-app channel and the provider name in its callback URL. The sandbox (and any
# provider speaking the WeChat Pay v3-style protocol) serves all three from one
# endpoint; a provider with its own protocol gets its own `PaymentProvider`.
PROVIDER_OF_CHANNEL = {"WECHAT_PAY": "wechatpay", "ALIPAY": "alipay", "UNIONPAY": "unionpay"}


class PaymentService(PaymentContext):
    """A PaymentContext with its background jobs; `close()` stops them."""

    def __init__(
        self,
        runtime: Runtime,
        settings: PaymentSettings,
        *,
        provider: PaymentProvider | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(runtime, settings, provider=provider, clock=clock)
        self.jobs = PaymentJobs(self)

    def start(self) -> PaymentService:
        """Start the background jobs unless PALMGRID_PAYMENT_JOBS_INTERVAL_SECONDS is 0;
        they stop when the Runtime closes."""
        self.runtime.on_close(self.close)
        if self.settings.jobs_interval_seconds > 0:
            self.jobs.start(self.settings.jobs_interval_seconds)
        return self

    def close(self) -> None:
        """Stop the jobs and the provider client; safe to call more than once."""
        self.jobs.stop()
        self.close_provider()
        with _lock:
            if _services.get(id(self.runtime)) is self:
                del _services[id(self.runtime)]


# One PaymentService per Runtime; it holds the Runtime, so an id is never reused while
# its entry exists.
_services: dict[int, PaymentService] = {}
_lock = threading.Lock()


def payment_service(
    runtime: Runtime, settings: PaymentSettings | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> PaymentService:
    """The runtime's PaymentService, built (with `settings`, else from the environment,
    and `clock`) and started on first use."""
    with _lock:
        service = _services.get(id(runtime))
        if service is None:
            chosen = settings or load_payment_settings(runtime.settings)
            service = PaymentService(runtime, chosen, clock=clock)
            _services[id(runtime)] = service
            service.start()
            log.info(
                "payments ready",
                extra={"provider": chosen.provider_url, "notify_url": service.notify_url},
            )
        return service
