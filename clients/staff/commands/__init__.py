"""The `palm` command groups: each module here adds its commands to the root app in
its `register(app)`. A new group is a new module; nothing else names it."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    """Every module of this package registers its commands, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)
