"""An audit log in memory, for servers tested without the account service: audited
calls fail closed without a log they can reach, so such tests give their servers this
one (`with_audit_log(spec)`). Tests of the real log start the account service."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from servers.runtime import AuditEntry, Registration, Runtime, ServiceSpec


class MemoryAuditLog:
    """Keeps the entries it is given; unreachable while `down`."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.down = False
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.down:
            raise ConnectionError("the audit log is down")

    def write(self, entries: Sequence[AuditEntry]) -> None:
        self.check()
        with self._lock:
            self.entries.extend(entries)


def with_audit_log(spec: ServiceSpec, log: MemoryAuditLog | None = None) -> ServiceSpec:
    """`spec`, its servers writing their audit records to `log` (a fresh one by default)."""
    chosen = log or MemoryAuditLog()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        runtime.use_audit_sink(chosen)
        return spec.registrations(runtime)

    return dataclasses.replace(spec, registrations=registrations)
