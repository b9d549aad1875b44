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


# What bench.grpc_gateway needs to build grpc-gateway (Go), the reference proxy.
GRPC_GATEWAY_PACKAGES = (
    "golang-go",
    "protobuf-compiler",
    "golang-grpc-gateway",
    "golang-github-grpc-ecosystem-grpc-gateway-dev",
    "golang-goprotobuf-dev",
    "golang-google-protobuf-dev",
    "golang-google-grpc-dev",
    "golang-google-genproto-dev",
)


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
    balancer of the scale-out test), pg_dump and pg_restore (the backup test), chromium
    with a CJK font (the console's browser tests), buf, and the console's vendored
    library from the npm lock."""
    packages = {
        "memcached": "memcached",
        "nginx": "nginx",
        "pg_dump": "postgresql-client",
        "pg_restore": "postgresql-client",
        "chromium": "chromium",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc": "fonts-wqy-microhei",
    }
    missing = sorted(
        {
            package
            for tool, package in packages.items()
            if shutil.which(tool) is None and not Path(tool).exists()
        }
    )
    if missing:
        _apt_install(session, *missing)
    if not BUF_LINT_PLUGIN.exists() or not (ROOT / "node_modules" / "uqr").exists():
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
    """The test suite (pytest args after --), on a worker per core (at most 4): most of a
    test's time is spent waiting on servers, so two workers on two cores finish in about
    0.6 of one's time. A module's tests stay on one worker (one server per module)."""
    workers = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadfile"]
    session.run("pytest", *workers, *session.posargs)


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
    gateway_tools = ("go", "protoc", "protoc-gen-go", "protoc-gen-grpc-gateway")
    if not all(shutil.which(tool) for tool in gateway_tools):
        _apt_install(session, *GRPC_GATEWAY_PACKAGES)
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


# The fault matrix (docs/reliability.md): each module holds faults with their pass
# criteria, each against a real running system. The suite runs them too; this runs just them.
FAULT_MATRIX = (
    "tests/e2e/test_fault_matrix.py",  # database stopped, restarted, stuck; services down
    "tests/e2e/test_cache_outage.py",  # a Memcached node killed, hung, back with old data
    "tests/worker/test_delivery_end_to_end.py",  # a worker killed with -9 mid-delivery
    "tests/notification/test_sender_crash.py",  # the notification process killed mid-send
)


@nox.session
def faults(session: nox.Session) -> None:
    """The fault matrix alone, with each test's outcome listed."""
    system(session)
    session.run("pytest", "-v", "-p", "no:cacheprovider", *FAULT_MATRIX, *session.posargs)


@nox.session(name="fuzz_api")
def fuzz_api(session: nox.Session) -> None:
    """Schemathesis over every route of a live system's edge as an anonymous caller, a
    customer and a staff member, 200 examples per operation with boundary values (the
    suite runs 1, fuzzing only); `-- --examples N --seed S --role R` to change it."""
    session.run("python", "-m", "tests.e2e.api_fuzz", *session.posargs)


@nox.session(name="fuzz_edge")
def fuzz_edge(session: nox.Session) -> None:
    """atheris over the edge's path templates, router and query decoder, and envelope
    opening: 10 minutes by default (the suite runs 5 s); libFuzzer options after --."""
    options = session.posargs or ["-max_total_time=600", "-timeout=5"]
    session.run("python", "-m", "tests.fuzz.run_atheris", "all", *options)


@nox.session
def scaleout(session: nox.Session) -> None:
    """The scale-out test with 20-second phases (`pytest tests/scaleout` runs 3-second
    ones; `./dev test` leaves it out, pyproject.toml says why): nginx,
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
