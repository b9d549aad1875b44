"""Settings of the account service alone, read from `PALMGRID_ACCOUNT_*` variables.

The shared runtime settings (`servers.runtime.settings`) hold what every service needs;
what only the account service reads lives here: where the password pepper is, how hard
Argon2id works, how customer bindings are proved and limited and how often
revocations are polled, and whether the dev profile's demo staff are seeded
(`PALMGRID_ACCOUNT_DEMO_DATA`). Run-time tunables that administrators change (timeouts,
lockout thresholds, ...) are system parameters in the database, not settings.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class AccountConfig(ServiceSettings):
    """The account service's own configuration. Field `x` is read from
    `PALMGRID_ACCOUNT_X`; `AccountConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_ACCOUNT_")

    # The server-side secret mixed into every password hash, kept outside the database.
    # Unset: <data dir>/account/pepper, created on first start in the dev profile only.
    pepper_file: Path | None = None
    # Or the pepper itself, base64 (PALMGRID_ACCOUNT_PEPPER, from a secret store through
    # the environment); never both.
    pepper: SecretStr | None = None

    # Argon2id cost (RFC 9106). Hashes made with other values are upgraded at login.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Binding a customer by a one-time code sent to its registered phone
    # (servers/account/binding_codes.py): how long a code is accepted, how many tries
    # one code gets, and how many users may be bound to one customer.
    binding_code_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    binding_code_tries: int = Field(default=3, ge=1, le=10)
    binding_users_per_customer: int = Field(default=5, ge=1)
    # Codes sent and codes tried allowed within the window, each counted per user, per
    # customer and per client address (servers/account/binding_limits.py). A
    # customer's limit must be well above a user's, or one stranger's account uses
    # it up and blocks the owner's binding for the window.
    binding_attempts_per_user: int = Field(default=10, ge=1)
    binding_attempts_per_customer: int = Field(default=100, ge=1)
    binding_attempts_per_source: int = Field(default=30, ge=1)
    binding_attempt_window_seconds: int = Field(default=86400, ge=60)
    # Customers one staff member may bind at the counter (VerifyCustomerBinding) within
    # that window: a stolen or careless staff account binds only so many.
    binding_verifications_per_staff: int = Field(default=40, ge=1)

    # How long the request_id of an anonymous create (a registration) is honoured, in
    # minutes: anonymous callers share one namespace of keys (servers/runtime/idempotency.py).
    anonymous_request_key_minutes: int = Field(default=10, ge=1, le=60)

    # Login throttling (servers/account/throttle.py): consecutive failed logins of one
    # username allowed from all sources together before it is locked for everyone (NIST
    # SP 800-63B allows at most 100), and the longest lock; counts quiet this long are
    # forgotten. How many one source may try is the `lockout_threshold` parameter.
    login_failure_ceiling: int = Field(default=100, ge=1, le=100)
    login_lock_max_seconds: int = Field(default=86400, ge=60)
    # Sources a username signed in from within this many days are not locked by the
    # ceiling (their own per-source limit still holds).
    login_known_source_days: int = Field(default=90, ge=1, le=365)

    # How often WatchRevocations looks for new revocations, in seconds.
    revocation_poll_seconds: float = Field(default=0.5, gt=0)
    # How long revocation events are kept for replay to watchers that reconnect.
    revocation_retention_seconds: int = Field(default=86400, ge=60)

    # Timeout of the call to billing that verifies a customer binding, in seconds.
    billing_timeout_seconds: float = Field(default=3.0, gt=0)
    # Timeout of the calls that queue binding codes and notices at notification.
    notification_timeout_seconds: float = Field(default=3.0, gt=0)

    @property
    def anonymous_request_key_life(self) -> timedelta:
        return timedelta(minutes=self.anonymous_request_key_minutes)

    @model_validator(mode="after")
    def _check_pepper_source(self) -> AccountConfig:
        if self.pepper is not None and self.pepper_file is not None:
            raise ValueError(
                "set PALMGRID_ACCOUNT_PEPPER or PALMGRID_ACCOUNT_PEPPER_FILE, not both"
            )
        return self

    @model_validator(mode="after")
    def _check_argon2(self) -> AccountConfig:
        # Argon2 needs at least 8 KiB per lane.
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError(
                "PALMGRID_ACCOUNT_ARGON2_MEMORY_KIB must be at least 8 x "
                "PALMGRID_ACCOUNT_ARGON2_PARALLELISM"
            )
        return self

    @model_validator(mode="after")
    def _check_binding_limits(self) -> AccountConfig:
        # Equal limits would let one stranger's account use up the customer's.
        if self.binding_attempts_per_customer <= self.binding_attempts_per_user:
            raise ValueError(
                "PALMGRID_ACCOUNT_BINDING_ATTEMPTS_PER_CUSTOMER must be above "
                "PALMGRID_ACCOUNT_BINDING_ATTEMPTS_PER_USER"
            )
        return self


def pepper_path(config: AccountConfig, data_dir: Path) -> Path:
    """Where the pepper file is for these settings."""
    return config.pepper_file or data_dir / "account" / "pepper"
