"""The production profile on a real PostgreSQL: refusals each name their cause, the
schema comes only from `python -m servers.migrate`, and a service refuses to start on an
unmigrated or outdated schema. The processes run as an operator starts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.runtime.identity import ensure_key_pair
from servers.runtime.migrations import default_migrations_dir, migrate
from tests.postgres import postgres_schema
from tests.runtime.conftest import production_environment

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


@pytest.fixture(scope="module")
def key_material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Certificates and an identity key in files an operator provisioned."""
    directory = tmp_path_factory.mktemp("production")
    return {
        **production_environment(directory, accounts=("care",)),
        "PALMGRID_MEMCACHED_SERVERS": "127.0.0.1:11211",
        "PALMGRID_TLS_CLIENT_CERT_FILE": str(directory / "pki" / "care.pem"),
        "PALMGRID_TLS_CLIENT_KEY_FILE": str(directory / "pki" / "care.key"),
        "PALMGRID_CARE_PORT": "0",
    }


@pytest.fixture
def database(postgres_database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty PostgreSQL schema of its own for one test."""
    with postgres_schema(postgres_database, f"prod_{request.node.name[:40].lower()}") as url:
        yield url


def _environment(values: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PALMGRID_", "OTEL_"))}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'generated'}"
    return {**env, **values}


def _run(module: str, args: list[str], values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=_environment(values),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )


def _refusal(module: str, values: dict[str, str]) -> str:
    """What `module` printed when it refused to start (exit code 2)."""
    result = _run(module, [], values)
    assert result.returncode == 2, result.stderr
    return result.stderr


def _start_care(values: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "servers.care"],
        cwd=ROOT,
        env=_environment(values),
        stderr=subprocess.PIPE,
        text=True,
    )


def _serving_line(process: subprocess.Popen[str]) -> str:
    """The line the service logs once it serves; fails when it exits first."""
    assert process.stderr is not None
    for line in process.stderr:
        if '"serving"' in line:
            return line
    pytest.fail(f"care exited with {process.wait(START_TIMEOUT)} before serving")


def test_sqlite_is_refused_naming_the_variable(key_material: dict[str, str]) -> None:
    for module in ("servers.care", "servers.worker"):
        process = module.rpartition(".")[2]
        assert (
            f"{process} would use SQLite: production requires PostgreSQL (set "
            f"PALMGRID_DATABASE_URL or PALMGRID_{process.upper()}_DATABASE_URL)"
        ) in _refusal(module, key_material)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PALMGRID_DEV_CAPTCHA", "1234", "PALMGRID_DEV_CAPTCHA (fixed captcha answers)"),
        ("PALMGRID_IDENTITY_KEY_ID", "dev", "PALMGRID_IDENTITY_KEY_ID=dev (the dev signing key)"),
        ("PALMGRID_CARE_DEMO_DATA", "true", "PALMGRID_CARE_DEMO_DATA=true (demo data)"),
        ("PALMGRID_GRPC_SECURITY", "plaintext", "PALMGRID_GRPC_SECURITY=plaintext"),
    ],
)
def test_dev_settings_are_refused_each_by_name(
    key_material: dict[str, str], database: str, name: str, value: str, message: str
) -> None:
    if name == "PALMGRID_IDENTITY_KEY_ID":
        ensure_key_pair(Path(key_material["PALMGRID_IDENTITY_KEYS_DIR"]), "dev")
    env = {**key_material, "PALMGRID_DATABASE_URL": database, name: value}
    refusal = _refusal("servers.care", env)
    assert "the production profile refuses" in refusal
    assert message in refusal


def test_an_unmigrated_schema_is_refused_then_migrate_lets_the_service_start(
    key_material: dict[str, str], database: str
) -> None:
    env = {**key_material, "PALMGRID_DATABASE_URL": database}
    assert (
        "the care database is not migrated (no alembic_version_care): "
        "run `python -m servers.migrate care` first"
    ) in _refusal("servers.care", env)

    migrated = _run("servers.migrate", ["care"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "care: migrated"

    care = _start_care(env)
    try:
        serving = json.loads(_serving_line(care))
        assert serving["profile"] == "production"
        # The readiness probe of deploy/k8s, with the process's own settings.
        probe_env = {**env, "PALMGRID_CARE_PORT": str(serving["port"])}
        ready = _run("servers.healthcheck", ["care"], probe_env)
        assert (ready.returncode, ready.stdout.strip()) == (0, "care: SERVING")
    finally:
        care.terminate()
        care.wait(START_TIMEOUT)
    gone = _run("servers.healthcheck", ["care"], probe_env)
    assert (gone.returncode, gone.stdout.strip()) == (1, "care: UNAVAILABLE")


def test_an_outdated_schema_is_refused_naming_both_revisions(
    key_material: dict[str, str], database: str
) -> None:
    migrate("care", database, default_migrations_dir("care"), revision="0002_care_feedback")
    env = {**key_material, "PALMGRID_DATABASE_URL": database}
    assert (
        "the care database is at revision 0002_care_feedback, this code needs "
        "0003_care_complaint_risks: run `python -m servers.migrate care` first"
    ) in _refusal("servers.care", env)


def test_migrate_names_an_unknown_process(key_material: dict[str, str]) -> None:
    result = _run("servers.migrate", ["billing", "nonesuch"], key_material)
    assert result.returncode == 2
    assert "migrate: unknown nonesuch; known: account, billing" in result.stderr
