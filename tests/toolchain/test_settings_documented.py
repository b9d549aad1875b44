"""docs/runtime.md lists every `PALMGRID_*` variable: the shared settings, each service's
own settings (every `ServiceSettings` subclass, found by importing `servers.<service>.config`)
and the variables read by hand by the edge, the CLI and the tools."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from servers.billing.payments.settings import PaymentSettings
from servers.runtime import ServiceSettings, Settings
from servers.runtime.settings import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "runtime.md").read_text()
# A string literal that is a whole variable name ("PALMGRID_EDGE_CORS_ORIGINS").
LITERAL = re.compile(r"""["'](PALMGRID_[A-Z0-9_]*[A-Z0-9])["']""")


def _undocumented(names: set[str]) -> list[str]:
    return sorted(name for name in names if f"`{name}`" not in DOC)


def _service_settings_classes() -> list[type[ServiceSettings]]:
    for name in SERVICE_NAMES:
        if (ROOT / "servers" / name / "config.py").exists():
            importlib.import_module(f"servers.{name}.config")
    # Tests define subclasses of their own (a probe service); only the project's count.
    return [
        cls for cls in ServiceSettings.__subclasses__() if cls.__module__.startswith("servers.")
    ]


def test_every_shared_setting_is_documented() -> None:
    names = set()
    for field in Settings.model_fields:
        service, _, rest = field.partition("_")
        # account_port, billing_port, ...: one row, PALMGRID_<SERVICE>_PORT.
        names.add(
            f"PALMGRID_<SERVICE>_{rest.upper()}"
            if service in SERVICE_NAMES
            else f"PALMGRID_{field.upper()}"
        )
    assert _undocumented(names) == []


def test_the_built_services_have_their_own_settings_classes() -> None:
    prefixes = {cls.model_config.get("env_prefix") for cls in _service_settings_classes()}
    assert {"PALMGRID_ACCOUNT_", "PALMGRID_BILLING_", "PALMGRID_CARE_"} <= prefixes


@pytest.mark.parametrize(
    "settings_class", [*_service_settings_classes(), PaymentSettings], ids=lambda c: c.__name__
)
def test_every_service_setting_is_documented(settings_class: type[ServiceSettings]) -> None:
    prefix = settings_class.model_config.get("env_prefix", "")
    assert _undocumented({prefix + field.upper() for field in settings_class.model_fields}) == []


def test_every_variable_read_by_hand_is_documented() -> None:
    names = set()
    for folder in ("servers", "edge", "clients", "tools", "cachetags"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(LITERAL.findall(path.read_text(encoding="utf-8")))
    assert "PALMGRID_EDGE_CORS_ORIGINS" in names  # the scan finds the edge's variables
    assert _undocumented(names) == []
