"""Fixtures for tests of the payment protocol and the sandbox provider: key material
(created once per session: RSA key generation is slow), a sandbox on a free port, and
billing's provider client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.billing.payments.keys import ensure_dev_keys, load_merchant_keys, load_provider_keys
from servers.billing.payments.provider import WechatPayV3Client
from servers.billing.payments.sandbox import Behaviour, Sandbox

MERCHANT_ID = "1900000109"
APP_ID = "wxpalmgrid0000001"
# Fast enough for tests, slow enough that a create-order answer normally arrives first.
FAST = Behaviour(confirm_delay_seconds=0.05, callback_retry_seconds=(0.1, 0.2, 0.4))


@pytest.fixture(scope="session")
def payment_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Merchant and provider key files, shared by the session's tests."""
    return ensure_dev_keys(tmp_path_factory.mktemp("payment-keys"))


def start_test_sandbox(keys_dir: Path, behaviour: Behaviour = FAST, port: int = 0) -> Sandbox:
    """A started sandbox with the test merchant (on a free port unless `port`)."""
    return Sandbox(
        load_provider_keys(keys_dir),
        merchant_id=MERCHANT_ID,
        app_id=APP_ID,
        behaviour=behaviour,
        port=port,
    ).start()


@pytest.fixture
def sandbox(payment_keys_dir: Path) -> Iterator[Sandbox]:
    """A sandbox provider on a free port (fast confirmations)."""
    running = start_test_sandbox(payment_keys_dir)
    try:
        yield running
    finally:
        running.stop()


def provider_client(sandbox: Sandbox, keys_dir: Path, timeout: float = 2.0) -> WechatPayV3Client:
    """Billing's provider client for the sandbox."""
    return WechatPayV3Client(
        sandbox.url,
        merchant_id=MERCHANT_ID,
        app_id=APP_ID,
        keys=load_merchant_keys(keys_dir),
        timeout=timeout,
    )
