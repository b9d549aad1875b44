"""`palm methods` and `palm call`: any RPC by name with a proto3 JSON body, for what no
command covers (like grpcurl, signed in as the staff member)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from google.protobuf import json_format

from clients.staff import output
from clients.staff.catalog import all_rpcs, find_rpc
from clients.staff.channels import open_channel
from clients.staff.config import load_config
from clients.staff.errors import USAGE, CliError
from clients.staff.rpc import TIMEOUT_SECONDS
from clients.staff.session import identity_metadata


def methods(
    service: Annotated[str, typer.Argument(help="only this service, e.g. billing")] = "",
) -> None:
    """List every RPC `palm call` can call, with its request message.

    Example: `palm methods outage`
    """
    rows = [
        (name, rpc.method.input_type.full_name)
        for name, rpc in sorted(all_rpcs().items())
        if not service or rpc.service == service
    ]
    output.console.print(output.table("RPCs", ["method", "request"], rows, timed=False))


def call(
    method: Annotated[str, typer.Argument(help="Service/Method or package.Service/Method")],
    request: Annotated[str, typer.Argument(help="the request as proto3 JSON")] = "{}",
    anonymous: Annotated[
        bool, typer.Option(help="call without signing in (public methods)")
    ] = False,
) -> None:
    """Call any RPC with a JSON request and print the JSON answer.

    Example: `palm call BillingAdminService/ListCustomers '{"pageSize": 5}'`
    """
    try:
        rpc = find_rpc(method)
    except KeyError as exc:
        raise CliError(str(exc.args[0]), USAGE) from None
    try:
        message = json_format.Parse(request, rpc.request_class()())
    except json_format.ParseError as exc:
        raise CliError(f"bad request JSON: {exc}", USAGE) from None
    config = load_config()
    metadata = [] if anonymous else identity_metadata(config, rpc.service)
    with open_channel(config, rpc.service) as channel:
        stub = channel.unary_unary(
            rpc.path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=rpc.response_class().FromString,
        )
        reply = stub(message, metadata=metadata, timeout=TIMEOUT_SECONDS)
    sys.stdout.write(output.to_json(reply) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(methods)
    app.command()(call)
