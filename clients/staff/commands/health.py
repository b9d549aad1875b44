"""`palm health`: whether every PalmGrid service answers its `grpc.health.v1` check."""

from __future__ import annotations

import json

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.staff import output
from clients.staff.channels import open_channel
from clients.staff.config import DEFAULT_PORTS, load_config
from clients.staff.errors import UNAVAILABLE

CHECK_TIMEOUT_SECONDS = 3.0


def service_state(service: str) -> str:
    """SERVING, NOT_SERVING, ... or the gRPC code of a failed check (UNAVAILABLE)."""
    config = load_config()
    try:
        with open_channel(config, service) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=CHECK_TIMEOUT_SECONDS
            )
    except grpc.RpcError as error:
        return str(error.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def health(as_json: output.JsonFlag = False) -> None:
    """Ask every service for its health (NOT_SERVING while it starts or drains,
    UNAVAILABLE when it cannot be reached); exits 7 when any is not SERVING.

    Example: `palm health`
    """
    config = load_config()
    states = {service: service_state(service) for service in DEFAULT_PORTS}
    if as_json:  # one document: {"account": "SERVING", ...}
        typer.echo(json.dumps(states, indent=2))
    else:
        rows = [(s, config.target(s), state) for s, state in states.items()]
        output.console.print(
            output.table("services", ["service", "target", "state"], rows, timed=False)
        )
    if any(state != "SERVING" for state in states.values()):
        raise typer.Exit(UNAVAILABLE)


def register(app: typer.Typer) -> None:
    app.command()(health)
