"""Session rules through the edge over HTTPS: logout and displacement take effect on the
very next request, also through another edge replica and with the session cached;
assertions are renewed before they expire; identities sent from outside are ignored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc
import pytest

from cachetags import CachePool, SessionRevocations
from clients.edge_client import EdgeClient
from clients.edge_errors import Unauthenticated
from edge.security.sessions import SessionPolicy
from palmgrid.account.v1 import (
    account_admin_service_pb2,
    account_admin_service_pb2_grpc,
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
)
from tests.e2e.conftest import ClientFactory, fresh_username
from tests.e2e.system import CAPTCHA, PASSWORD, HttpsEdge, System

SKEW = 1.1  # a login's own revocation mark keeps the first second uncached


def authentications(system: System) -> int:
    return system.account_calls["AuthenticateSession"]


def warm(client: EdgeClient, system: System) -> None:
    """Make sure the client's session is in the cache: the next call asks nobody."""
    time.sleep(SKEW)
    client.me()
    before = authentications(system)
    client.me()
    assert authentications(system) == before, "the session was not served from the cache"


def as_token(client_for: ClientFactory, token: str) -> EdgeClient:
    other = client_for()
    other.token = token
    return other


def test_a_logout_takes_effect_on_the_very_next_request(
    system: System, new_customer: Callable[..., EdgeClient], client_for: ClientFactory
) -> None:
    client = new_customer()
    warm(client, system)
    token = client.token
    assert token is not None
    client.logout()
    with pytest.raises(Unauthenticated) as refused:
        as_token(client_for, token).me()
    assert refused.value.reason == "SESSION_INVALID"
    assert refused.value.headers["www-authenticate"].startswith("Bearer")


def test_a_new_login_displaces_the_old_session_on_the_next_request(
    system: System, client_for: ClientFactory
) -> None:
    username = fresh_username()
    first = client_for()
    first.register(username, PASSWORD, captcha_answer=CAPTCHA)
    first.login(username, PASSWORD, captcha_answer=CAPTCHA)
    warm(first, system)
    second = client_for()
    assert second.login(username, PASSWORD, captcha_answer=CAPTCHA)["displacedSessionCount"] == 1
    with pytest.raises(Unauthenticated) as refused:
        first.me()
    assert refused.value.reason == "SESSION_DISPLACED"
    assert second.me()["username"] == username


def logged_in(client_for: ClientFactory) -> tuple[EdgeClient, str, str]:
    """A new user's client, logged in past the login's own revocation mark, whose
    session record the edge does not hold yet; the username, and the user's name."""
    username = fresh_username()
    client = client_for()
    client.register(username, PASSWORD, captcha_answer=CAPTCHA)
    user = client.login(username, PASSWORD, captcha_answer=CAPTCHA)["session"]["user"]
    time.sleep(SKEW)
    return client, username, user


@contextmanager
def held_checks(system: System) -> Iterator[threading.Event]:
    """The account service's `AuthenticateSession` calls wait until the event is set
    (at the latest when the block ends)."""
    hold = system.account_holds["AuthenticateSession"] = threading.Event()
    try:
        yield hold
    finally:
        hold.set()
        del system.account_holds["AuthenticateSession"]


def wait_for_a_check(system: System, before: int) -> None:
    """Until the account service has been asked since `before` calls (5 s at most)."""
    deadline = time.monotonic() + 5
    while authentications(system) == before and time.monotonic() < deadline:
        time.sleep(0.01)


def test_requests_of_a_session_arriving_together_share_one_account_check(
    system: System, client_for: ClientFactory
) -> None:
    """Requests whose session record the edge does not hold (a new login, or a record
    that ran out) wait for one check with the account service, not one each: a burst
    of one session must not queue writes at the account service."""
    first, username, _ = logged_in(client_for)
    assert first.token is not None
    clients = [as_token(client_for, first.token) for _ in range(6)]
    before = authentications(system)
    with held_checks(system) as hold, ThreadPoolExecutor(len(clients)) as pool:
        answers = [pool.submit(client.me) for client in clients]
        wait_for_a_check(system, before)
        time.sleep(0.5)  # the other requests reach the edge while the check is held
        asked = authentications(system) - before
        hold.set()
        names = [answer.result(timeout=10)["username"] for answer in answers]
    assert names == [username] * len(clients)
    assert asked == 1
    assert authentications(system) == before + 1


def test_a_revocation_during_a_shared_check_makes_its_requests_ask_again(
    system: System, client_for: ClientFactory
) -> None:
    """A check that was on its way when a revocation arrived may have been answered
    before it: the requests that waited for it ask the account service again."""
    first, username, _ = logged_in(client_for)
    before = authentications(system)
    with held_checks(system) as hold, ThreadPoolExecutor(1) as pool:
        answer = pool.submit(first.me)
        wait_for_a_check(system, before)
        system.secure.sessions.local.reset()  # as when the revocation feed reconnects
        hold.set()
        assert answer.result(timeout=10)["username"] == username
    assert authentications(system) == before + 2


def test_a_request_does_not_take_a_check_that_a_logout_elsewhere_overtook(
    system: System, client_for: ClientFactory
) -> None:
    """A request that finds a check on its way which started before the user's latest
    revocation mark (a logout through another replica) asks for itself."""
    first, username, user = logged_in(client_for)
    assert first.token is not None
    before = authentications(system)
    marks = CachePool([system.memcached.address])
    try:
        with held_checks(system) as hold, ThreadPoolExecutor(2) as pool:
            started = pool.submit(first.me)
            wait_for_a_check(system, before)
            # As another replica does after a logout there (the account service still
            # knows the session here, so asking again succeeds: what counts is asking).
            SessionRevocations(marks).revoke_users([user])
            later = pool.submit(as_token(client_for, first.token).me)
            time.sleep(0.5)  # the second request waits for the held check
            hold.set()
            assert started.result(timeout=10)["username"] == username
            assert later.result(timeout=10)["username"] == username
    finally:
        marks.close()
    assert authentications(system) == before + 2


@pytest.fixture
def replica(system: System) -> Iterator[HttpsEdge]:
    """A second edge process's worth of state (its own pool, sessions and caches)
    sharing the system's Memcached and services."""
    from tests.e2e.system import start_replica

    running = start_replica(system)
    yield running
    running.stop()


def test_a_logout_through_one_replica_stops_the_session_at_another(
    system: System,
    replica: HttpsEdge,
    new_customer: Callable[..., EdgeClient],
    client_for: ClientFactory,
) -> None:
    client = new_customer()
    token = client.token
    assert token is not None
    elsewhere = EdgeClient(replica.url, ca_file=system.ca_file)
    elsewhere.token = token
    time.sleep(SKEW)
    elsewhere.me()
    calls = replica.secure.sessions.account_calls
    elsewhere.me()
    assert replica.secure.sessions.account_calls == calls  # cached at the replica
    client.logout()
    with pytest.raises(Unauthenticated):
        elsewhere.me()
    elsewhere.close()


def test_an_assertion_is_renewed_before_it_expires(
    system: System, new_customer: Callable[..., EdgeClient]
) -> None:
    client = new_customer(1)
    sessions = system.secure.sessions
    saved = sessions.policy
    # Assertions live 60 s: with a 58.5 s margin a cached check is good for 1.5 s.
    sessions.policy = SessionPolicy(assertion_margin=58.5)
    try:
        warm(client, system)
        before = authentications(system)
        time.sleep(1.6)
        assert client.balance("3100000001")["balanceFen"]  # billing accepted the assertion
        assert authentications(system) == before + 1
    finally:
        sessions.policy = saved


def test_identities_sent_from_outside_are_ignored(
    system: System, new_customer: Callable[..., EdgeClient], staff: Callable[[str], EdgeClient]
) -> None:
    admin = staff("admin")
    assert admin.token is not None
    forged = admin_assertion(system, admin.token)
    customer = new_customer()
    smuggled = {
        "Grpc-Metadata-Palmgrid-Identity-Bin": forged,
        "X-Palmgrid-Identity": forged,
        "Palmgrid-Identity-Bin": forged,
    }
    me = customer.send("GET", "/v1/users/me", headers=smuggled).json
    assert me["username"] == customer.me()["username"] != "admin"
    anonymous = EdgeClient(system.url, ca_file=system.ca_file)
    with pytest.raises(Unauthenticated) as refused:
        anonymous.send("GET", "/v1/users/me", headers=smuggled)
    assert refused.value.reason == "SESSION_REQUIRED"
    anonymous.close()


def test_malformed_or_unknown_tokens_get_401(system: System, client_for: ClientFactory) -> None:
    client = client_for()
    for header in ["Basic abc", "Bearer short", "Bearer " + "x" * 40]:
        with pytest.raises(Unauthenticated) as refused:
            client.send("GET", "/v1/users/me", headers={"Authorization": header})
        assert "www-authenticate" in refused.value.headers


def admin_assertion(system: System, token: str) -> str:
    """A real, valid assertion of the admin (as a thief of one would hold), base64."""
    import base64

    settings = system.settings
    credentials = settings.client_credentials("edge")
    assert credentials is not None
    target = system.services["account"].target
    with grpc.secure_channel(target, credentials) as channel:
        stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
        answer = stub.AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=token)
        )
    return base64.b64encode(answer.assertion.SerializeToString()).decode()


def test_a_session_revoked_by_an_administrator_elsewhere_stops_at_once(
    system: System, new_customer: Callable[..., EdgeClient], staff: Callable[[str], EdgeClient]
) -> None:
    """Revoked through the account service directly (as the staff CLI does), not through
    the edge: the edge learns it from the revocation stream."""
    client = new_customer()
    warm(client, system)
    admin = staff("admin")
    assert admin.token is not None
    session = principal_of(system, client).session
    revoke_as_admin(system, admin.token, session)
    deadline = time.monotonic() + 3
    while True:
        try:
            client.me()
        except Unauthenticated:
            break
        assert time.monotonic() < deadline, "the revoked session still works"
        time.sleep(0.1)


def principal_of(system: System, client: EdgeClient) -> Any:
    settings = system.settings
    credentials = settings.client_credentials("edge")
    assert credentials is not None and client.token is not None
    with grpc.secure_channel(system.services["account"].target, credentials) as channel:
        stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
        return stub.AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=client.token)
        ).principal


def revoke_as_admin(system: System, admin_token: str, session: str) -> None:

    # As the staff CLI does it: the token exchanged for an assertion issued to the CLI.
    cli_credentials = system.settings.client_credentials("cli")
    assert cli_credentials is not None
    target = system.services["account"].target
    with grpc.secure_channel(target, cli_credentials) as channel:
        assertion = (
            account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
            .AuthenticateSession(
                account_internal_service_pb2.AuthenticateSessionRequest(token=admin_token)
            )
            .assertion
        )
        account_admin_service_pb2_grpc.AccountAdminServiceStub(channel).RevokeSession(
            account_admin_service_pb2.RevokeSessionRequest(name=session, reason="lost phone"),
            metadata=(("palmgrid-identity-bin", assertion.SerializeToString()),),
        )
