"""A stranger cannot block a customer's binding (issue 16), through the real edge, with
the service's own per-customer limits: a stranger who spends their whole allowance of
wrong tries on a customer leaves the owner, who holds the registered phone, able to
bind it; and every code sent costs a captcha."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from clients.edge_client import ACCOUNT, EdgeClient
from servers.account.config import AccountConfig
from tests.e2e.binding_codes import bind, binding_system, refused
from tests.e2e.conftest import demo_customer
from tests.e2e.system import CAPTCHA, System

DEFAULTS = AccountConfig()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    yield from binding_system(
        tmp_path_factory.mktemp("system"),
        binding_users_per_customer=DEFAULTS.binding_users_per_customer,
        binding_attempts_per_customer=DEFAULTS.binding_attempts_per_customer,
    )


def test_a_strangers_wrong_tries_leave_the_owner_able_to_bind(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    customer = demo_customer(6)
    stranger = new_customer()
    stranger.send_binding_code(customer, captcha_answer=CAPTCHA)
    for _ in range(DEFAULTS.binding_attempts_per_user):
        error = refused(lambda: stranger.bind_customer(customer, "123456"))
        assert error.reason == "VERIFICATION_FAILED"
    # The stranger's own allowance is spent ...
    error = refused(lambda: stranger.bind_customer(customer, "123456"))
    assert (error.status, error.reason) == (429, "RATE_LIMITED")
    # ... the customer's is not: the owner binds with the code sent to the phone.
    owner = new_customer()
    made = bind(system, owner, customer)
    assert made["customer"] == f"customers/{customer}"


def test_a_code_is_sent_only_against_a_captcha(new_customer: Callable[..., EdgeClient]) -> None:
    client = new_customer()
    path = "/v1/users/me/customerBindings:sendCode"
    body = {"customer": f"customers/{demo_customer(7)}"}
    error = refused(lambda: client.call(ACCOUNT + "SendCustomerBindingCode", "POST", path, body))
    assert error.status == 400
    fields = {v["field"] for d in error.details for v in d.get("fieldViolations", [])}
    assert {"captcha", "captcha_answer"} <= fields or {"captcha", "captchaAnswer"} <= fields
    wrong = {**body, "captcha": client.create_captcha()["name"], "captchaAnswer": "WRONG1"}
    error = refused(lambda: client.call(ACCOUNT + "SendCustomerBindingCode", "POST", path, wrong))
    assert (error.status, error.reason) == (400, "CAPTCHA_INVALID")
