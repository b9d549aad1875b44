"""`palm roles`: the roles and the permissions each grants."""

from __future__ import annotations

from typing import Annotated

import typer

from clients.staff import output
from clients.staff.admin import admin_call
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1.admin_resources_pb2 import Role

group = typer.Typer(name="roles", help="Roles and their permissions.", no_args_is_help=True)


@group.command("list")
def list_roles(as_json: output.JsonFlag = False) -> None:
    """List the roles, with how many users hold each.

    Example: `palm roles list`
    """
    reply: system_pb.ListRolesResponse = admin_call(
        "ListRoles", system_pb.ListRolesRequest(page_size=1000)
    )
    rows = [
        (r.name.removeprefix("roles/"), r.title, r.user_count, len(r.permissions))
        for r in reply.roles
    ]
    columns = ["role", "title", "users", "permissions"]
    output.show_page(reply, as_json, "roles", columns, rows, timed=False)


@group.command()
def show(
    role: Annotated[str, typer.Argument(help="the role, e.g. dispatcher")],
    as_json: output.JsonFlag = False,
) -> None:
    """Show a role and every permission it grants.

    Example: `palm roles show dispatcher`
    """
    found: Role = admin_call(
        "GetRole", system_pb.GetRoleRequest(name=output.resource("roles", role))
    )

    def render() -> object:
        return output.fields(
            found.name,
            [
                ("title", found.title),
                ("description", found.description),
                ("users", found.user_count),
                ("permissions", "\n".join(found.permissions)),
            ],
        )

    output.show(found, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
