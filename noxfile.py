"""PalmGrid's task runner. `./dev SESSION` runs one of these inside .venv.

`./dev test` is what CI runs: system tools, lint, types, the codegen check, the suite.
Long runs (benchmarks, soak) have sessions of their own and are not part of `test`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "none"
nox.options.sessions = ["test"]

PROTO_ROOT = ROOT / "protos"
BUF_LINT_PLUGIN = ROOT / "node_modules" / ".bin" / "protoc-gen-buf-lint"


def _apt_install(session: nox.Session, *packages: str) -> None:
    """Install Debian packages when running as root; explain otherwise."""
    if os.geteuid() != 0:
        session.error(f"missing {', '.join(packages)}: install them with apt-get (needs root)")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", *packages, external=True, env=env)


@nox.session
def system(session: nox.Session) -> None:
    """Install the system tools the suite starts for real: memcached, nginx (the load
    balancer of the scale-out test), pg_dump and pg_restore (the backup test), and buf."""
    packages = {
        "memcached": "memcached",
        "nginx": "nginx",
        "pg_dump": "postgresql-client",
        "pg_restore": "postgresql-client",
    }
    missing = sorted({package for tool, package in packages.items() if shutil.which(tool) is None})
    if missing:
        _apt_install(session, *missing)
    if not BUF_LINT_PLUGIN.exists():
        session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)


@nox.session
def codegen(session: nox.Session) -> None:
    """Regenerate generated/ from protos/."""
    session.run("python", "-m", "tools.codegen", "generate")


@nox.session(name="codegen_check")
def codegen_check(session: nox.Session) -> None:
    """Fail when generated/ differs from what protos/ produce."""
    session.run("python", "-m", "tools.codegen", "check")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on our Python, buf lint on the protos."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "-m", "tools.codegen", "lint")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on servers, edge, clients and tools."""
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (pytest args after --)."""
    session.run("pytest", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    """Everything CI checks; exits non-zero on the first failure."""
    system(session)
    lint(session)
    typecheck(session)
    codegen_check(session)
    tests(session)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks under bench/ (not part of `test`)."""
    if shutil.which("wrk") is None:
        _apt_install(session, "wrk")
    system(session)
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(name="import_crash")
def import_crash(session: nox.Session) -> None:
    """The staging import killed with SIGKILL halfway and resumed, at 100,000 rows (the
    suite runs it at 10,000; docs/ingest.md). Takes several minutes."""
    session.run(
        "pytest",
        "tests/ingest/test_import_crash.py",
        "-o",
        "timeout=3600",
        *session.posargs,
        env={"PALMGRID_TEST_IMPORT_ROWS": "100000"},
    )


@nox.session
def scaleout(session: nox.Session) -> None:
    """The scale-out test with 20-second phases (the suite runs 3-second ones): nginx,
    two edges, two replicas of account and billing, two Memcached nodes, two workers,
    faults injected under load; prints requests, errors and p99 per phase
    (docs/operations.md, Scale-out)."""
    system(session)
    session.run(
        "pytest",
        "tests/scaleout",
        "-s",
        "-o",
        "timeout=1800",
        *session.posargs,
        env={"PALMGRID_SCALEOUT_PHASE_SECONDS": "20"},
    )
