"""The services a service under test talks to, really started beside it: billing (the
customer archive), account (users, the audit log) and notification (the outbox), under
the given settings and one clock, each on its own SQLite file, filled by the caller."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import delete

from servers.account.config import AccountConfig
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.billing.service import make_spec as billing_spec
from servers.notification import models as notification_models
from servers.notification.config import NotificationConfig
from servers.notification.service import make_spec as notification_spec
from servers.runtime import Runtime, SettableClock, Settings
from tests.account import services
from tools.ports import free_port


@dataclass
class Neighbours:
    billing: services.Running
    account: services.Running
    notification: services.Running

    def targets(self) -> dict[str, Any]:
        """The settings that point a service at them."""
        return {
            "billing_target": self.billing.target,
            "account_target": self.account.target,
            "notification_target": self.notification.target,
        }


def start_neighbours(
    stack: ExitStack,
    data_dir: Path,
    common: dict[str, Any],
    clock: SettableClock,
    *,
    fill_billing: Callable[[Runtime], None],
    fill_account: Callable[[Runtime], None],
    gateway_url: str = "http://127.0.0.1:1",
) -> Neighbours:
    """Billing (without demo data, filled by `fill_billing`), account (fast hashing,
    filled by `fill_account`) and notification (its gateways at `gateway_url`), each
    stopped when `stack` closes."""
    # Billing writes the audit records of its audited methods to account, which starts
    # after it (it asks billing about bindings): account's address is chosen first.
    account_address = f"127.0.0.1:{free_port()}"
    billing = services.start(
        "billing",
        Settings(
            **common,
            billing_database_url=f"sqlite:///{data_dir / 'billing.db'}",
            account_target=account_address,
        ),
        billing_spec(BillingConfig(demo_data=False)),
    )
    stack.callback(services.stop, billing)
    fill_billing(billing.runtime)
    account = services.start(
        "account",
        Settings(
            **common,
            account_database_url=f"sqlite:///{data_dir / 'account.db'}",
            billing_target=billing.target,
        ),
        account_spec(
            config=AccountConfig(
                demo_data=False,
                argon2_time_cost=1,
                argon2_memory_kib=1024,
                argon2_parallelism=1,
            ),
            clock=clock,
        ),
        address=account_address,
    )
    stack.callback(services.stop, account)
    fill_account(account.runtime)
    notification = services.start(
        "notification",
        Settings(
            **common,
            notification_database_url=f"sqlite:///{data_dir / 'notification.db'}",
            account_target=account.target,
        ),
        notification_spec(
            clock=clock,
            config=NotificationConfig(sms_gateway_url=gateway_url, push_gateway_url=gateway_url),
        ),
    )
    stack.callback(services.stop, notification)
    return Neighbours(billing, account, notification)


def empty_outbox(notification: services.Running) -> None:
    """Remove every message of the outbox, with its deliveries and attempts."""
    with notification.runtime.session(write=True) as session:
        for table in (
            notification_models.EventSendRow,
            notification_models.AttemptRow,
            notification_models.DeliveryRow,
            notification_models.MessageRow,
        ):
            session.exec(delete(table))  # type: ignore[call-overload]
