"""Fixtures for the end-to-end tests: one running system for the package, and clients.

`system` is shared by the package's modules (starting one takes seconds), but for
modules that set `OWN_SYSTEM = True` or define a `system` fixture of their own;
`new_customer(...)` registers a fresh app user over the edge, logs in and binds
the demo customers asked for (with the code each sends to its registered phone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from tests.e2e.binding_codes import bind
from tests.e2e.fresh import fresh_address, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, STAFF_PASSWORD, System, system_fixtures


def demo_customer(n: int) -> str:
    """The n-th demo customer's number (1-based)."""
    return str(3_100_000_000 + n)


def paid_in(balance: dict[str, str]) -> int:
    """Money received for a customer: settled or still pending confirmation."""
    return int(balance["balanceFen"]) + int(balance["pendingFen"])


def refusal(client: EdgeClient, path: str) -> str:
    """The status and reason with which the edge refuses a GET of `path`, or "200"."""
    try:
        client.send("GET", path)
    except EdgeApiError as error:
        return f"{error.status} {error.reason}"
    return "200"


shared_system, system = system_fixtures()


ClientFactory = Callable[..., EdgeClient]


@pytest.fixture
def client_for(system: System) -> Iterator[ClientFactory]:
    """EdgeClients for the running system (closed after the test)."""
    made: list[EdgeClient] = []

    def make(
        address: str | None = None, *, headers: dict[str, str] | None = None, **kwargs: object
    ) -> EdgeClient:
        sent = {"X-Forwarded-For": address or fresh_address(), **(headers or {})}
        client = EdgeClient(system.url, ca_file=system.ca_file, headers=sent, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def new_customer(system: System, client_for: ClientFactory) -> Callable[..., EdgeClient]:
    def make(*customers: int, send_public_key: bool = True) -> EdgeClient:
        client = client_for()
        username = fresh_username()
        client.register(username, PASSWORD, captcha_answer=CAPTCHA)
        client.login(username, PASSWORD, captcha_answer=CAPTCHA, send_public_key=send_public_key)
        for n in customers:
            bind(system, client, demo_customer(n))
        return client

    return make


@pytest.fixture
def staff(client_for: ClientFactory) -> Callable[[str], EdgeClient]:
    def make(username: str) -> EdgeClient:
        client = client_for()
        client.login(username, STAFF_PASSWORD, captcha_answer=CAPTCHA)
        return client

    return make
