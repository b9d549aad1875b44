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


CEILING = 100  # PALMGRID_ACCOUNT_LOGIN_FAILURE_CEILING's default, NIST's most
PER_SOURCE = 5  # the lockout_threshold parameter


def test_the_ceiling_does_not_lock_the_owner_out_of_a_place_they_signed_in_from(
    client_for: ClientFactory,
) -> None:
    username = fresh_username()
    home = fresh_address()
    owner = client_for(home)
    owner.register(username, PASSWORD, captcha_answer=CAPTCHA)
    owner.login(username, PASSWORD, captcha_answer=CAPTCHA)
    owner.logout()

    def spend(address: str) -> list[str]:
        """One stranger's address: tries until it is locked itself."""
        stranger = client_for(address)
        outcomes = []
        for _ in range(PER_SOURCE):
            with pytest.raises(EdgeApiError) as refused:
                stranger.login(username, WRONG, captcha_answer=CAPTCHA)
            outcomes.append(refused.value.reason)
        return outcomes

    addresses = [fresh_address() for _ in range(CEILING // PER_SOURCE)]
    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        outcomes = Counter(r for tries in pool.map(spend, addresses) for r in tries)
    assert outcomes == {"INVALID_CREDENTIALS": CEILING}

    # The username is now locked for places it never signed in from, right password or
    # not ...
    with pytest.raises(EdgeApiError) as refused:
        client_for(fresh_address()).login(username, PASSWORD, captcha_answer=CAPTCHA)
    assert (refused.value.status, refused.value.reason) == (429, "ACCOUNT_LOCKED")
    # ... but not for the owner at home.
    assert client_for(home).login(username, PASSWORD, captcha_answer=CAPTCHA)["token"]
