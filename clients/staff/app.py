"""The `palm` application: the root typer app, every group of `commands` registered on
it, and one place that turns a failure into its message and exit code
(`clients.staff.errors`)."""

from __future__ import annotations

from typing import Any

import grpc
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from clients.staff.commands import register_all
from clients.staff.errors import CliError, describe, exit_code_of


class PalmGroup(TyperGroup):
    """The root group: a failed RPC or a CLI check ends the command with its message on
    stderr and the exit code of its kind."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except grpc.RpcError as error:
            _fail(describe(error), exit_code_of(error))
        except CliError as error:
            _fail([str(error)], error.exit_code)


def _fail(lines: list[str], code: int) -> None:
    stderr = Console(stderr=True)
    stderr.print(f"[red]error:[/red] {escape(lines[0])}")
    for line in lines[1:]:
        stderr.print(f"  {escape(line)}")
    raise typer.Exit(code)


app = typer.Typer(
    cls=PalmGroup,
    name="palm",
    help="PalmGrid for supply-office staff: every daily task as a command, over gRPC.\n\n"
    "Start with `palm login USERNAME`; `palm COMMAND --help` shows examples.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    # A traceback of a bug must not show local variables: they may hold the token.
    pretty_exceptions_show_locals=False,
)
register_all(app)


def main() -> None:
    """The console script `palm`."""
    app()
