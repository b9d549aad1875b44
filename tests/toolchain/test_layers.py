"""The dependency direction holds: protos → generated → servers / edge / clients.

The edge knows services only through descriptors and gRPC channels, so it never imports
`servers`; servers never import the edge or the clients; shared libraries (`cachetags`,
`palmlib`) import none of the three, and `palmlib` not `cachetags` either.
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


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from servers.runtime import serve\nimport edge.router\n")
    assert imported_top_levels(sample) == {"servers", "edge"}
