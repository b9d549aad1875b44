"""Fixtures of the notification tests: one account service, one sandbox gateway process
and one notification service (SQLite) per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.runtime import SettableClock
from tests.account.conftest import Account
from tests.notification.sandbox_process import SandboxProcess
from tests.notification.support import (
    DAYTIME,
    Notification,
    fast_config,
    start_account,
    start_notification,
)


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notification")


@pytest.fixture(scope="module")
def account(directory: Path) -> Iterator[Account]:
    running = start_account(directory)
    yield running
    running.close()


@pytest.fixture(scope="module")
def sandbox(directory: Path) -> Iterator[SandboxProcess]:
    folder = directory / "sandbox"
    folder.mkdir()
    running = SandboxProcess(folder).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def notification(
    directory: Path, account: Account, sandbox: SandboxProcess
) -> Iterator[Notification]:
    running = start_notification(
        account,
        f"sqlite:///{directory / 'notification.db'}",
        fast_config(sandbox.url),
        SettableClock(DAYTIME),
    )
    yield running
    running.close()


@pytest.fixture(autouse=True)
def accepting(request: pytest.FixtureRequest) -> None:
    """Each test starts with the sandbox accepting and the clock in the daytime."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").behave("accept")
    if "notification" in request.fixturenames:
        request.getfixturevalue("notification").clock.set(DAYTIME)
