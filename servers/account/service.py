"""The account service: who is who and who may do what.

`make_spec(clock=..., config=...)` builds the ServiceSpec with an injectable clock and
configuration (tests); `SPEC` is the real one. Building the registrations prepares the
service: loads the pepper and the signing key, seeds the default roles, the system
parameters and the audit chain's head; in the dev profile the runtime then seeds the
demo staff (`seed_demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from cachetags import TagInvalidator
from palmgrid.account.v1 import (
    account_admin_service_pb2_grpc,
    account_internal_service_pb2_grpc,
    account_service_pb2_grpc,
)
from servers.account import audit, demo, parameters, roles
from servers.account.admin_methods import AdminMethods
from servers.account.config import AccountConfig, pepper_path
from servers.account.core import AccountCore
from servers.account.customer_methods import CustomerMethods
from servers.account.internal_methods import InternalMethods
from servers.account.liveness import guard
from servers.account.passwords import PasswordHasher, decode_pepper, load_pepper
from servers.account.self_service import SelfServiceMethods
from servers.account.staff_bindings import StaffBindingMethods
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec, load_signer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class AccountServicer(
    SelfServiceMethods, CustomerMethods, account_service_pb2_grpc.AccountServiceServicer
):
    """palmgrid.account.v1.AccountService: what every signed-in person does for themselves."""

    def __init__(self, core: AccountCore) -> None:
        self.core = core


class AccountAdminServicer(
    AdminMethods,
    StaffBindingMethods,
    account_admin_service_pb2_grpc.AccountAdminServiceServicer,
):
    """palmgrid.account.v1.AccountAdminService: administrators."""

    def __init__(self, core: AccountCore) -> None:
        self.core = core


class AccountInternalServicer(
    InternalMethods, account_internal_service_pb2_grpc.AccountInternalServiceServicer
):
    """palmgrid.account.v1.AccountInternalService: other systems over mTLS."""

    def __init__(self, core: AccountCore) -> None:
        self.core = core


def build_hasher(runtime: Runtime, config: AccountConfig) -> PasswordHasher:
    """The password hasher with the pepper: PALMGRID_ACCOUNT_PEPPER, else the file
    (created in the dev profile when missing)."""
    settings = runtime.settings
    if config.pepper is not None:
        pepper = decode_pepper(config.pepper.get_secret_value())
    else:
        path = pepper_path(config, settings.data_dir)
        pepper = load_pepper(path, create=settings.profile == "dev")
    return PasswordHasher.from_config(pepper, config)


def build_core(runtime: Runtime, *, clock: Clock, config: AccountConfig) -> AccountCore:
    """The service's shared parts, from the settings (key material must exist)."""
    settings = runtime.settings
    return AccountCore(
        runtime=runtime,
        config=config,
        clock=clock,
        hasher=build_hasher(runtime, config),
        signer=load_signer(settings.identity_dir, settings.identity_key_id),
        cache=(
            TagInvalidator.shared(settings.memcached_servers)
            if settings.memcached_servers
            else None
        ),
    )


def seed(core: AccountCore) -> None:
    """Idempotent start-up data; replicas starting together may race, so a conflict
    is retried once (the other replica's rows are then seen)."""
    for attempt in range(2):
        try:
            with core.runtime.session(write=True) as session:
                now = core.now()
                roles.seed_roles(session, now)
                parameters.seed(session, now)
                audit.seed(session)
            return
        except IntegrityError:
            if attempt:
                raise


def make_spec(*, clock: Clock | None = None, config: AccountConfig | None = None) -> ServiceSpec:
    """The account ServiceSpec with this clock and configuration (default: the wall
    clock and PALMGRID_ACCOUNT_* from the environment at start)."""
    chosen_clock = clock or SYSTEM_CLOCK

    def settings() -> AccountConfig:
        return config or AccountConfig.load()

    def seed_demo(runtime: Runtime) -> None:
        chosen = runtime.settings_of(AccountConfig)
        hasher = build_hasher(runtime, chosen)
        with runtime.session(write=True) as session:
            demo.seed_demo_staff(
                session,
                password=runtime.settings.dev_password,
                hasher=hasher,
                now=chosen_clock.now(),
            )
            if runtime.settings.dev_totp_secret:
                session.flush()
                demo.enrol_demo_second_factor(
                    session,
                    secret=runtime.settings.dev_totp_secret,
                    hasher=hasher,
                    now=chosen_clock.now(),
                )

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        core = build_core(runtime, clock=chosen_clock, config=runtime.settings_of(AccountConfig))
        seed(core)
        # The runtime records audited calls and refusals; this service keeps the log.
        runtime.use_audit_sink(core)
        servicers = (
            (
                "palmgrid.account.v1.AccountService",
                AccountServicer(core),
                account_service_pb2_grpc.add_AccountServiceServicer_to_server,
            ),
            (
                "palmgrid.account.v1.AccountAdminService",
                AccountAdminServicer(core),
                account_admin_service_pb2_grpc.add_AccountAdminServiceServicer_to_server,
            ),
            (
                "palmgrid.account.v1.AccountInternalService",
                AccountInternalServicer(core),
                account_internal_service_pb2_grpc.add_AccountInternalServiceServicer_to_server,
            ),
        )
        return [
            Registration(name, guard(servicer, name, core), add)
            for name, servicer, add in servicers
        ]

    return ServiceSpec(
        name="account",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=seed_demo,
    )


SPEC = make_spec()
