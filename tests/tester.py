"""The tests' own service account: a certificate (CN `tester`) holding what a test must
call beyond any real process's row (reading an outbox back, recording a score as an
outside scorer). Every process keeps its real row of
`servers.runtime.service_accounts`, so a test of a process's calls still proves that
row enough."""

from __future__ import annotations

from pathlib import Path

from servers.runtime.devcerts import SERVICE_ACCOUNTS as DEV_ACCOUNTS
from servers.runtime.devcerts import DevPki, ensure_dev_pki
from servers.runtime.service_accounts import DEFAULT_SERVICE_ACCOUNTS, ServiceAccount

TESTER = "tester"


def accounts_with_tester(*permissions: str) -> dict[str, ServiceAccount]:
    """The default table plus the tester holding `permissions` (all supply offices)."""
    tester = ServiceAccount(roles=("service",), permissions=permissions, all_supply_offices=True)
    return {**DEFAULT_SERVICE_ACCOUNTS, TESTER: tester}


def ensure_pki_with_tester(directory: Path) -> DevPki:
    """The dev PKI in `directory`, with a client certificate for the tester too."""
    return ensure_dev_pki(directory, accounts=(*DEV_ACCOUNTS, TESTER))
