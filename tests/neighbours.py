"""The services a service under test talks to, started for real: billing, account and
notification under the same settings and clock, each on a SQLite file of its own, no
demo data. The caller fills billing's archive and account's users as its tests need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.account.config import AccountConfig
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.billing.service import make_spec as billing_spec
from servers.notification.config import NotificationConfig
from servers.notification.service import make_spec as notification_spec
from servers.runtime import SettableClock, Settings
from tests.account import services

# Argon2 parameters cheap enough for tests.
FAST_ARGON2: dict[str, int] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
}


@dataclass(frozen=True)
class Neighbours:
    billing: services.Running
    account: services.Running
    notification: services.Running


@contextmanager
def running_neighbours(
    data_dir: Path, common: dict[str, Any], clock: SettableClock, *, gateway_url: str
) -> Iterator[Neighbours]:
    """Billing, account (asking billing) and notification (asking account, sending to
    the SMS and push gateways at `gateway_url`) with the settings `common`; account and
    notification on `clock`."""
    with ExitStack() as stack:
        billing = services.start(
            "billing",
            Settings(**common, billing_database_url=f"sqlite:///{data_dir / 'billing.db'}"),
            billing_spec(BillingConfig(demo_data=False)),
        )
        stack.callback(services.stop, billing)
        account = services.start(
            "account",
            Settings(
                **common,
                account_database_url=f"sqlite:///{data_dir / 'account.db'}",
                billing_target=billing.target,
            ),
            account_spec(config=AccountConfig(demo_data=False, **FAST_ARGON2), clock=clock),
        )
        stack.callback(services.stop, account)
        notification = services.start(
            "notification",
            Settings(
                **common,
                notification_database_url=f"sqlite:///{data_dir / 'notification.db'}",
                account_target=account.target,
            ),
            notification_spec(
                clock=clock,
                config=NotificationConfig(
                    sms_gateway_url=gateway_url, push_gateway_url=gateway_url
                ),
            ),
        )
        stack.callback(services.stop, notification)
        yield Neighbours(billing, account, notification)
