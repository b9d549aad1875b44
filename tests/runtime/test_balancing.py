"""Calls to a service with several replicas: a target naming them all spreads the calls
round robin over real servers, a replica that reports NOT_SERVING (draining) gets none
until it serves again, and targets grpc cannot resolve are refused by name."""

from __future__ import annotations

import time
import types
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2

from palmlib.balancing import TargetError, channel_target, grpc_target, tls_name
from runtime.conftest import Running, StartProbe
from servers.runtime.devcerts import DevPki
from servers.runtime.service_accounts import ServiceAccount
from servers.runtime.settings import Settings, SettingsError, load_settings
from servers.runtime.tls import open_channel, server_credentials

CALLS = 40


def _replicas(start_probe: StartProbe, dev_pki: DevPki) -> list[Running]:
    credentials = server_credentials(
        dev_pki.server_cert,
        dev_pki.server_key,
        client_ca_file=dev_pki.ca_cert,
        require_client_auth=True,
    )
    accounts = {"worker": ServiceAccount(roles=("service",))}
    return [start_probe(credentials=credentials, service_accounts=accounts) for _ in range(2)]


def _channel(dev_pki: DevPki, replicas: list[Running]) -> grpc.Channel:
    """A channel as a service opens it, to "billing" whose target lists both replicas."""
    settings = Settings(
        grpc_security="mtls",
        tls_ca_file=dev_pki.ca_cert,
        tls_client_cert_file=dev_pki.directory / "worker.pem",
        tls_client_key_file=dev_pki.directory / "worker.key",
        billing_target=",".join(replica.target for replica in replicas),
    )
    return open_channel(settings, "billing", account="worker")


def _sleeper(probe: types.ModuleType, channel: grpc.Channel) -> Callable[[str], None]:
    stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
    return lambda tag: stub.Sleep(probe.pb2.SleepRequest(millis=0, tag=tag), timeout=5)


def _served_by(replicas: list[Running], prefix: str) -> list[int]:
    return [sum(tag.startswith(prefix) for tag in r.servicer.started) for r in replicas]


def test_calls_are_spread_over_every_replica(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    replicas = _replicas(start_probe, dev_pki)
    with _channel(dev_pki, replicas) as channel:
        sleep = _sleeper(probe, channel)
        sleep("warm")
        time.sleep(0.2)  # both subchannels connect and pass their health check
        for n in range(CALLS):
            sleep(f"call-{n}")
    served = _served_by(replicas, "call-")
    assert sum(served) == CALLS
    # Round robin: each replica takes every other call.
    assert min(served) >= CALLS // 2 - 1, served


def test_a_replica_not_serving_gets_no_calls_until_it_serves_again(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    replicas = _replicas(start_probe, dev_pki)
    draining = replicas[1]
    with _channel(dev_pki, replicas) as channel:
        sleep = _sleeper(probe, channel)
        sleep("warm")
        time.sleep(0.2)
        draining.server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        time.sleep(0.3)  # the health watch tells the channel
        for n in range(CALLS):
            sleep(f"drained-{n}")
        assert _served_by(replicas, "drained-") == [CALLS, 0]
        draining.server.health.set("", health_pb2.HealthCheckResponse.SERVING)
        time.sleep(0.3)
        for n in range(CALLS):
            sleep(f"back-{n}")
    assert min(_served_by(replicas, "back-")) >= CALLS // 2 - 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("10.0.0.5:50052", "10.0.0.5:50052"),
        ("billing:50052", "billing:50052"),
        ("10.0.0.5:50052, 10.0.0.6:50052", "ipv4:10.0.0.5:50052,10.0.0.6:50052"),
        ("[::1]:1,[::2]:2", "ipv6:[::1]:1,[::2]:2"),
        ("dns:///billing-headless:50052", "dns:///billing-headless:50052"),
    ],
)
def test_targets_become_grpc_targets(target: str, expected: str) -> None:
    assert grpc_target(target) == expected


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("billing-0:1,billing-1:1", "one DNS name"),
        ("10.0.0.5:1,[::1]:1", "mixes IPv4 and IPv6"),
        ("10.0.0.5:1,10.0.0.6", "HOST:PORT"),
    ],
)
def test_targets_grpc_cannot_resolve_are_refused(target: str, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        grpc_target(target)


def test_a_bad_target_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALMGRID_BILLING_TARGET", "billing-0:50052,billing-1:50052")
    with pytest.raises(SettingsError, match=r"PALMGRID_BILLING_TARGET: .*one DNS name"):
        load_settings()


def test_a_list_is_checked_against_the_name_of_its_first_host() -> None:
    options = dict(channel_target("10.0.0.5:1,10.0.0.6:1")[1])
    assert options["grpc.default_authority"] == "10.0.0.5"
    assert tls_name("dns:///billing:50052") == "billing"
    assert "grpc.default_authority" not in dict(channel_target("billing:50052")[1])
