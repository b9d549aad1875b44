"""A local sandbox payment provider speaking the WeChat Pay v3-style protocol.

`start_sandbox(...)` runs it in-process (tests, `./dev up`);
`python -m servers.billing.payments.sandbox` runs it as its own process.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from servers.billing.payments.keys import ensure_dev_keys, load_provider_keys
from servers.billing.payments.sandbox.behaviour import Behaviour
from servers.billing.payments.sandbox.book import ProviderFault
from servers.billing.payments.sandbox.server import Sandbox
from servers.billing.payments.settings import PaymentSettings
from servers.runtime import Settings
from servers.runtime.service import prepare_dev_material

__all__ = ["Behaviour", "ProviderFault", "Sandbox", "start_sandbox"]


def start_sandbox(
    settings: Settings,
    payment_settings: PaymentSettings,
    *,
    port: int | None = None,
    behaviour: Behaviour | None = None,
    host: str = "127.0.0.1",
) -> Sandbox:
    """Start the sandbox for a PalmGrid configuration: the same key folder (created in
    the dev profile when missing), merchant and app id as billing, and credentials to
    deliver `grpcs://` callbacks with the dev PKI's `edge` certificate. `port` defaults
    to the port of PALMGRID_PAYMENT_PROVIDER_URL; 0 picks a free one."""
    if settings.profile == "production":
        raise RuntimeError("the sandbox payment provider is not for the production profile")
    keys_dir = ensure_dev_keys(payment_settings.keys_path(settings))
    if port is None:
        port = urlsplit(payment_settings.provider_url).port or 0
    credentials = None
    if settings.grpc_security != "plaintext":
        prepare_dev_material(settings)  # the dev PKI, when the sandbox starts first
        credentials = settings.client_credentials("edge")
    ca_file: Path | None = settings.ca_file if settings.ca_file.is_file() else None
    sandbox = Sandbox(
        load_provider_keys(keys_dir),
        merchant_id=payment_settings.merchant_id,
        app_id=payment_settings.app_id,
        behaviour=behaviour,
        host=host,
        port=port,
        grpc_credentials=credentials,
        https_ca_file=ca_file,
    )
    return sandbox.start()
