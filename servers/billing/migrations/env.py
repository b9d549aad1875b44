"""Alembic environment of the billing service (run by servers.runtime.migrations).

The metadata is every billing table: the core's (`servers.billing.models`) and, when
present, the payments part's (`servers.billing.payments.models`), so `--autogenerate`
sees the whole schema.
"""

import importlib
import importlib.util

from servers.billing.models import metadata
from servers.runtime.migrations import run_migrations

if importlib.util.find_spec("servers.billing.payments.models") is not None:
    importlib.import_module("servers.billing.payments.models")

run_migrations(metadata)
