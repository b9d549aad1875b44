"""The care tests' support: a real care server on port 0, a clock the tests move (the
runtime's SettableClock), and signed identities to call it as."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.type.v1 import identity_pb2
from servers.care.config import CareConfig
from servers.care.service import make_spec
from servers.runtime import (
    AssertionSigner,
    DomainError,
    Runtime,
    Server,
    SettableClock,
    Settings,
    build_server,
    error_from_rpc,
    load_signer,
)
from tests.audit_log import with_audit_log

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# How far a test moves the clock between two steps that must not share a time.
TICK = timedelta(minutes=1)

EDITOR_PERMISSIONS = (
    "care.articles.search",
    "care.articles.create",
    "care.articles.update",
    "care.articles.publish",
    "care.articles.withdraw",
    "care.outlets.create",
    "care.outlets.update",
    "care.outlets.delete",
)
CUSTOMER_PERMISSIONS = (
    "care.feedback.create",
    "care.feedback.list",
    "care.feedback.get",
    "care.feedback.rate",
    "care.feedback.close",
)


@dataclass
class CareServer:
    """A care server on port 0 with a stub and identities to call it as."""

    server: Server
    port: int
    runtime: Runtime
    channel: grpc.Channel
    signer: AssertionSigner
    clock: SettableClock
    stub: care_service_pb2_grpc.CareServiceStub

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        """Call metadata carrying a fresh assertion for `principal`."""
        return [self.signer.metadata(principal, audience="care", caller="cli")]

    def editor(self, user: str = "users/ed1") -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=user,
                username="editor",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["editor"],
                permissions=EDITOR_PERMISSIONS,
            )
        )

    def customer(self, user: str = "users/c1", *customers: str) -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=user,
                username="customer",
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                roles=["customer"],
                permissions=CUSTOMER_PERMISSIONS,
                customers=[f"customers/{c}" for c in customers],
            )
        )

    def close(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.runtime.close()


def start_care(
    data_dir: Path,
    database_url: str,
    *,
    demo_data: bool = False,
    clock: SettableClock | None = None,
    **settings: Any,
) -> CareServer:
    """Start the care service on port 0 with its database at `database_url`: plaintext
    unless `settings` say otherwise (under mTLS the tests call as the `cli` account)."""
    values: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "plaintext",
        "care_database_url": database_url,
        "log_level": "WARNING",
        **settings,
    }
    chosen = Settings(**values)
    clock = clock or SettableClock(START)
    spec = with_audit_log(make_spec(clock=clock, config=CareConfig(demo_data=demo_data)))
    server, port, runtime = build_server(spec, chosen, address="127.0.0.1:0")
    server.start()
    credentials = chosen.client_credentials("cli")
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.insecure_channel(target)
        if credentials is None
        else grpc.secure_channel(target, credentials)
    )
    signer = load_signer(chosen.identity_dir, chosen.identity_key_id)
    stub = care_service_pb2_grpc.CareServiceStub(channel)
    return CareServer(server, port, runtime, channel, signer, clock, stub)


def fails(call: Callable[[], Any]) -> DomainError:
    """The error `call` fails with, read back as the runtime's class (the test fails
    when the call succeeds)."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return error_from_rpc(caught.value)
