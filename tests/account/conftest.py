"""Fixtures for the account service tests: the real service on port 0 over mTLS, with a
settable clock, cheap Argon2 parameters and the dev captcha; clients that register,
log in and exchange tokens for assertions as the edge does.

`account` runs on SQLite; `account_any_db` runs a test on SQLite and on PostgreSQL.
`start_account(**settings)` starts another instance (other settings, same keys).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from palmgrid.account.v1 import (
    account_admin_service_pb2_grpc,
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
    account_service_pb2,
    account_service_pb2_grpc,
)
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account.config import AccountConfig
from servers.account.service import make_spec
from servers.runtime import Runtime, Server, SettableClock, Settings, build_server
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import METADATA_KEY, ensure_key_pair

CAPTCHA = "PALM7"
DEV_PASSWORD = "Palm-dev-2026!"
GOOD_PASSWORD = "Tide-pool-88!"
FAST_ARGON2 = AccountConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key material shared by every test: dev PKI, identity keys, pepper."""
    directory = tmp_path_factory.mktemp("palmgrid")
    ensure_dev_pki(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    return directory


def base_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "account_database_url": database_url,
        "grpc_security": "mtls",
        "dev_captcha": CAPTCHA,
        "grpc_max_workers": 8,
        **overrides,
    }
    return Settings(**values)


def channel_as(settings: Settings, port: int, account: str) -> grpc.Channel:
    """An mTLS channel presenting service account `account`'s certificate."""
    credentials = settings.client_credentials(account)
    assert credentials is not None
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials)


@dataclass
class Account:
    """A running account service and clients of it."""

    server: Server
    port: int
    runtime: Runtime
    settings: Settings
    clock: SettableClock
    channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def channel(self, account: str = "cli") -> grpc.Channel:
        if account not in self.channels:
            self.channels[account] = channel_as(self.settings, self.port, account)
        return self.channels[account]

    @property
    def public(self) -> account_service_pb2_grpc.AccountServiceStub:
        return account_service_pb2_grpc.AccountServiceStub(self.channel("cli"))

    @property
    def admin_stub(self) -> account_admin_service_pb2_grpc.AccountAdminServiceStub:
        return account_admin_service_pb2_grpc.AccountAdminServiceStub(self.channel("cli"))

    def internal(
        self, account: str = "edge"
    ) -> account_internal_service_pb2_grpc.AccountInternalServiceStub:
        return account_internal_service_pb2_grpc.AccountInternalServiceStub(self.channel(account))

    # --- flows ---------------------------------------------------------------------

    def captcha(self) -> str:
        return str(self.public.CreateCaptcha(account_service_pb2.CreateCaptchaRequest()).name)

    def register(
        self, username: str, password: str = GOOD_PASSWORD, **user: Any
    ) -> account_pb.User:
        return self.public.CreateUser(
            account_service_pb2.CreateUserRequest(
                user=account_pb.User(username=username, **user),
                password=password,
                captcha=self.captcha(),
                captcha_answer=CAPTCHA,
            )
        )

    def login(
        self, username: str, password: str = GOOD_PASSWORD, **kwargs: Any
    ) -> account_service_pb2.CreateSessionResponse:
        return self.public.CreateSession(
            account_service_pb2.CreateSessionRequest(
                username=username, password=password, captcha=self.captcha(), captcha_answer=CAPTCHA
            ),
            **kwargs,
        )

    def authenticate(
        self, token: str, caller: str = "cli"
    ) -> account_internal_service_pb2.AuthenticateSessionResponse:
        """AuthenticateSession on `caller`'s channel: its assertions are issued to
        `caller` (the tests call on the CLI's channel unless they say otherwise)."""
        return self.internal(caller).AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=token)
        )

    def metadata(self, token: str, service: str = "account") -> tuple[tuple[str, bytes], ...]:
        """What the staff CLI sends to `service` for a request with this token."""
        answer = self.authenticate(token)
        return ((METADATA_KEY, answer.service_assertions[service].SerializeToString()),)

    def signed_in(
        self, username: str, password: str = GOOD_PASSWORD, service: str = "account"
    ) -> tuple[tuple[str, bytes], ...]:
        return self.metadata(self.login(username, password).token, service)

    def customer(self, username: str, service: str = "account") -> tuple[tuple[str, bytes], ...]:
        """Register a customer and return its identity metadata for `service`."""
        self.register(username)
        return self.signed_in(username, service=service)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.server.stop(0)
        self.runtime.close()


StartAccount = Callable[..., Account]


@pytest.fixture
def start_account(data_dir: Path, tmp_path: Path) -> Iterator[StartAccount]:
    started: list[Account] = []

    def start(
        *,
        database_url: str | None = None,
        clock: SettableClock | None = None,
        config: AccountConfig = FAST_ARGON2,
        **overrides: Any,
    ) -> Account:
        url = database_url or f"sqlite:///{tmp_path / 'account.db'}"
        settings = base_settings(data_dir, url, **overrides)
        clock = clock or SettableClock(START)
        server, port, runtime = build_server(
            make_spec(clock=clock, config=config), settings, address="127.0.0.1:0"
        )
        server.start()
        account = Account(server, port, runtime, settings, clock)
        started.append(account)
        return account

    yield start
    for account in started:
        account.close()


@pytest.fixture
def account(start_account: StartAccount) -> Account:
    return start_account()


@pytest.fixture
def account_any_db(start_account: StartAccount, database_url: str) -> Account:
    return start_account(database_url=database_url)


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_reason(error: grpc.RpcError) -> str:
    from servers.runtime import error_from_rpc

    return error_from_rpc(error).reason


def fails(call: Callable[[], Any]) -> grpc.RpcError:
    """The RpcError `call` raises (the test fails when it succeeds)."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value
