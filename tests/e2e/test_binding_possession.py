"""Binding a customer proves possession of its registered phone (issue 16, finding 1),
through the real edge: the digits a phone mask shows bind nothing, a code is needed;
tries are counted atomically per customer (twenty parallel wrong tries count as
twenty); a customer takes at most a configured number of users; and every new binding
is told to the users already bound and to the registered phone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from clients.edge_client import EdgeClient
from servers.account import models as account_models
from tests.e2e.binding_codes import bind, binding_system, outbox, refused, sent_code
from tests.e2e.conftest import demo_customer
from tests.e2e.system import CAPTCHA, System

USERS_PER_CUSTOMER = 2
# Above the per-user limit (10), as the service requires, and below twenty.
TRIES_PER_CUSTOMER = 15


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    yield from binding_system(
        tmp_path_factory.mktemp("system"),
        binding_users_per_customer=USERS_PER_CUSTOMER,
        binding_attempts_per_customer=TRIES_PER_CUSTOMER,
    )


def attempts(system: System, kind: str, key: str) -> int:
    with system.services["account"].runtime.session() as session:
        row = session.exec(
            select(account_models.BindingAttempts).where(
                account_models.BindingAttempts.kind == kind,
                account_models.BindingAttempts.key == key,
            )
        ).first()
    return row.count if row is not None else 0


def test_the_digits_a_phone_mask_shows_bind_nothing(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = demo_customer(1)
    owner = new_customer(1)
    masked = owner.customer(customer)["registeredPhone"]
    assert "****" in masked
    shown = masked[-4:]
    stranger = new_customer()
    # Without a code, and with a code sent (to a phone the stranger does not hold).
    error = refused(lambda: stranger.bind_customer(customer, shown))
    assert (error.status, error.reason) == (400, "VERIFICATION_FAILED")
    stranger.send_binding_code(customer, captcha_answer=CAPTCHA)
    for guess in (shown, "00" + shown):
        error = refused(lambda: stranger.bind_customer(customer, guess))  # noqa: B023
        assert (error.status, error.reason) == (400, "VERIFICATION_FAILED")
    assert [b["customer"] for b in stranger.customer_bindings()] == []


def test_a_code_binds_once_and_only_its_user(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = demo_customer(2)
    first = new_customer()
    first.send_binding_code(customer, captcha_answer=CAPTCHA)
    code = sent_code(system, customer)
    other = new_customer()
    error = refused(lambda: other.bind_customer(customer, code))
    assert error.reason == "VERIFICATION_FAILED"
    first.bind_customer(customer, code)
    first.unbind_customer(customer)
    assert refused(lambda: first.bind_customer(customer, code)).reason == "VERIFICATION_FAILED"


def test_twenty_parallel_wrong_tries_count_as_twenty(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = demo_customer(3)
    guessers = [new_customer() for _ in range(20)]
    with ThreadPoolExecutor(len(guessers)) as pool:
        errors = list(
            pool.map(lambda c: refused(lambda: c.bind_customer(customer, "123456")), guessers)
        )
    reasons = sorted(e.reason for e in errors)
    assert reasons.count("VERIFICATION_FAILED") == TRIES_PER_CUSTOMER
    assert reasons.count("RATE_LIMITED") == 20 - TRIES_PER_CUSTOMER
    assert attempts(system, "try/customer", f"customers/{customer}") == 20
    # The limit holds for the right code too, until the window passes.
    owner = new_customer()
    error = refused(lambda: bind(system, owner, customer))
    assert (error.status, error.reason) == (429, "RATE_LIMITED")


def test_a_customer_takes_at_most_the_cap_of_users_and_each_binding_is_told(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = demo_customer(4)
    first = new_customer(4)
    assert _notices(system, customer) == [("phone", [])]
    second = new_customer(4)
    assert sorted(_notices(system, customer)) == [
        ("phone", []),
        ("phone", []),
        ("users", [first.me()["name"]]),
    ]
    assert [b["customer"] for b in second.customer_bindings()] == [f"customers/{customer}"]
    third = new_customer()
    error = refused(lambda: third.send_binding_code(customer, captcha_answer=CAPTCHA))
    assert (error.status, error.reason) == (429, "QUOTA_EXCEEDED")
    error = refused(lambda: third.bind_customer(customer, "123456"))
    assert (error.status, error.reason) == (429, "QUOTA_EXCEEDED")


def _notices(system: System, customer: str) -> list[tuple[str, list[str]]]:
    """The binding notices queued about `customer`: to the registered phone (one SMS)
    or to users (in-app)."""
    found = []
    for message in outbox(system, "binding.created", customer):
        if message.users:
            found.append(("users", list(message.users)))
        else:
            assert message.stats.total_count == 1
            found.append(("phone", []))
    return found
