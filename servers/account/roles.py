"""Roles: the default role table (`default_roles.toml`), its expansion against the
permissions the contract declares, seeding at start-up, and what a user's roles grant.
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from sqlmodel import Session, select

from servers.account import models
from servers.account.catalog import declared_permissions


@dataclass(frozen=True)
class DefaultRole:
    """A role as the defaults describe it."""

    id: str
    title: str
    description: str
    # Permission names and patterns, sets already included.
    selectors: tuple[str, ...]
    # Whether the role may hold permissions of internal (service-to-service) methods.
    internal: bool


# Verbs of permissions that only read. Anything else changes something (`verify` too:
# binding a customer on staff's word is one).
READ_VERBS = frozenset(
    {
        "get",
        "list",
        "search",
        "watch",
        "batchGet",
        "lookup",
        "listDue",
        "listDueWithin",
        "listByArea",
    }
)


@cache
def _defaults() -> Mapping[str, Any]:
    text = resources.files("servers.account").joinpath("default_roles.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def default_roles() -> tuple[DefaultRole, ...]:
    """The roles of `default_roles.toml`, in file order."""
    data = _defaults()
    sets: Mapping[str, list[str]] = data.get("sets", {})
    roles = []
    for role_id, spec in data["roles"].items():
        selectors = [entry for name in spec.get("include", ()) for entry in sets[name]]
        selectors += spec.get("permissions", [])
        roles.append(
            DefaultRole(
                id=role_id,
                title=spec["title"],
                description=spec["description"],
                selectors=tuple(selectors),
                internal=bool(spec.get("internal", False)),
            )
        )
    return tuple(roles)


def expand(role: DefaultRole, catalog: Mapping[str, bool] | None = None) -> list[str]:
    """The declared permissions `role`'s selectors match, sorted. `catalog` maps each
    permission to whether it is internal-only (default: the contract's)."""
    catalog = declared_permissions() if catalog is None else catalog
    return sorted(
        permission
        for permission, internal in catalog.items()
        if (role.internal or not internal)
        and any(fnmatch.fnmatchcase(permission, selector) for selector in role.selectors)
    )


def unmatched_selectors(role: DefaultRole, catalog: Mapping[str, bool] | None = None) -> list[str]:
    """Selectors of `role` that match no declared permission (typos, removed methods)."""
    catalog = declared_permissions() if catalog is None else catalog
    return [s for s in role.selectors if not any(fnmatch.fnmatchcase(p, s) for p in catalog)]


def seed_roles(session: Session, now: datetime, catalog: Mapping[str, bool] | None = None) -> None:
    """Create the default roles that do not exist, and grant permissions the contract
    declares for the first time to the default roles whose selectors match them.
    Permissions that administrators removed stay removed."""
    catalog = declared_permissions() if catalog is None else catalog
    known = set(session.exec(select(models.PermissionCatalogEntry.permission)).all())
    new = set(catalog) - known
    for role in default_roles():
        row = session.get(models.Role, role.id)
        granted = expand(role, catalog)
        if row is None:
            session.add(
                models.Role(
                    id=role.id,
                    title=role.title,
                    description=role.description,
                    permissions=granted,
                    update_time=now,
                )
            )
            continue
        added = [p for p in granted if p in new and p not in row.permissions]
        if known and added:
            row.permissions = sorted({*row.permissions, *added})
            row.version += 1
            row.update_time = now
            session.add(row)
    for permission in sorted(new):
        session.add(models.PermissionCatalogEntry(permission=permission, first_seen_time=now))


def grants_writes(permissions: Iterable[str]) -> bool:
    """Whether `permissions` change anything beyond the holder's own account: a verb
    other than reading, outside the `self` set of default_roles.toml (own password,
    sessions, subscriptions, messages); "*" does."""
    own: list[str] = _defaults()["sets"]["self"]
    for permission in permissions:
        if any(fnmatch.fnmatchcase(permission, selector) for selector in own):
            continue
        if permission == "*" or permission.rsplit(".", 1)[-1] not in READ_VERBS:
            return True
    return False


def role_name(role_id: str) -> str:
    return f"roles/{role_id}"


def role_etag(role: models.Role) -> str:
    return hashlib.sha256(f"{role.id}:{role.version}".encode()).hexdigest()[:16]


def permissions_of(session: Session, role_ids: Iterable[str]) -> list[str]:
    """Every permission (or pattern) the roles grant, sorted, each once."""
    ids = list(role_ids)
    if not ids:
        return []
    rows = session.exec(select(models.Role).where(models.Role.id.in_(ids))).all()  # type: ignore[attr-defined]
    return sorted({p for row in rows for p in row.permissions})


def roles_of(session: Session, user_id: str) -> list[str]:
    """The role ids a user holds, sorted."""
    rows = session.exec(
        select(models.UserRole.role_id).where(models.UserRole.user_id == user_id)
    ).all()
    return sorted(rows)
