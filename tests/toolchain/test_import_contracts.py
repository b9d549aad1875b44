"""The import contracts in `.importlinter` hold, and no module imports itself round a
circle: each module's imports point one way, so which module is the lower layer is
never in doubt.

import-linter checks the layers (servers, edge and clients import none of each other;
shared libraries import none of them), the independence of the services, the runtime's
ignorance of them, and acyclic sibling packages. The module-level cycle check below
covers every module of the checked packages, the edge's top level included.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Top-level packages that are not part of the product's dependency graph.
NOT_CHECKED = {"tools", "bench", "tests"}


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on `project` with its `.importlinter`; the project's packages are
    the ones found (it puts the working directory first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def root_packages(config: Path) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(config)
    return parser["importlinter"]["root_packages"].split()


def module_cycles(*packages: str) -> list[list[str]]:
    """Groups of modules of `packages` that import each other round a circle (strongly
    connected components of the direct-import graph, type-checking imports included)."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        # Tarjan's algorithm, iterative: (module, its imports not yet visited).
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, pending = work[-1]
            following = next(pending, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    imported = graph.find_modules_directly_imported_by(following)
                    work.append((following, iter(sorted(imported))))
                elif following in on_stack:
                    low[module] = min(low[module], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_product_package_is_under_contract() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_CHECKED
    missing = packages - set(root_packages(CONFIG))
    assert not missing, f"add {sorted(missing)} to root_packages (and a layer) in .importlinter"


def test_no_module_imports_itself_round_a_circle() -> None:
    assert module_cycles(*root_packages(CONFIG)) == []


# --- the checks catch what they are for ------------------------------------------------


def _write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with this repository's `.importlinter` and an empty module for every
    package its contracts name; it keeps every contract."""
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    named = set(root_packages(CONFIG))
    for section in parser.sections():
        for key in ("modules", "source_modules", "forbidden_modules", "ancestors"):
            named.update(parser[section].get(key, "").split())
    for name in named:
        _write(tmp_path, name.replace(".", "/") + "/__init__.py")
    return tmp_path


def test_the_sample_project_keeps_every_contract(project: Path) -> None:
    result = lint_imports(project)
    assert result.returncode == 0, result.stdout + result.stderr


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Ids of the contracts lint-imports reported broken."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    report = " ".join(result.stdout.split())  # names may wrap over lines
    return [
        section.removeprefix("importlinter:contract:")
        for section in parser.sections()
        if section.startswith("importlinter:contract:")
        and f"{parser[section]['name']} BROKEN" in report
    ]


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("servers/billing/reads.py", "import servers.account", "services"),
        ("servers/care/customers.py", "from servers.billing import x", "services"),
        ("servers/runtime/service.py", "import servers.care", "runtime"),
        ("edge/app.py", "import servers.runtime", "top-level"),
        ("edge/cli.py", "import clients", "top-level"),
        ("servers/devup.py", "import edge", "top-level"),
        ("cachetags/keys.py", "import edge", "top-level"),
    ],
)
def test_the_contracts_catch_an_import_against_the_direction(
    project: Path, module: str, imports: str, contract: str
) -> None:
    _write(project, "servers/billing/x.py")
    _write(project, module, imports + "\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert broken_contracts(result) == [contract], result.stdout


def test_the_contracts_catch_sibling_modules_importing_each_other(project: Path) -> None:
    _write(project, "servers/billing/payments/__init__.py")
    _write(project, "servers/billing/payments/service.py", "from . import jobs\n")
    _write(project, "servers/billing/payments/jobs.py", "from . import service\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert broken_contracts(result) == ["siblings"], result.stdout


def test_the_cycle_check_finds_a_circle_hidden_behind_type_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "circular_sample/__init__.py")
    _write(tmp_path, "circular_sample/app.py", "from circular_sample.openapi import build\n")
    _write(
        tmp_path,
        "circular_sample/openapi.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from circular_sample.app import Edge\n",
    )
    _write(tmp_path, "circular_sample/routes.py", "import circular_sample.app\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_cycles("circular_sample") == [["circular_sample.app", "circular_sample.openapi"]]
