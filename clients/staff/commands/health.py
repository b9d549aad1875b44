"""`palm health`: every PalmGrid service and its dependencies. Each service (and the
worker's jobs API) is asked over `grpc.health.v1` for itself ("") and for its database
("database", which the server checks there and then); each Memcached node of
`PALMGRID_MEMCACHED_SERVERS` is asked as the edge's `/healthz` asks it
(`cachetags.health`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.staff import output
from clients.staff.channels import open_channel
from clients.staff.config import DEFAULT_PORTS, load_config
from clients.staff.errors import UNAVAILABLE

CHECK_TIMEOUT_SECONDS = 3.0
# The health-check name under which a server reports its database (servers.runtime.health).
DATABASE = "database"
SERVING = "SERVING"


def service_states(service: str) -> tuple[str, str]:
    """(the service's state, its database's): SERVING, NOT_SERVING, ... or the gRPC code
    of a failed check (UNAVAILABLE)."""
    config = load_config()
    states = []
    with open_channel(config, service) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", DATABASE):
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=name), timeout=CHECK_TIMEOUT_SECONDS
                )
            except grpc.RpcError as error:
                states.append(str(error.code().name))
                continue
            states.append(str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)))
    return states[0], states[1]


class _ConfiguredNodes:
    """The Memcached nodes the processes are configured with, as `node_states` reads a
    pool: the CLI holds no pool, so every node that answers is UP."""

    def __init__(self, servers: Sequence[str]) -> None:
        self.servers = [(name.rpartition(":")[0], int(name.rpartition(":")[2])) for name in servers]

    def live_servers(self) -> list[str]:
        return [f"{host}:{port}" for host, port in self.servers]


def memcached_states(servers: Sequence[str]) -> dict[str, str]:
    """`host:port` → UP or DOWN for each of `servers`."""
    # Imported here: the cache library pulls in asyncio clients and metrics that every
    # other palm command would pay for at start-up (a third of a second here).
    from cachetags.health import node_states

    return asyncio.run(node_states(_ConfiguredNodes(servers)))


def health(as_json: output.JsonFlag = False) -> None:
    """Ask every service and the worker for their health and their database's
    (NOT_SERVING while starting or draining, UNAVAILABLE when unreachable), and each
    Memcached node whether it answers; exits 7 when a service or database is not
    SERVING. A Memcached node DOWN is shown but does not fail the check: without the
    cache the system still answers, more slowly.

    Example: `palm health`
    """
    config = load_config()
    checked = {service: service_states(service) for service in DEFAULT_PORTS}
    services = {service: states[0] for service, states in checked.items()}
    databases = {service: states[1] for service, states in checked.items()}
    memcached = memcached_states(config.memcached_servers)
    healthy = all(state == SERVING for state in (*services.values(), *databases.values()))
    if as_json:  # one document, shaped like the edge's /healthz
        report = {
            "status": SERVING if healthy else "NOT_SERVING",
            "services": services,
            "databases": databases,
            "memcached": memcached,
        }
        typer.echo(json.dumps(report, indent=2))
    else:
        rows = [(s, config.target(s), services[s], databases[s]) for s in checked]
        columns = ["service", "target", "state", "database"]
        output.console.print(output.table("services", columns, rows, timed=False))
        nodes = [(node, state) for node, state in memcached.items()]
        output.console.print(output.table("memcached", ["node", "state"], nodes, timed=False))
    if not healthy:
        raise typer.Exit(UNAVAILABLE)


def register(app: typer.Typer) -> None:
    app.command()(health)
