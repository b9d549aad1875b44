"""The dependency direction holds: protos → generated → servers / edge / clients.

The edge knows services only through descriptors and gRPC channels, so it never imports
`servers`; servers never import the edge or the clients; shared libraries (`cachetags`,
`palmlib`) import none of the three, and `palmlib` not `cachetags` either; and no service
imports another service's package (they talk over gRPC).
tests/toolchain/test_import_contracts.py checks the same rules, and cycles, with
import-linter; this file needs nothing but the standard library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN: dict[str, set[str]] = {
    "edge": {"servers", "clients"},
    "clients": {"servers", "edge"},
    "servers": {"edge", "clients"},
    "cachetags": {"servers", "edge", "clients"},
    "palmlib": {"servers", "edge", "clients", "cachetags"},
}

# Service packages under servers/: each reaches the others only through their gRPC APIs.
SERVICES = (
    "account",
    "billing",
    "care",
    "outage",
    "expansion",
    "inspection",
    "notification",
    "ingest",
)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names the file at `path` imports, relative imports resolved against its
    place under `root`; `from a import b` yields both `a` and `a.b` (b may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imported_top_levels(path: Path, root: Path = ROOT) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path, root) if name}


def cross_service_imports(root: Path) -> list[str]:
    """Every import, under `root`/servers, of one service's package by another."""
    offenders = []
    for service in SERVICES:
        others = [f"servers.{other}" for other in SERVICES if other != service]
        for path in sorted((root / "servers" / service).rglob("*.py")):
            bad = {
                other
                for name in imported_modules(path, root)
                for other in others
                if name == other or name.startswith(other + ".")
            }
            if bad:
                offenders.append(f"{path.relative_to(root)} imports {', '.join(sorted(bad))}")
    return offenders


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    if not (ROOT / package).is_dir():
        pytest.skip(f"{package}/ does not exist in this checkout")
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from servers.runtime import serve\nimport edge.router\n")
    assert imported_top_levels(sample, tmp_path) == {"servers", "edge"}


def test_no_service_imports_another_services_package() -> None:
    assert cross_service_imports(ROOT) == []


def test_the_service_check_sees_every_way_of_naming_another_service(tmp_path: Path) -> None:
    billing = tmp_path / "servers" / "billing" / "payments"
    billing.mkdir(parents=True)
    (billing / "absolute.py").write_text("from servers.account.users import User\n")
    (billing / "package.py").write_text("from servers import care\n")
    (billing / "plain.py").write_text("import servers.outage.models\n")
    (billing / "relative.py").write_text("from ...ingest import feeds\n")
    (billing / "own.py").write_text(
        "from servers.billing import models\nfrom .. import ledger\nfrom servers import runtime\n"
    )
    assert cross_service_imports(tmp_path) == [
        "servers/billing/payments/absolute.py imports servers.account",
        "servers/billing/payments/package.py imports servers.care",
        "servers/billing/payments/plain.py imports servers.outage",
        "servers/billing/payments/relative.py imports servers.ingest",
    ]
