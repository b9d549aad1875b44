"""`palm params`: the system parameters (session timeouts, lockout, notice periods...)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from google.protobuf import field_mask_pb2, json_format
from google.protobuf.descriptor import FieldDescriptor

from clients.staff import output
from clients.staff.admin import admin_call
from clients.staff.errors import USAGE, CliError
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1.admin_resources_pb2 import SystemParameters

group = typer.Typer(name="params", help="System parameters.", no_args_is_help=True)
NAME = "systemParameters"
READ_ONLY = {"name", "update_time", "updater", "etag"}


def _panel(params: SystemParameters) -> object:
    values = json_format.MessageToDict(params, always_print_fields_with_no_presence=True)
    return output.fields(
        NAME, [(key, json.dumps(value, ensure_ascii=False)) for key, value in values.items()]
    )


@group.command()
def get(
    key: Annotated[str, typer.Argument(help="one parameter, e.g. sessionIdleTimeout")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Show every parameter, or one.

    Example: `palm params get plannedOutageNotice`
    """
    params: SystemParameters = admin_call(
        "GetSystemParameters", system_pb.GetSystemParametersRequest(name=NAME)
    )
    if not key:
        output.show(params, as_json, lambda: _panel(params))
        return
    field = _field(key)
    value = json_format.MessageToDict(params, always_print_fields_with_no_presence=True).get(
        field.json_name
    )
    typer.echo(json.dumps(value, ensure_ascii=False))


@group.command("set")
def set_param(
    key: Annotated[str, typer.Argument(help="the parameter, e.g. sessionIdleTimeout")],
    value: Annotated[
        str, typer.Argument(help='its proto3 JSON value: 1800s, 5, true, {"startTime": ...}')
    ],
    as_json: output.JsonFlag = False,
) -> None:
    """Change one parameter; the change is audited with your name.

    Example: `palm params set sessionIdleTimeout 1200s`
    """
    field = _field(key)
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value  # a bare string: "1800s", "Asia/Shanghai"
    try:
        changed = json_format.ParseDict({field.json_name: parsed}, SystemParameters(name=NAME))
    except json_format.ParseError as exc:
        raise CliError(f"bad value for {key}: {exc}", USAGE) from None
    request = system_pb.UpdateSystemParametersRequest(
        system_parameters=changed, update_mask=field_mask_pb2.FieldMask(paths=[field.name])
    )
    updated: SystemParameters = admin_call("UpdateSystemParameters", request)
    output.show(updated, as_json, lambda: _panel(updated))


def _field(key: str) -> FieldDescriptor:
    """The parameter's field, by its JSON (sessionIdleTimeout) or proto name."""
    for field in SystemParameters.DESCRIPTOR.fields:
        if key in (field.name, field.json_name) and field.name not in READ_ONLY:
            return field
    names = sorted(
        f.json_name for f in SystemParameters.DESCRIPTOR.fields if f.name not in READ_ONLY
    )
    raise typer.BadParameter(f"no parameter {key!r}; one of: {', '.join(names)}", param_hint="KEY")


def register(app: typer.Typer) -> None:
    app.add_typer(group)
