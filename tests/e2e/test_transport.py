"""HTTPS, headers, CORS and rate limits at the edge, over real sockets."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from clients.edge_client import EdgeClient
from clients.edge_errors import RateLimited
from tests.e2e.conftest import ClientFactory, demo_customer, fresh_address
from tests.e2e.system import CONSOLE_ORIGIN, System

TARIFF = "/v1/tariffs/residential-tiered"


def https(system: System) -> httpx.Client:
    return httpx.Client(
        base_url=system.url,
        verify=ssl.create_default_context(cafile=str(system.ca_file)),
        headers={"X-Forwarded-For": fresh_address()},
    )


def test_every_answer_carries_the_security_headers(system: System) -> None:
    with https(system) as http:
        for response in (http.get(TARIFF), http.get("/v1/nowhere"), http.get("/v1/keys")):
            h = response.headers
            assert h["strict-transport-security"].startswith("max-age=31536000")
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY"
            assert h["referrer-policy"] == "no-referrer"
            assert "default-src 'none'" in h["content-security-policy"]


def test_public_data_is_cacheable_on_the_phone_with_validators(system: System) -> None:
    with https(system) as http:
        first = http.get(TARIFF)
        assert first.headers["cache-control"] == "public, max-age=3600"
        etag = first.headers["etag"]
        again = http.get(TARIFF, headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == etag


def test_authenticated_answers_are_private_or_not_stored(
    new_customer: Callable[..., EdgeClient],
) -> None:
    client = new_customer(2)
    balance = client.balance_reply(demo_customer(2))
    assert balance.headers["cache-control"] == "private, no-cache"
    varies = [v.strip() for v in balance.headers["vary"].split(",")]
    assert varies.count("Authorization") == 1  # said once, by whichever stage says it
    revalidated = client.http.get(
        f"/v1/customers/{demo_customer(2)}/balance",
        headers={
            "Authorization": f"Bearer {client.token}",
            "If-None-Match": balance.headers["etag"],
        },
    )
    assert revalidated.status_code == 304
    payments = client.send("GET", f"/v1/customers/{demo_customer(2)}/payments")
    assert payments.headers["cache-control"] == "no-store"
    me = client.send("GET", "/v1/users/me")
    assert me.headers["cache-control"] == "private, max-age=60"


def test_cors_lets_only_the_console_in(system: System) -> None:
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    with https(system) as http:
        allowed = http.options(TARIFF, headers={"Origin": CONSOLE_ORIGIN, **preflight})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == CONSOLE_ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"]
        other = http.options(TARIFF, headers={"Origin": "https://evil.example", **preflight})
        assert other.status_code == 403
        assert "access-control-allow-origin" not in other.headers
        simple = http.get(TARIFF, headers={"Origin": CONSOLE_ORIGIN})
        assert simple.headers["access-control-allow-origin"] == CONSOLE_ORIGIN
        assert "etag" in simple.headers["access-control-expose-headers"]
        foreign = http.get(TARIFF, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


def test_head_and_options_on_the_secure_edge_and_its_key_listing(system: System) -> None:
    with https(system) as http:
        for path in (TARIFF, "/v1/keys"):
            get, head = http.get(path), http.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-length"] == str(len(get.content)), path
            assert head.headers["cache-control"] == get.headers["cache-control"], path
            options = http.options(path)  # no Origin: not a CORS preflight
            assert options.status_code == 204, path
            assert options.headers["allow"] == "GET, HEAD, OPTIONS", path
        assert http.head(TARIFF).headers["etag"] == http.get(TARIFF).headers["etag"]


@pytest.fixture
def plain_http(system: System) -> Iterator[str]:
    """The same edge app served over plain HTTP, as behind a TLS terminator."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # No lifespan: the app (and its upstream channels) belongs to the HTTPS server.
    config = uvicorn.Config(system.secure.app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_plain_http_is_refused_unless_a_trusted_terminator_says_https(plain_http: str) -> None:
    refused = httpx.get(plain_http + "/v1/keys")
    assert refused.status_code == 403
    assert refused.json()["details"][0]["reason"] == "HTTPS_REQUIRED"
    terminated = httpx.get(plain_http + "/v1/keys", headers={"X-Forwarded-Proto": "https"})
    assert terminated.status_code == 200


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        (ssl.TLSVersion.TLSv1_1, False),
        (ssl.TLSVersion.TLSv1_2, True),
        (ssl.TLSVersion.TLSv1_3, True),
    ],
)
def test_tls_below_1_2_is_refused(system: System, version: ssl.TLSVersion, accepted: bool) -> None:
    context = ssl.create_default_context(cafile=str(system.ca_file))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions at all
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = version
    try:
        with (
            socket.create_connection(("127.0.0.1", system.edge.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            handshake = tls.version()
    except ssl.SSLError:
        handshake = None
    assert (handshake is not None) is accepted


def test_the_captcha_limit_per_address_answers_429(client_for: ClientFactory) -> None:
    client = client_for()
    # Counters are per one-minute window: count the successes of the window the
    # refusal falls in (the loop may cross into a new window).
    passed: dict[int, int] = {}
    for _ in range(61):
        window = int(time.time() // 60)
        try:
            client.create_captcha()
        except RateLimited as limited:
            # One request at the very boundary may count in either window.
            assert passed.get(window, 0) in (29, 30)
            assert 0 < limited.retry_after <= 60
            assert limited.reason == "RATE_LIMITED"
            break
        passed[window] = passed.get(window, 0) + 1
    else:
        raise AssertionError("no request was refused")
    client_for().create_captcha()  # another address is not limited


def test_the_payment_limit_per_user_holds_across_addresses(
    new_customer: Callable[..., EdgeClient],
) -> None:
    client = new_customer(3)
    passed: dict[int, int] = {}
    for _ in range(21):
        client.http.headers["X-Forwarded-For"] = fresh_address()
        window = int(time.time() // 60)
        try:
            client.pay(demo_customer(3), 1, "PAYMENT_CHANNEL_WECHAT_PAY")
        except RateLimited as limited:
            assert passed.get(window, 0) in (9, 10)
            assert limited.metadata["limitedBy"] == "user"
            break
        passed[window] = passed.get(window, 0) + 1
    else:
        raise AssertionError("no payment was refused")
