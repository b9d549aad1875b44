"""The service-account table (`servers.runtime.service_accounts`): least privilege, and
only permissions some method declares."""

from __future__ import annotations

import importlib
import pkgutil

import palmgrid
from servers.runtime.methods import method_rules
from servers.runtime.service_accounts import DEFAULT_SERVICE_ACCOUNTS, PLANNED_PERMISSIONS
from servers.runtime.settings import SERVICE_NAMES, Settings


def _declared_permissions() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.walk_packages(palmgrid.__path__, "palmgrid."):
        if not info.name.endswith("_service_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            found.update(method_rules(m).access.permission for m in service.methods)
    return found - {""}


def test_every_permission_in_the_table_is_declared_by_a_method() -> None:
    declared = _declared_permissions()
    for name, account in DEFAULT_SERVICE_ACCOUNTS.items():
        unknown = set(account.permissions) - declared - PLANNED_PERMISSIONS
        assert not unknown, f"{name} holds permissions no method declares: {unknown}"


def test_no_default_account_holds_a_pattern() -> None:
    for name, account in DEFAULT_SERVICE_ACCOUNTS.items():
        patterns = [p for p in account.permissions if p.endswith("*")]
        assert not patterns, f"{name} holds {patterns}"


def test_every_process_has_a_row_and_the_settings_start_from_the_table() -> None:
    assert {*SERVICE_NAMES, "edge", "cli", "worker", "prewarm"} <= set(DEFAULT_SERVICE_ACCOUNTS)
    assert Settings().service_accounts == DEFAULT_SERVICE_ACCOUNTS


def test_only_back_end_processes_reach_every_supply_office() -> None:
    everywhere = {n for n, a in DEFAULT_SERVICE_ACCOUNTS.items() if a.all_supply_offices}
    assert everywhere == {*SERVICE_NAMES, "worker", "prewarm"}
