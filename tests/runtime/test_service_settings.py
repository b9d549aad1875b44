"""A service's own settings (`ServiceSettings`) and the demo seeding the runtime runs at
start for a `ServiceSpec` that declares `seed_demo`."""

from __future__ import annotations

import dataclasses
import types
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.exc import IntegrityError

from servers.runtime import (
    Runtime,
    ServiceSettings,
    Settings,
    SettingsError,
    build_server,
    create_engine,
    serve,
)
from servers.runtime.service import seed_demo_data


class ProbeConfig(ServiceSettings):
    """What a service's settings look like: a prefix, typed fields with their ranges."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_PROBE_")

    due_days: int = Field(default=15, ge=0, le=365)
    rate: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.1"))


def test_fields_are_read_from_prefixed_variables() -> None:
    config = ProbeConfig.load(
        {"PALMGRID_PROBE_DUE_DAYS": "30", "PALMGRID_PROBE_RATE": "0.05", "PALMGRID_DUE_DAYS": "9"}
    )
    assert (config.due_days, config.rate, config.demo_data) == (30, Decimal("0.05"), None)
    assert ProbeConfig.load({"palmgrid_probe_demo_data": "false"}).demo_data is False


def test_a_given_mapping_replaces_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PALMGRID_PROBE_DUE_DAYS", "20")
    assert ProbeConfig.load().due_days == 20
    assert ProbeConfig.load({}).due_days == 15


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PALMGRID_PROBE_DUE_DAYS", "366"),
        ("PALMGRID_PROBE_DUE_DAYS", "-1"),
        ("PALMGRID_PROBE_DUE_DAYS", "soon"),
        ("PALMGRID_PROBE_RATE", "0.2"),
        ("PALMGRID_PROBE_RATE", "NaN"),
        ("PALMGRID_PROBE_DEMO_DATA", "maybe"),
    ],
)
def test_a_bad_value_raises_settings_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        ProbeConfig.load({name: value})


def test_a_service_settings_class_needs_a_palmgrid_service_prefix() -> None:
    with pytest.raises(TypeError, match="PALMGRID_<SERVICE>_"):

        class Unprefixed(ServiceSettings):
            model_config = SettingsConfigDict(env_prefix="BILLING_")


def test_demo_data_is_seeded_in_the_dev_profile_only() -> None:
    # Built without validation: a real production profile needs key material on disk.
    production = Settings.model_construct(profile="production")
    dev = Settings.model_construct(profile="dev")
    assert ProbeConfig().seeds_demo(dev)
    assert ProbeConfig(demo_data=True).seeds_demo(dev)
    assert not ProbeConfig(demo_data=False).seeds_demo(dev)
    assert not ProbeConfig(demo_data=True).seeds_demo(production)
    assert not ProbeConfig().seeds_demo(production)


def _dev_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, grpc_security="plaintext", log_level="WARNING")


def test_build_server_runs_the_seeder_after_the_registrations(
    probe: types.ModuleType, tmp_path: Path
) -> None:
    steps: list[str] = []

    def registrations(runtime: Runtime) -> list[object]:
        steps.append(f"registrations with {runtime.settings_of(ProbeConfig).due_days} days")
        return probe.registrations()  # type: ignore[no-any-return]

    def seed(runtime: Runtime) -> None:
        steps.append("seed")

    spec = dataclasses.replace(
        probe.SPEC,
        registrations=registrations,
        settings=lambda: ProbeConfig(due_days=3),
        seed_demo=seed,
    )
    server, _, runtime = build_server(spec, _dev_settings(tmp_path), address="127.0.0.1:0")
    server.stop(0)
    runtime.close()
    assert steps == ["registrations with 3 days", "seed"]

    quiet = dataclasses.replace(spec, settings=lambda: ProbeConfig(due_days=4, demo_data=False))
    server, _, runtime = build_server(quiet, _dev_settings(tmp_path), address="127.0.0.1:0")
    server.stop(0)
    runtime.close()
    assert steps[2:] == ["registrations with 4 days"]


def test_no_seeding_outside_the_dev_profile(probe: types.ModuleType, tmp_path: Path) -> None:
    seeded: list[Runtime] = []
    spec = dataclasses.replace(
        probe.SPEC, settings=lambda: ProbeConfig(demo_data=True), seed_demo=seeded.append
    )
    production = Settings.model_construct(profile="production")
    engine = create_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    runtime = Runtime("probe", production, engine, ProbeConfig(demo_data=True))
    try:
        assert not seed_demo_data(spec, runtime)
        assert seeded == []
        dev = Runtime("probe", Settings.model_construct(profile="dev"), engine, ProbeConfig())
        assert seed_demo_data(spec, dev)
        assert seeded == [dev]
    finally:
        engine.dispose()


def test_a_seeding_conflict_is_retried_once(probe: types.ModuleType, tmp_path: Path) -> None:
    attempts: list[int] = []

    def racing(runtime: Runtime) -> None:
        attempts.append(1)
        if len(attempts) == 1:  # another replica inserted the same row first
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    engine = create_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    runtime = Runtime("probe", Settings.model_construct(profile="dev"), engine, ProbeConfig())
    try:
        assert seed_demo_data(dataclasses.replace(probe.SPEC, seed_demo=racing), runtime)
        assert len(attempts) == 2

        def always_conflicting(runtime: Runtime) -> None:
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

        with pytest.raises(IntegrityError):
            seed_demo_data(dataclasses.replace(probe.SPEC, seed_demo=always_conflicting), runtime)
    finally:
        engine.dispose()


def test_serve_exits_2_naming_a_bad_service_variable(
    probe: types.ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = dataclasses.replace(
        probe.SPEC, settings=lambda: ProbeConfig.load({"PALMGRID_PROBE_DUE_DAYS": "400"})
    )
    assert serve(spec, _dev_settings(tmp_path), address="127.0.0.1:0") == 2
    assert "probe: PALMGRID_PROBE_DUE_DAYS: " in capsys.readouterr().err
    assert not (tmp_path / "probe.db").exists()  # refused before migrating anything
