"""gRPC channels to PalmGrid services, presenting the CLI's client certificate."""

from __future__ import annotations

import grpc

from clients.staff.config import CliConfig


def credentials(config: CliConfig) -> grpc.ChannelCredentials | None:
    """mTLS (the CLI certificate) or server-only TLS; None for plaintext dev setups."""
    if config.security == "plaintext":
        return None
    root = config.ca_file.read_bytes()
    if config.security == "mtls":
        return grpc.ssl_channel_credentials(
            root_certificates=root,
            private_key=config.key_file.read_bytes(),
            certificate_chain=config.cert_file.read_bytes(),
        )
    return grpc.ssl_channel_credentials(root_certificates=root)


def open_channel(config: CliConfig, service: str) -> grpc.Channel:
    target = config.target(service)
    creds = credentials(config)
    return grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)
