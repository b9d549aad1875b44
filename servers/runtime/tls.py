"""TLS and mTLS credentials for gRPC servers and channels, from PEM files."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import grpc

from palmlib.balancing import channel_target
from servers.runtime.tracing import traced_channel


class TlsSettings(Protocol):
    """The settings the `*_for` helpers read. `servers.runtime.settings.Settings` is
    one; it builds its `client_credentials` here, so this module names it by shape only."""

    @property
    def grpc_security(self) -> str: ...

    @property
    def server_cert_file(self) -> Path: ...

    @property
    def server_key_file(self) -> Path: ...

    @property
    def ca_file(self) -> Path: ...

    def client_cert_files(self, account: str) -> tuple[Path, Path]: ...

    def service_address(self, name: str) -> str: ...


def server_credentials(
    cert_file: Path,
    key_file: Path,
    *,
    client_ca_file: Path | None = None,
    require_client_auth: bool = False,
) -> grpc.ServerCredentials:
    """Server credentials; with `require_client_auth`, clients must present a certificate
    signed by `client_ca_file` (mTLS) and calls without one fail the handshake."""
    if require_client_auth and client_ca_file is None:
        raise ValueError("mTLS needs the CA that signs client certificates")
    return grpc.ssl_server_credentials(
        [(key_file.read_bytes(), cert_file.read_bytes())],
        root_certificates=client_ca_file.read_bytes() if client_ca_file else None,
        require_client_auth=require_client_auth,
    )


def channel_credentials(
    ca_file: Path, *, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """Channel credentials trusting `ca_file`, presenting a client certificate if given."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=key_file.read_bytes() if key_file else None,
        certificate_chain=cert_file.read_bytes() if cert_file else None,
    )


def server_credentials_for(settings: TlsSettings) -> grpc.ServerCredentials | None:
    """The server credentials the settings ask for; None for plaintext."""
    if settings.grpc_security == "plaintext":
        return None
    mtls = settings.grpc_security == "mtls"
    return server_credentials(
        settings.server_cert_file,
        settings.server_key_file,
        client_ca_file=settings.ca_file if mtls else None,
        require_client_auth=mtls,
    )


def channel_credentials_for(settings: TlsSettings, account: str) -> grpc.ChannelCredentials | None:
    """Credentials for calling PalmGrid services as service account `account` (its client
    certificate is presented under mTLS); None for plaintext."""
    if settings.grpc_security == "plaintext":
        return None
    if settings.grpc_security == "tls":
        return channel_credentials(settings.ca_file)
    cert, key = settings.client_cert_files(account)
    return channel_credentials(settings.ca_file, cert_file=cert, key_file=key)


def open_channel(
    settings: TlsSettings,
    service: str,
    *,
    account: str,
    options: list[tuple[str, object]] | None = None,
) -> grpc.Channel:
    """A channel to PalmGrid service `service`, authenticated as `account` under mTLS,
    spreading calls over every replica its target names (palmlib.balancing)."""
    target, balancing = channel_target(settings.service_address(service))
    options = [*balancing, *(options or [])]
    credentials = channel_credentials_for(settings, account)
    if credentials is None:
        return traced_channel(grpc.insecure_channel(target, options=options))
    return traced_channel(grpc.secure_channel(target, credentials, options=options))
