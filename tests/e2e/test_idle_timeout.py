"""The idle timeout holds through the edge's session cache: an idle session gets 401,
an active one never looks idle to the account service."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import Unauthenticated
from tests.e2e.conftest import fresh_address, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, System, start_system

# Long enough that a stall of the loaded test machine (up to half of it) between two
# requests does not look like idleness.
IDLE_SECONDS = 5


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(
        tmp_path_factory.mktemp("idle"),
        settings_overrides={"session_idle_seconds": IDLE_SECONDS},
    )
    yield running
    running.stop()


@pytest.fixture
def client(system: System) -> Iterator[EdgeClient]:
    client = EdgeClient(
        system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": fresh_address()}
    )
    username = fresh_username()
    client.register(username, PASSWORD, captcha_answer=CAPTCHA)
    client.login(username, PASSWORD, captcha_answer=CAPTCHA)
    yield client
    client.close()


def test_an_idle_session_gets_401(client: EdgeClient) -> None:
    client.me()
    time.sleep(IDLE_SECONDS + 0.5)
    with pytest.raises(Unauthenticated) as refused:
        client.me()
    assert refused.value.reason == "SESSION_EXPIRED"


def test_a_session_in_use_does_not_expire(system: System, client: EdgeClient) -> None:
    calls = system.account_calls["AuthenticateSession"]
    deadline = time.monotonic() + 2 * IDLE_SECONDS
    requests = 0
    while time.monotonic() < deadline:
        client.me()
        requests += 1
        time.sleep(0.1)
    # Some requests were answered from the cache, and enough reached the account
    # service to keep the session active.
    asked = system.account_calls["AuthenticateSession"] - calls
    assert 0 < asked < requests
