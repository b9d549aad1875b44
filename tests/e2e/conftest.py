"""Fixtures for the end-to-end tests: one running system per module, and clients.

`system` is shared by the tests of a module (starting it takes a few seconds);
`new_customer(...)` registers a fresh app user over the edge, logs in and binds
the demo customers asked for (with the code each sends to its registered phone).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Iterator

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from tests.e2e.binding_codes import bind
from tests.e2e.system import CAPTCHA, PASSWORD, STAFF_PASSWORD, System, start_system

_names = itertools.count()
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own (sent as X-Forwarded-For through the trusted proxy)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def demo_customer(n: int) -> str:
    """The n-th demo customer's number (1-based)."""
    return str(3_100_000_000 + n)


def refusal(client: EdgeClient, path: str) -> str:
    """The status and reason with which the edge refuses a GET of `path`, or "200"."""
    try:
        client.send("GET", path)
    except EdgeApiError as error:
        return f"{error.status} {error.reason}"
    return "200"


def fresh_username() -> str:
    n = next(_names)
    letters = string.ascii_lowercase
    return "tester" + "".join(letters[(n // 26**i) % 26] for i in range(4))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(tmp_path_factory.mktemp("system"))
    yield running
    running.stop()


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
