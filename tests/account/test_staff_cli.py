"""The staff CLI signs a staff member in over gRPC and calls RPCs on their behalf."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.staff.app import app
from tests.account.conftest import CAPTCHA, DEV_PASSWORD, Account


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

    code, out = run(cli_env, "whoami", "--json")
    assert code == 0, out
    assert json.loads(out)["username"] == "admin"
    code, out = run(cli_env, "whoami")
    assert code == 0 and "admin" in out and "{" not in out

    code, out = run(cli_env, "call", "AccountAdminService/ListRoles", "{}")
    assert code == 0, out
    assert "dispatcher" in {role["name"].rpartition("/")[2] for role in json.loads(out)["roles"]}

    code, out = run(cli_env, "logout")
    assert code == 0 and not session_file.exists()
    code, out = run(cli_env, "whoami")
    assert code == 3 and "not signed in" in out


def test_a_staff_member_gets_only_their_own_permissions(
    account: Account, cli_env: dict[str, str]
) -> None:
    assert run(cli_env, "login", "editor", "--password", DEV_PASSWORD)[0] == 0
    code, out = run(cli_env, "call", "AccountAdminService/ListRoles", "{}")
    assert code == 4
    assert "PERMISSION_DENIED" in out


def test_wrong_password_and_bad_requests_are_explained(cli_env: dict[str, str]) -> None:
    code, out = run(cli_env, "login", "admin", "--password", "Wrong-pass-1!")
    assert code == 3 and "reason: INVALID_CREDENTIALS" in out
    code, out = run(cli_env, "call", "NoSuchMethod", "{}")
    assert code == 2 and "unknown or ambiguous RPC" in out
    code, out = run(cli_env, "call", "GetTariff", "{not json", "--anonymous")
    assert code == 2 and "bad request JSON" in out
