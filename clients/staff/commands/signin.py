"""`palm login`, `palm logout`, `palm whoami`: the staff member's session."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import grpc
import typer
from rich.console import Console

from clients.staff import output
from clients.staff.captcha_view import terminal_image
from clients.staff.config import CliConfig, load_config
from clients.staff.errors import reason_of
from clients.staff.rpc import call
from clients.staff.session import new_captcha, sign_in, sign_out
from palmgrid.account.v1 import account_service_pb2, account_service_pb2_grpc
from palmgrid.account.v1 import resources_pb2 as account_pb

DEV_CAPTCHA = "PALMGRID_DEV_CAPTCHA"


def login(
    username: Annotated[str, typer.Argument(help="your staff username")],
    password: Annotated[
        str | None, typer.Option(help="the password (prompted for when left out)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Sign in: password prompt, then the captcha (drawn in a colour terminal, and saved
    to a file whose path is printed; in dev `PALMGRID_DEV_CAPTCHA` answers it).

    A staff member enrolled in a second factor is then asked for the authenticator's
    code (or a recovery code), with a new captcha.

    The session token goes to the user's config directory, readable by you only, and is
    never printed.

    Example: `palm login dispatcher`
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = typer.prompt("password", hide_input=True)
    config = load_config()
    try:
        reply = sign_in(config, username, password, *_solved_captcha(config))
    except grpc.RpcError as error:
        if reason_of(error) != "SECOND_FACTOR_REQUIRED":
            raise
        # The captcha was spent on the first try: the second one needs a new one.
        try:
            code = typer.prompt("second-factor code (authenticator or recovery code)")
        except typer.Abort:  # no terminal and nothing more on stdin: say why it failed
            raise error from None
        reply = sign_in(config, username, password, *_solved_captcha(config), code.strip())
    output.console.print(f"signed in as {username} (session {reply.session.name})")
    if reply.displaced_session_count:
        output.console.print(f"{reply.displaced_session_count} other session(s) were signed out")
    if reply.password_change_required:
        output.console.print("[yellow]your password must be changed before other work[/yellow]")


def _solved_captcha(config: CliConfig) -> tuple[str, str]:
    """A new captcha and its answer: shown to the user, or `PALMGRID_DEV_CAPTCHA`."""
    captcha = new_captcha(config)
    answer = os.environ.get(DEV_CAPTCHA, "")
    if not answer:
        image = config.session_file.parent / "captcha.png"
        image.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        image.write_bytes(captcha.image_png)
        stderr = Console(stderr=True)
        if stderr.is_terminal and stderr.color_system:
            stderr.print(terminal_image(captcha.image_png))
        stderr.print(f"captcha image: {image}")
        answer = typer.prompt("captcha")
    return captcha.name, answer


def logout() -> None:
    """End the session on the server and delete the stored token.

    Example: `palm logout`
    """
    sign_out(load_config())
    output.console.print("signed out")


def whoami(as_json: output.JsonFlag = False) -> None:
    """Show the signed-in staff member: roles and supply offices.

    Example: `palm whoami --json`
    """
    user: account_pb.User = call(
        "account",
        account_service_pb2_grpc.AccountServiceStub,
        "GetUser",
        account_service_pb2.GetUserRequest(name="users/me"),
    )
    output.show(user, as_json, lambda: user_panel(user))


def user_panel(user: account_pb.User) -> object:
    coverage = account_pb.SupplyOfficeCoverage.Name(user.supply_office_coverage)
    return output.fields(
        user.username,
        [
            ("name", user.name),
            ("display name", user.display_name),
            ("state", output.enum_label(account_pb.UserState.Name(user.state), "USER_STATE_")),
            ("roles", ", ".join(user.roles)),
            ("supply offices", output.enum_label(coverage, "SUPPLY_OFFICE_COVERAGE_")),
            ("offices", ", ".join(user.supply_offices)),
            ("last login", output.when(user.last_login_time)),
            ("password expires", output.when(user.password_expire_time)),
        ],
    )


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
