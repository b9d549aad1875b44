"""`python -m servers.healthcheck SERVICE`: ask the service (or the worker, for its jobs
API) listening on this host for its `grpc.health.v1` status, with the process's own
settings and client certificate; exit 0 when SERVING, 1 otherwise (NOT_SERVING while
starting or draining, UNAVAILABLE when nothing answers). Kubernetes' readiness probe
of a service (deploy/k8s): its built-in gRPC probe speaks no TLS, and every service
requires mTLS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from palmlib.balancing import tls_name
from servers.runtime import tls
from servers.runtime.settings import GRPC_SERVER_NAMES, Settings, SettingsError, load_settings

CHECK_TIMEOUT_SECONDS = 3.0


def service_state(settings: Settings, service: str, port: int | None = None) -> str:
    """SERVING, NOT_SERVING, … or the gRPC code of a failed check, of `service` on
    127.0.0.1 (at `port`, default its configured one). The certificate is checked
    against the name others reach the service by (its target's host)."""
    address = f"127.0.0.1:{port or settings.service(service).port}"
    credentials = tls.channel_credentials_for(settings, service)
    if credentials is None:
        channel = grpc.insecure_channel(address)
    else:
        host = tls_name(settings.service_address(service))
        options = [("grpc.ssl_target_name_override", host)]
        channel = grpc.secure_channel(address, credentials, options=options)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=CHECK_TIMEOUT_SECONDS
        )
    except grpc.RpcError as error:
        return str(error.code().name)
    finally:
        channel.close()
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.healthcheck", description=__doc__)
    parser.add_argument("service", choices=GRPC_SERVER_NAMES)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 2
    state = service_state(settings, args.service)
    print(f"{args.service}: {state}")
    return 0 if state == "SERVING" else 1


if __name__ == "__main__":
    raise SystemExit(main())
