"""TLS and mTLS with the dev PKI: round trips, service principals from client
certificates, and a client without a certificate refused under mTLS."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from palmgrid.type.v1 import identity_pb2
from runtime.conftest import StartProbe
from servers.runtime.devcerts import DevPki, ensure_dev_pki
from servers.runtime.identity import METADATA_KEY, AssertionSigner
from servers.runtime.service_accounts import ServiceAccount
from servers.runtime.tls import channel_credentials, server_credentials

# The probe's own table: the worker may ask who it is, the CLI may not.
PROBE_ACCOUNTS = {
    "worker": ServiceAccount(roles=("service",), permissions=("probe.identity.get",)),
    "cli": ServiceAccount(roles=("cli",)),
}
STAFF = identity_pb2.Principal(
    user="users/s1",
    username="staff",
    kind=identity_pb2.PRINCIPAL_KIND_STAFF,
    permissions=["probe.identity.get"],
)


def _server_credentials(pki: DevPki, *, mtls: bool) -> grpc.ServerCredentials:
    return server_credentials(
        pki.server_cert,
        pki.server_key,
        client_ca_file=pki.ca_cert if mtls else None,
        require_client_auth=mtls,
    )


def _stub(probe: types.ModuleType, channel: grpc.Channel) -> Any:
    return probe.probe_pb2_grpc.ProbeServiceStub(channel)


def test_tls_round_trip(start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki) -> None:
    running = start_probe(credentials=_server_credentials(dev_pki, mtls=False))
    credentials = channel_credentials(dev_pki.ca_cert)
    for host in ("127.0.0.1", "localhost"):
        with grpc.secure_channel(f"{host}:{running.port}", credentials) as channel:
            reply = _stub(probe, channel).Echo(probe.pb2.EchoRequest(user_name="abcdefg"))
            assert reply.user_name == "abcdefg"


def test_mtls_client_certificate_is_a_service_principal(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    running = start_probe(
        credentials=_server_credentials(dev_pki, mtls=True),
        service_accounts=PROBE_ACCOUNTS,
    )
    cert, key = dev_pki.client("worker")
    credentials = channel_credentials(dev_pki.ca_cert, cert_file=cert, key_file=key)
    with grpc.secure_channel(running.target, credentials) as channel:
        reply = _stub(probe, channel).WhoAmI(probe.pb2.WhoAmIRequest(), timeout=5)
    assert (reply.user, reply.kind) == ("serviceAccounts/worker", "PRINCIPAL_KIND_SERVICE")
    assert not reply.forwards_identity  # a certificate is not forwarded downstream


def test_mtls_service_account_without_the_permission_is_denied(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    running = start_probe(
        credentials=_server_credentials(dev_pki, mtls=True),
        service_accounts=PROBE_ACCOUNTS,
    )
    cert, key = dev_pki.client("cli")
    credentials = channel_credentials(dev_pki.ca_cert, cert_file=cert, key_file=key)
    with grpc.secure_channel(running.target, credentials) as channel:
        stub = _stub(probe, channel)
        assert stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg")).user_name == "abcdefg"
        with pytest.raises(grpc.RpcError) as caught:
            stub.WhoAmI(probe.pb2.WhoAmIRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _client(pki: DevPki, account: str) -> grpc.ChannelCredentials:
    cert, key = pki.client(account)
    return channel_credentials(pki.ca_cert, cert_file=cert, key_file=key)


def test_an_assertion_is_accepted_only_from_the_process_it_was_issued_to(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki, signer: AssertionSigner
) -> None:
    running = start_probe(
        credentials=_server_credentials(dev_pki, mtls=True), service_accounts=PROBE_ACCOUNTS
    )
    issued_to_edge = signer.sign(STAFF, audience="probe", caller="edge").SerializeToString()
    metadata = [(METADATA_KEY, issued_to_edge)]
    with grpc.secure_channel(running.target, _client(dev_pki, "edge")) as channel:
        reply = _stub(probe, channel).WhoAmI(probe.pb2.WhoAmIRequest(), metadata=metadata)
    assert reply.user == "users/s1"
    # The same bytes replayed by another certificate holder are refused.
    with (
        grpc.secure_channel(running.target, _client(dev_pki, "cli")) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _stub(probe, channel).WhoAmI(probe.pb2.WhoAmIRequest(), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "another caller" in (caught.value.details() or "")


def test_mtls_refuses_a_client_without_a_certificate(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    running = start_probe(credentials=_server_credentials(dev_pki, mtls=True))
    credentials = channel_credentials(dev_pki.ca_cert)
    with (
        grpc.secure_channel(running.target, credentials) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _stub(probe, channel).Echo(probe.pb2.EchoRequest(user_name="abcdefg"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert running.servicer.started == []


def test_plaintext_client_cannot_talk_to_a_tls_server(
    start_probe: StartProbe, probe: types.ModuleType, dev_pki: DevPki
) -> None:
    running = start_probe(credentials=_server_credentials(dev_pki, mtls=False))
    with (
        grpc.insecure_channel(running.target) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _stub(probe, channel).Echo(probe.pb2.EchoRequest(user_name="abcdefg"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_dev_pki_is_reused_when_present(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, accounts=("edge",))
    files = sorted(p for p in tmp_path.iterdir() if p.suffix in (".pem", ".key"))
    before = {p.name: p.read_bytes() for p in files}
    assert set(before) == {"ca.pem", "ca.key", "server.pem", "server.key", "edge.pem", "edge.key"}
    ensure_dev_pki(tmp_path, accounts=("edge", "worker"))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before}
    assert after == before
    assert pki.client("worker")[0].exists()
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600


def test_dev_certificates_name_hosts_and_accounts(dev_pki: DevPki) -> None:
    server = x509.load_pem_x509_certificate(dev_pki.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    client = x509.load_pem_x509_certificate(dev_pki.client("edge")[0].read_bytes())
    common_name = client.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0]
    assert common_name.value == "edge"


def test_certificates_from_another_ca_are_replaced(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, accounts=("edge",))
    old_edge = (tmp_path / "edge.pem").read_bytes()
    (tmp_path / "ca.pem").unlink()
    ensure_dev_pki(tmp_path, accounts=("edge",))
    assert (tmp_path / "edge.pem").read_bytes() != old_edge
