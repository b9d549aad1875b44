"""Failed logins through the real edge: a stranger's wrong passwords from one address
lock that address for the username, not the owner signing in from another; parallel
tries cannot race past the limit; the owner is told."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients.edge_client import ACCOUNT
from clients.edge_errors import EdgeApiError
from tests.e2e.conftest import ClientFactory, fresh_address, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, System

WRONG = "Wrong-pass-1!"
LOGIN = ACCOUNT + "CreateSession"
TRIES = 20  # the edge's CreateSession limit per address and minute


def test_a_strangers_failed_logins_do_not_lock_the_owner_out(
    system: System, client_for: ClientFactory
) -> None:
    username = fresh_username()
    owner = client_for(fresh_address())
    owner.register(username, PASSWORD, captcha_answer=CAPTCHA)
    owner.login(username, PASSWORD, captcha_answer=CAPTCHA)

    stranger = fresh_address()
    clients = [client_for(stranger) for _ in range(TRIES)]
    captchas = [c.create_captcha()["name"] for c in clients]

    def wrong(pair: tuple[int, str]) -> str:
        n, captcha = pair
        body = {"username": username, "password": WRONG, "captcha": captcha}
        with pytest.raises(EdgeApiError) as refused:
            clients[n].call(LOGIN, "POST", "/v1/sessions", {**body, "captchaAnswer": CAPTCHA})
        return f"{refused.value.status} {refused.value.reason}"

    with ThreadPoolExecutor(max_workers=TRIES) as pool:
        outcomes = Counter(pool.map(wrong, enumerate(captchas)))
    # Twenty tries counted as twenty: five passwords checked, fifteen refused unchecked.
    assert outcomes == {"401 INVALID_CREDENTIALS": 5, "429 ACCOUNT_LOCKED": 15}

    # The owner's session still works, and so does a login from another address.
    assert owner.me()["username"] == username
    elsewhere = client_for(fresh_address())
    assert elsewhere.login(username, PASSWORD, captcha_answer=CAPTCHA)["token"]

    notices = [m["body"] for m in elsewhere.messages()["messages"]]
    assert any(stranger in body for body in notices)
