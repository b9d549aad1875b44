"""`python -m clients.staff`: the staff CLI.

python -m clients.staff login admin
python -m clients.staff methods billing
python -m clients.staff call BillingAdminService/ListCustomers '{"pageSize": 5}'
python -m clients.staff whoami
python -m clients.staff import-progress importJobs/0f3a9c2e41d7b655
python -m clients.staff logout
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import grpc
import typer
from google.protobuf import json_format
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from clients.staff.catalog import all_rpcs, find_rpc
from clients.staff.channels import open_channel
from clients.staff.config import load_config
from clients.staff.imports import follow_import_job
from clients.staff.session import NotSignedIn, identity_metadata, new_captcha, sign_in, sign_out

app = typer.Typer(help="PalmGrid staff CLI (gRPC).", no_args_is_help=True)
console = Console()


def _fail(message: str, code: int = 1) -> None:
    Console(stderr=True).print(f"[red]{message}[/red]")
    raise typer.Exit(code)


def _describe_error(error: grpc.RpcError) -> str:
    """The status code, message and decoded details of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    text = f"{error.code().name}: {error.details()}"
    if status is not None:
        details = [json_format.MessageToDict(d) for d in status.details]
        if details:
            text += "\n" + json.dumps(details, ensure_ascii=False, indent=2)
    return text


@app.command()
def login(username: str, password: str = typer.Option(..., prompt=True, hide_input=True)) -> None:
    """Sign in as a staff member (captcha answer from PALMGRID_DEV_CAPTCHA in dev)."""
    config = load_config()
    try:
        captcha = new_captcha(config)
        answer = os.environ.get("PALMGRID_DEV_CAPTCHA")
        if not answer:
            image = Path(tempfile.mkdtemp()) / "captcha.png"
            image.write_bytes(captcha.image_png)
            answer = typer.prompt(f"captcha ({image})")
        reply = sign_in(config, username, password, captcha.name, answer)
    except grpc.RpcError as error:
        _fail(_describe_error(error))
        return
    console.print(f"signed in as {username}; session {reply.session.name}")
    if reply.displaced_session_count:
        console.print(f"{reply.displaced_session_count} other session(s) were signed out")


@app.command()
def logout() -> None:
    """End the stored session."""
    sign_out(load_config())
    console.print("signed out")


@app.command()
def methods(service: str = typer.Argument("", help="only this service, e.g. billing")) -> None:
    """List every RPC the CLI can call."""
    table = Table("method", "request")
    for name, rpc in sorted(all_rpcs().items()):
        if not service or rpc.service == service:
            table.add_row(name, rpc.method.input_type.full_name)
    console.print(table)


@app.command()
def call(
    method: str = typer.Argument(..., help="Service/Method or package.Service/Method"),
    request: str = typer.Argument("{}", help="the request as proto3 JSON"),
    anonymous: bool = typer.Option(False, help="call without signing in (public methods)"),
) -> None:
    """Call any RPC with a JSON request and print the JSON answer."""
    config = load_config()
    try:
        rpc = find_rpc(method)
    except KeyError as exc:
        _fail(str(exc), 2)
        return
    try:
        message = json_format.Parse(request, rpc.request_class()())
    except json_format.ParseError as exc:
        _fail(f"bad request JSON: {exc}", 2)
        return
    try:
        metadata = [] if anonymous else identity_metadata(config, rpc.service)
        with open_channel(config, rpc.service) as channel:
            stub = channel.unary_unary(
                rpc.path,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=rpc.response_class().FromString,
            )
            reply = stub(message, metadata=metadata, timeout=30)
    except NotSignedIn as exc:
        _fail(str(exc))
        return
    except grpc.RpcError as error:
        _fail(_describe_error(error))
        return
    console.print_json(json_format.MessageToJson(reply, ensure_ascii=False))


@app.command(name="import-progress")
def import_progress(
    job: str = typer.Argument(..., help="the import job, importJobs/{id}"),
    interval: float = typer.Option(1.0, help="seconds between looks"),
) -> None:
    """Follow an ingest import job with a progress bar until it ends; print its counts."""
    config = load_config()
    try:
        metadata = identity_metadata(config, "ingest")
        with open_channel(config, "ingest") as channel:
            follow_import_job(channel, metadata, job, console, interval)
    except NotSignedIn as exc:
        _fail(str(exc))
    except grpc.RpcError as error:
        _fail(_describe_error(error))


@app.command()
def whoami() -> None:
    """Show the signed-in staff member."""
    call("palmgrid.account.v1.AccountService/GetUser", '{"name": "users/me"}', anonymous=False)


if __name__ == "__main__":
    sys.exit(app())
