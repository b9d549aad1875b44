"""What every payment operation needs: the runtime, the payment settings, the merchant
keys, the provider client, the notify URL and the clock.

`PaymentService` (`service.py`) is a PaymentContext that also runs the background jobs
(`jobs.py`). The jobs and the work they do (`recovery.py`, `refunds.py`) take a
PaymentContext, so they sit below the service that runs them and import it nowhere.
"""

from __future__ import annotations

from datetime import datetime

from servers.billing.payments.keys import ensure_dev_keys, load_merchant_keys
from servers.billing.payments.provider import PaymentProvider, WechatPayV3Client
from servers.billing.payments.settings import PaymentSettings
from servers.runtime import SYSTEM_CLOCK, Clock, Runtime


class PaymentContext:
    """The settings, keys, provider and clock of one billing process's payments."""

    def __init__(
        self,
        runtime: Runtime,
        settings: PaymentSettings,
        *,
        provider: PaymentProvider | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        keys_dir = settings.keys_path(runtime.settings)
        if runtime.settings.profile == "dev":
            ensure_dev_keys(keys_dir)
        self.keys = load_merchant_keys(keys_dir)
        self._client: WechatPayV3Client | None = None
        if provider is None:
            self._client = WechatPayV3Client(
                settings.provider_url,
                merchant_id=settings.merchant_id,
                app_id=settings.app_id,
                keys=self.keys,
                timeout=settings.provider_timeout_seconds,
                max_skew_seconds=settings.callback_max_skew_seconds,
            )
            provider = self._client
        self.provider: PaymentProvider = provider
        self.notify_url = settings.notify_url_for(runtime.settings)
        self.clock = clock

    def now(self) -> datetime:
        """The current time (UTC) as payments see it."""
        return self.clock.now()

    def close_provider(self) -> None:
        """Close the provider client this context opened (not one it was given)."""
        if self._client is not None:
            self._client.close()
