"""Settings: PALMGRID_* variables in one place; production refuses dev conveniences."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from servers.runtime.settings import Settings, SettingsError, load_settings
from tests.runtime.conftest import production_environment


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PALMGRID_"):
            monkeypatch.delenv(name)


@pytest.fixture
def production_files(tmp_path: Path) -> dict[str, str]:
    """Environment of a production deployment with its certificates and public key."""
    return production_environment(tmp_path)


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_defaults_are_the_dev_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, {})
    assert settings.profile == "dev"
    assert settings.data_dir == Path(".palmgrid")
    assert [settings.service(n).port for n in ("account", "billing", "notification")] == [
        50051,
        50052,
        50058,
    ]
    assert settings.edge_port == 8443
    assert settings.database_url_for("billing") == (
        f"sqlite:///{Path('.palmgrid/billing.db').resolve()}"
    )
    assert settings.dev_password == "Palm-dev-2026!"


def test_environment_variables_configure_everything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = _load(
        monkeypatch,
        {
            "PALMGRID_DATA_DIR": str(tmp_path),
            "PALMGRID_DATABASE_URL": "postgresql://db/shared",
            "PALMGRID_BILLING_DATABASE_URL": "postgresql://db/billing",
            "PALMGRID_OUTAGE_PORT": "6000",
            "PALMGRID_OUTAGE_TARGET": "outage.internal:443",
            "PALMGRID_EDGE_PORT": "9443",
            "PALMGRID_MEMCACHED_SERVERS": "10.0.0.1:11211, 10.0.0.2:11211",
            "PALMGRID_LOG_LEVEL": "DEBUG",
            "PALMGRID_SERVICE_ACCOUNTS": '{"meter-gateway": {"permissions": ["ingest.*"]}}',
        },
    )
    assert settings.database_url_for("billing") == "postgresql://db/billing"
    assert settings.database_url_for("care") == "postgresql://db/shared"
    assert settings.listen_address("outage") == "127.0.0.1:6000"
    assert settings.service_address("outage") == "outage.internal:443"
    assert settings.edge_port == 9443
    assert settings.memcached_servers == ("10.0.0.1:11211", "10.0.0.2:11211")
    assert (settings.memcached_host, settings.memcached_port) == ("10.0.0.1", 11211)
    assert settings.log_level == "DEBUG"
    assert settings.service_accounts["meter-gateway"].permissions == ("ingest.*",)
    assert settings.tls_dir == tmp_path / "tls"


def test_production_with_its_files_loads(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str]
) -> None:
    settings = _load(monkeypatch, production_files)
    assert settings.profile == "production"
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PALMGRID_DEV_CAPTCHA", "1234"),
        ("PALMGRID_DEV_PASSWORD", "Palm-dev-2026!"),
        ("PALMGRID_SESSION_IDLE_SECONDS", "60"),
        ("PALMGRID_GRPC_SECURITY", "plaintext"),
    ],
)
def test_production_refuses_dev_settings(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        _load(monkeypatch, {**production_files, name: value})


def test_production_refuses_missing_tls_files(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], tmp_path: Path
) -> None:
    env = {**production_files, "PALMGRID_TLS_KEY_FILE": str(tmp_path / "nowhere.key")}
    with pytest.raises(SettingsError, match="PALMGRID_TLS_KEY_FILE: missing file"):
        _load(monkeypatch, env)


def test_production_refuses_a_missing_identity_key(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], tmp_path: Path
) -> None:
    env = {**production_files, "PALMGRID_IDENTITY_KEYS_DIR": str(tmp_path / "empty")}
    with pytest.raises(SettingsError, match="PALMGRID_IDENTITY_KEYS_DIR"):
        _load(monkeypatch, env)


def test_production_may_lengthen_the_idle_timeout(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str]
) -> None:
    settings = _load(monkeypatch, {**production_files, "PALMGRID_SESSION_IDLE_SECONDS": "3600"})
    assert settings.session_idle_seconds == 3600


def test_dev_profile_allows_dev_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(
        monkeypatch,
        {
            "PALMGRID_DEV_CAPTCHA": "1234",
            "PALMGRID_SESSION_IDLE_SECONDS": "5",
            "PALMGRID_GRPC_SECURITY": "plaintext",
        },
    )
    assert (settings.dev_captcha, settings.session_idle_seconds) == ("1234", 5)


def test_bad_values_are_reported_by_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="PALMGRID_BILLING_PORT"):
        _load(monkeypatch, {"PALMGRID_BILLING_PORT": "many"})
    with pytest.raises(SettingsError, match="PALMGRID_PROFILE"):
        _load(monkeypatch, {"PALMGRID_PROFILE": "staging"})


def test_unknown_service_is_an_error() -> None:
    with pytest.raises(SettingsError, match="unknown service"):
        Settings().service("billling")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("PALMGRID_TLS_CERT_FILE", "the dev PKI's server certificate"),
        ("PALMGRID_TLS_KEY_FILE", "the dev PKI's server key"),
        ("PALMGRID_TLS_CA_FILE", "the dev PKI's CA"),
        ("PALMGRID_IDENTITY_KEYS_DIR", "the dev identity keys"),
        ("PALMGRID_MEMCACHED_SERVERS", "the dev Memcached"),
    ],
)
def test_production_refuses_a_dev_default_left_unset(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], name: str, why: str
) -> None:
    env = {key: value for key, value in production_files.items() if key != name}
    with pytest.raises(SettingsError, match=f"{name} unset \\({why}"):
        _load(monkeypatch, env)


def test_production_refuses_the_dev_signing_key(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], tmp_path: Path
) -> None:
    ensure_key_pair(tmp_path / "keys", "dev")
    env = {**production_files, "PALMGRID_IDENTITY_KEY_ID": "dev"}
    with pytest.raises(SettingsError, match="PALMGRID_IDENTITY_KEY_ID=dev"):
        _load(monkeypatch, env)


def test_production_reads_the_memcached_pool(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str]
) -> None:
    settings = _load(monkeypatch, production_files)
    assert settings.memcached_servers == ("cache-0:11211", "cache-1:11211")


def test_a_process_on_sqlite_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str]
) -> None:
    settings = _load(monkeypatch, production_files)
    with pytest.raises(
        SettingsError,
        match="billing would use SQLite: production requires PostgreSQL "
        r"\(set PALMGRID_DATABASE_URL or PALMGRID_BILLING_DATABASE_URL\)",
    ):
        settings.require_fit_for("billing")
    on_postgres = _load(
        monkeypatch, {**production_files, "PALMGRID_BILLING_DATABASE_URL": "postgresql://db/x"}
    )
    on_postgres.require_fit_for("billing")
    with pytest.raises(SettingsError, match="PALMGRID_BILLING_DEMO_DATA=true"):
        on_postgres.require_fit_for("billing", demo_data=True)


def test_the_dev_profile_has_no_process_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, {})
    assert settings.process_problems("billing", demo_data=True) == []


def test_production_refuses_the_dev_pki_even_named_explicitly(
    monkeypatch: pytest.MonkeyPatch, production_files: dict[str, str], tmp_path: Path
) -> None:
    dev = ensure_dev_pki(tmp_path / "dev-tls", accounts=())
    env = {
        **production_files,
        "PALMGRID_TLS_CERT_FILE": str(dev.server_cert),
        "PALMGRID_TLS_KEY_FILE": str(dev.server_key),
        "PALMGRID_TLS_CA_FILE": str(dev.ca_cert),
    }
    with pytest.raises(SettingsError, match=r"PALMGRID_TLS_CA_FILE: .* is the dev PKI's CA"):
        _load(monkeypatch, env)
