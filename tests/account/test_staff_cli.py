"""The staff CLI signs a staff member in over gRPC and calls RPCs on their behalf."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.staff.__main__ import app
from palmgrid.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from palmgrid.ingest.v1 import resources_pb2 as ingest_resources
from servers.ingest.config import IngestConfig
from servers.ingest.service import make_spec as ingest_spec
from servers.ingest.staging import create_staging_schema
from servers.ingest.staging_rows import customer_row, insert_rows
from servers.runtime import create_engine
from tests.account import services
from tests.account.conftest import CAPTCHA, DEV_PASSWORD, Account, channel_as


@pytest.fixture
def cli_env(account: Account, tmp_path: Path) -> dict[str, str]:
    return {
        "PALMGRID_DATA_DIR": str(account.settings.data_dir),
        "PALMGRID_ACCOUNT_PORT": str(account.port),
        "PALMGRID_DEV_CAPTCHA": CAPTCHA,
        "PALMGRID_CLI_HOME": str(tmp_path / "cli"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_staff_sign_in_call_and_sign_out(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, out = run(cli_env, "login", "admin", "--password", DEV_PASSWORD)
    assert code == 0, out
    session_file = tmp_path / "cli" / "session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600

    code, out = run(cli_env, "whoami")
    assert code == 0, out
    assert json.loads(out)["username"] == "admin"

    code, out = run(cli_env, "call", "AccountAdminService/ListRoles", "{}")
    assert code == 0, out
    assert "dispatcher" in {role["name"].rpartition("/")[2] for role in json.loads(out)["roles"]}

    code, out = run(cli_env, "logout")
    assert code == 0 and not session_file.exists()
    code, out = run(cli_env, "whoami")
    assert code == 1 and "not signed in" in out


def test_a_staff_member_gets_only_their_own_permissions(
    account: Account, cli_env: dict[str, str]
) -> None:
    assert run(cli_env, "login", "editor", "--password", DEV_PASSWORD)[0] == 0
    code, out = run(cli_env, "call", "AccountAdminService/ListRoles", "{}")
    assert code == 1
    assert "PERMISSION_DENIED" in out


def test_wrong_password_and_bad_requests_are_explained(cli_env: dict[str, str]) -> None:
    code, out = run(cli_env, "login", "admin", "--password", "Wrong-pass-1!")
    assert code == 1 and "INVALID_CREDENTIALS" in out
    code, out = run(cli_env, "call", "NoSuchMethod", "{}")
    assert code == 2 and "unknown or ambiguous RPC" in out
    code, out = run(cli_env, "call", "GetTariff", "{not json", "--anonymous")
    assert code == 2 and "bad request JSON" in out


@pytest.fixture
def ingest_port(account: Account, tmp_path: Path) -> Iterator[int]:
    """An ingest service beside the account service, over a staging database with two
    customer rows it quarantines for their area codes (no billing needed)."""
    staging_url = f"sqlite:///{tmp_path / 'staging.db'}"
    engine = create_engine(staging_url)
    create_staging_schema(engine)
    changed = datetime.now(UTC) - timedelta(hours=1)
    insert_rows(
        engine,
        "CUSTOMERS",
        [customer_row(f"310000070{n}", changed, area_code="bad") for n in range(2)],
    )
    engine.dispose()
    settings = account.settings.model_copy(
        update={
            "account_target": f"127.0.0.1:{account.port}",
            "ingest_database_url": f"sqlite:///{tmp_path / 'ingest.db'}",
        }
    )
    running = services.start(
        "ingest",
        settings,
        ingest_spec(config=IngestConfig(demo_data=False, staging_url=staging_url)),
    )
    yield running.port
    services.stop(running)


def test_a_staff_member_follows_an_import_job_to_its_summary(
    account: Account, cli_env: dict[str, str], ingest_port: int
) -> None:
    worker = ingest_service_pb2_grpc.IngestServiceStub(
        channel_as(account.settings, ingest_port, "worker")
    )
    job = worker.CreateImportJob(
        ingest_service_pb2.CreateImportJobRequest(
            import_job=ingest_resources.ImportJob(source=ingest_resources.IMPORT_SOURCE_CUSTOMERS),
            request_id=str(uuid.uuid4()),
        )
    )
    worker.RunImportJob(ingest_service_pb2.RunImportJobRequest(name=job.name, max_rows=10))
    env = {**cli_env, "PALMGRID_INGEST_PORT": str(ingest_port)}
    assert run(env, "login", "admin", "--password", DEV_PASSWORD)[0] == 0
    code, out = run(env, "import-progress", job.name, "--interval", "0.1")
    assert code == 0, out
    words = " ".join(out.split())  # the table wraps to the terminal's width
    assert f"{job.name}: SUCCEEDED" in words
    assert "2/2" in words
    assert "first quarantined: 3100000700 INVALID_FIELD areaCode" in words
