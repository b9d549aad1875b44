"""`palm users`: staff accounts (create, grant, revoke, disable, reset-password) and
their sessions."""

from __future__ import annotations

import secrets
import string
from typing import Annotated

import typer
from google.protobuf.message import Message

from clients.staff import output
from clients.staff.admin import admin_call
from clients.staff.commands.signin import user_panel
from clients.staff.lookup import user_name
from clients.staff.rpc import call
from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_service_pb2, account_service_pb2_grpc
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.type.v1.identity_pb2 import PrincipalKind

group = typer.Typer(name="users", help="Staff accounts and their sessions.", no_args_is_help=True)
sessions_group = typer.Typer(
    name="sessions", help="A user's sessions: list, revoke.", no_args_is_help=True
)
group.add_typer(sessions_group)
UserArg = Annotated[str, typer.Argument(help="a username, or `users/ID`")]
Coverage = account_pb.SupplyOfficeCoverage


def temporary_password() -> str:
    """A random first password meeting the policy (letters, digits, a special
    character), to be changed at the first login."""
    letters = "".join(secrets.choice(string.ascii_letters) for _ in range(10))
    digits = "".join(secrets.choice(string.digits) for _ in range(3))
    return f"{letters}-{digits}!"


def coverage_label(user: account_pb.User) -> str:
    coverage = Coverage.Name(user.supply_office_coverage)
    return output.enum_label(coverage, "SUPPLY_OFFICE_COVERAGE_")


def _show_user(user: account_pb.User, as_json: bool) -> None:
    output.show(user, as_json, lambda: user_panel(user))


@group.command("list")
def list_users(
    role: Annotated[str, typer.Option("--role", help="only holders of this role")] = "",
    office: Annotated[str, typer.Option("--office", help="only staff of this office")] = "",
    prefix: Annotated[str, typer.Option("--prefix", help="usernames starting so")] = "",
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List staff accounts.

    Example: `palm users list --role dispatcher`
    """
    request = admin_pb.ListUsersRequest(
        kind=PrincipalKind.PRINCIPAL_KIND_STAFF,
        role=output.resource("roles", role) if role else "",
        supply_office=office,
        username_prefix=prefix,
        page_size=limit,
        page_token=page_token,
    )
    reply: admin_pb.ListUsersResponse = admin_call("ListUsers", request)
    rows = [
        (
            u.username,
            u.display_name,
            output.enum_label(account_pb.UserState.Name(u.state), "USER_STATE_"),
            ", ".join(r.removeprefix("roles/") for r in u.roles),
            ", ".join(u.supply_offices)
            or output.enum_label(
                Coverage.Name(u.supply_office_coverage), "SUPPLY_OFFICE_COVERAGE_"
            ),
            output.when(u.last_login_time, zone=False),
        )
        for u in reply.users
    ]
    columns = ["username", "name", "state", "roles", "offices", "last login"]
    output.show_page(reply, as_json, "staff", columns, rows)


@group.command()
def show(user: UserArg, as_json: output.JsonFlag = False) -> None:
    """Show a staff account.

    Example: `palm users show dispatcher`
    """
    found = get_user(user_name(user))
    _show_user(found, as_json)


def get_user(name: str) -> account_pb.User:
    reply: account_pb.User = call(
        "account",
        account_service_pb2_grpc.AccountServiceStub,
        "GetUser",
        account_service_pb2.GetUserRequest(name=name),
    )
    return reply


@group.command()
def create(
    username: Annotated[str, typer.Argument(help="6 to 32 ASCII letters")],
    display_name: Annotated[str, typer.Option("--name", help="the name people see")],
    role: Annotated[list[str], typer.Option("--role", help="a role to grant (repeatable)")],
    office: Annotated[
        list[str] | None, typer.Option("--office", help="a supply office it may reach (repeatable)")
    ] = None,
    all_offices: Annotated[bool, typer.Option("--all-offices", help="every office")] = False,
    as_json: output.JsonFlag = False,
) -> None:
    """Create a staff account with a random temporary password, printed once to hand
    over; it must be changed at the first login.

    Example: `palm users create zhangwei --name 张伟 --role agent --office QJ-QL`
    """
    if all_offices and office:
        raise typer.BadParameter("give --office or --all-offices, not both")
    coverage = (
        Coverage.SUPPLY_OFFICE_COVERAGE_ALL
        if all_offices
        else Coverage.SUPPLY_OFFICE_COVERAGE_LISTED
        if office
        else Coverage.SUPPLY_OFFICE_COVERAGE_NONE
    )
    password = temporary_password()
    request = admin_pb.CreateStaffUserRequest(
        user=account_pb.User(username=username, display_name=display_name),
        roles=[output.resource("roles", r) for r in role],
        supply_office_coverage=coverage,
        supply_offices=office or [],
        temporary_password=password,
    )
    created: account_pb.User = admin_call("CreateStaffUser", request)
    _show_user(created, as_json)
    if not as_json:
        output.console.print(f"temporary password: {password}")


RoleArg = Annotated[str, typer.Argument(help="the role, e.g. dispatcher")]


@group.command()
def grant(user: UserArg, role: RoleArg, as_json: output.JsonFlag = False) -> None:
    """Grant a role.

    Example: `palm users grant zhangwei editor`
    """
    _change_role("GrantRole", admin_pb.GrantRoleRequest, user, role, as_json)


@group.command()
def revoke(user: UserArg, role: RoleArg, as_json: output.JsonFlag = False) -> None:
    """Revoke a role.

    Example: `palm users revoke zhangwei editor`
    """
    _change_role("RevokeRole", admin_pb.RevokeRoleRequest, user, role, as_json)


def _change_role(
    method: str, request_class: type[Message], user: str, role: str, as_json: bool
) -> None:
    request = request_class(name=user_name(user), role=output.resource("roles", role))
    reply = admin_call(method, request)
    output.show(reply, as_json, lambda: user_panel(reply.user))


@group.command()
def disable(
    user: UserArg,
    reason: Annotated[str, typer.Option("--reason")],
    as_json: output.JsonFlag = False,
) -> None:
    """Disable an account; its sessions end at once.

    Example: `palm users disable zhangwei --reason "left the company"`
    """
    request = admin_pb.DisableUserRequest(name=user_name(user), reason=reason)
    reply: admin_pb.DisableUserResponse = admin_call("DisableUser", request)
    output.show(reply, as_json, lambda: user_panel(reply.user))
    if not as_json:
        output.console.print(f"{reply.ended_session_count} session(s) ended")


@group.command()
def enable(user: UserArg, as_json: output.JsonFlag = False) -> None:
    """Enable a disabled account.

    Example: `palm users enable zhangwei`
    """
    reply: admin_pb.EnableUserResponse = admin_call(
        "EnableUser", admin_pb.EnableUserRequest(name=user_name(user))
    )
    output.show(reply, as_json, lambda: user_panel(reply.user))


@group.command("reset-password")
def reset_password(user: UserArg, as_json: output.JsonFlag = False) -> None:
    """Set a random temporary password (printed once) and end the user's sessions.

    Example: `palm users reset-password zhangwei`
    """
    password = temporary_password()
    request = admin_pb.ResetPasswordRequest(name=user_name(user), temporary_password=password)
    reply: admin_pb.ResetPasswordResponse = admin_call("ResetPassword", request)
    output.show(reply, as_json, lambda: user_panel(reply.user))
    if not as_json:
        output.console.print(f"temporary password: {password}")
        output.console.print(f"{reply.ended_session_count} session(s) ended")


@sessions_group.command("list")
def list_sessions(
    user: UserArg,
    limit: output.Limit = 50,
    as_json: output.JsonFlag = False,
) -> None:
    """List a user's sessions.

    Example: `palm users sessions list dispatcher`
    """
    request = account_service_pb2.ListSessionsRequest(user=user_name(user), page_size=limit)
    reply: account_service_pb2.ListSessionsResponse = call(
        "account", account_service_pb2_grpc.AccountServiceStub, "ListSessions", request
    )
    rows = [
        (
            s.name.removeprefix("sessions/"),
            output.enum_label(account_pb.SessionState.Name(s.state), "SESSION_STATE_"),
            output.when(s.create_time, zone=False),
            output.when(s.last_activity_time, zone=False),
            s.client_ip,
        )
        for s in reply.sessions
    ]
    columns = ["session", "state", "started", "last active", "address"]
    output.show_page(reply, as_json, f"sessions of {user}", columns, rows)


@sessions_group.command("revoke")
def revoke_session(
    session: Annotated[str, typer.Argument(help="the session, `sessions/ID` or ID")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """End a session at once.

    Example: `palm users sessions revoke 4f60... --reason "lost laptop"`
    """
    request = admin_pb.RevokeSessionRequest(
        name=output.resource("sessions", session), reason=reason
    )
    reply: admin_pb.RevokeSessionResponse = admin_call("RevokeSession", request)
    output.show(reply, as_json, lambda: f"revoked {reply.session.name}")


def register(app: typer.Typer) -> None:
    app.add_typer(group)
