"""The edge knows services only through descriptors and channels: it never imports
`servers` (protos → generated → servers / edge / clients)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EDGE = Path(__file__).parents[2] / "edge"


def test_edge_sources_never_import_servers() -> None:
    offenders = []
    for path in sorted(EDGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "servers"]
    assert offenders == []


def test_importing_the_edge_loads_no_server_module() -> None:
    code = (
        "import sys, edge.app, edge.__main__, edge.openapi; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'servers'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_surface_is_complete() -> None:
    import edge

    assert sorted(edge.__all__) == sorted(set(edge.__all__))
    for name in edge.__all__:
        assert getattr(edge, name) is not None
