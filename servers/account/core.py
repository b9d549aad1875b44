"""What every part of the account service works with: the runtime (database, settings,
channels), the clock, the password hasher, the assertion signer, the cache tags it
bumps, the system parameters and the audit log (the core is the runtime's audit sink
in this service)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from cachetags import TagInvalidator
from servers.account import audit, parameters
from servers.account.config import AccountConfig
from servers.account.passwords import PasswordHasher
from servers.runtime import AssertionSigner, Clock, Runtime, Settings

RECORDER = "serviceAccounts/account"


@dataclass
class AccountCore:
    runtime: Runtime
    config: AccountConfig
    clock: Clock
    hasher: PasswordHasher
    signer: AssertionSigner
    # Where users' cache tags are bumped when their scope changes (cache_tags.py).
    cache: TagInvalidator | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def now(self) -> datetime:
        return self.clock.now()

    def params(self, session: Session) -> parameters.Parameters:
        """The system parameters in force (the dev idle-timeout override applied; the
        production profile's second-factor rule)."""
        profile = self.settings.profile
        override = self.settings.session_idle_seconds if profile == "dev" else None
        return parameters.load(
            session,
            self.now(),
            idle_override_seconds=override,
            production=profile == "production",
        )

    def check(self) -> None:
        """The log is this service's own database: a call that can change anything can
        write its record (`servers.runtime.AuditSink`)."""

    def write(self, entries: Sequence[audit.AuditEntry]) -> None:
        """The account service's audit sink (`servers.runtime.AuditSink`): it keeps the
        log, so its own records are appended here, in one transaction, by its clock."""
        if not entries:
            return
        with self.runtime.session(write=True) as session:
            for entry in entries:
                entry.recorder = entry.recorder or RECORDER
                # By its write id: a record held while its call ran and forwarded
                # after the call's own record (a crash between the two) is one record.
                audit.append(session, entry, now=self.now(), write_request_id=entry.write_id)
