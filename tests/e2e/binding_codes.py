"""Binding a customer over the edge as a phone does: ask for the code, read it where
the SMS gateway would take it from (the notification outbox, over its API with the
tests' certificate), and bind with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.runtime import Settings
from tests.e2e.system import CAPTCHA, FAST_ARGON2, TESTER, System, start_system

ACCOUNT_SENDER = "serviceAccounts/account"


def outbox(system: System, template: str, customer: str) -> list[message_pb.Message]:
    """The messages of `template` the account service queued about `customer` (a
    10-digit number), newest first."""
    return outbox_at(system.settings, system.services["notification"].target, template, customer)


def outbox_at(
    settings: Settings, target: str, template: str, customer: str
) -> list[message_pb.Message]:
    """`outbox` of the notification service at `target`, read with `settings`' PKI."""
    credentials = settings.client_credentials(TESTER)
    assert credentials is not None
    with grpc.secure_channel(target, credentials) as channel:
        stub = notification_grpc.NotificationServiceStub(channel)
        reply = stub.ListMessages(
            notification_pb.ListMessagesRequest(sender=ACCOUNT_SENDER, page_size=1000),
            timeout=10,
        )
    return [
        m
        for m in reply.messages
        if m.template == template and m.parameters.get("customer") == customer
    ]


def sent_code(system: System, customer: str) -> str:
    """The code last sent by SMS for binding `customer`."""
    return outbox(system, "binding.code", customer)[0].parameters["code"]


def bind(system: System, client: EdgeClient, customer: str, **kwargs: Any) -> dict[str, Any]:
    """Have a code sent for `customer`, and bind it with that code."""
    client.send_binding_code(customer, captcha_answer=CAPTCHA)
    return client.bind_customer(customer, sent_code(system, customer), **kwargs)


def binding_system(directory: Path, **account_config: Any) -> Iterator[System]:
    """A running system whose account service has these settings (on top of
    FAST_ARGON2), for a module's fixture; stopped when the module is done."""
    running = start_system(directory, account_config=FAST_ARGON2.model_copy(update=account_config))
    yield running
    running.stop()


def refused(call: Callable[[], object]) -> EdgeApiError:
    """The error the edge answers `call` with (the test fails when it succeeds)."""
    with pytest.raises(EdgeApiError) as caught:
        call()
    return caught.value
