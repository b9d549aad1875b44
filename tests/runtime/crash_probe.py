"""A probe server with a database whose audit log kills the process (SIGKILL) when it
is written to: the crash between an audited call's commit and its record reaching the
log. Run by tests/runtime/test_audit_durability.py as
`python tests/runtime/crash_probe.py DATABASE_URL PORT_FILE`, the compiled probe
protos, tests/ and the repository on PYTHONPATH."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime.probe import MIGRATIONS, ProbeServicer, registrations
from servers.runtime import AuditEntry, Runtime, Settings, create_server
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.db import create_engine
from servers.runtime.migrations import migrate
from servers.runtime.runtime_tables import migrate_runtime_tables


class DyingLog:
    """Reachable when asked; the process dies when a record is written."""

    def check(self) -> None:
        pass

    def write(self, entries: Sequence[AuditEntry]) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, port_file = sys.argv[1], Path(sys.argv[2])
    migrate("probe", url, MIGRATIONS)
    migrate_runtime_tables("probe", url)
    engine = create_engine(url)
    runtime = Runtime("probe", Settings.model_construct(profile="dev"), engine)
    log = DyingLog()
    server, port = create_server(
        registrations(ProbeServicer(runtime)),
        domain="probe",
        audit_sink=log,
        audit_outbox=AuditOutbox(engine, "probe", log),
    )
    server.start()
    port_file.write_text(str(port))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
