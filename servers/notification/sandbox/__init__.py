"""A local sandbox SMS and push gateway (`servers.notification.gateways`' protocol)
that accepts, rejects, fails or delays sends on command, records what it received and
honours each send's idempotency key.

`start_sandbox(...)` runs it in-process; `python -m servers.notification.sandbox` runs
it as its own process (`./dev up`, the tests).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from servers.notification.config import NotificationConfig
from servers.notification.sandbox.behaviour import Behaviour
from servers.notification.sandbox.server import Sandbox
from servers.runtime import Settings

__all__ = ["Behaviour", "Sandbox", "default_journal", "start_sandbox"]


def default_journal(settings: Settings) -> Path:
    """Where the sandbox keeps what it received: under the data directory."""
    return settings.data_dir / "notification-sandbox" / "journal.jsonl"


def start_sandbox(
    settings: Settings,
    config: NotificationConfig,
    *,
    port: int | None = None,
    behaviour: Behaviour | None = None,
    host: str = "127.0.0.1",
    journal: Path | None = None,
) -> Sandbox:
    """Start the sandbox for a PalmGrid configuration. `port` defaults to the port of
    PALMGRID_NOTIFICATION_SMS_GATEWAY_URL (0 picks a free one); `journal` to
    `default_journal(settings)`."""
    if settings.profile == "production":
        raise RuntimeError("the sandbox gateway is not for the production profile")
    if port is None:
        port = urlsplit(config.sms_gateway_url).port or 0
    chosen = journal or default_journal(settings)
    chosen.parent.mkdir(parents=True, exist_ok=True)
    return Sandbox(behaviour=behaviour, host=host, port=port, journal=chosen).start()
