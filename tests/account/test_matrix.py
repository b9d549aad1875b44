"""The role x method matrix, generated from the protos: every PalmGrid service runs
in-process; each role's demo user logs in for real and every method of every service is
called with its assertion. PERMISSION_DENIED (reason PERMISSION_DENIED) must come
exactly where the role lacks the method's declared permission; any other answer
(INVALID_ARGUMENT for the empty request, NOT_FOUND, OUT_OF_SCOPE, UNIMPLEMENTED, ...)
means the call got past the access check. Service accounts (mTLS certificates, no
assertion) are checked the same way against their configured permissions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

from palmgrid.type.v1 import identity_pb2
from servers.account.catalog import DeclaredMethod, declared_methods
from servers.account.roles import default_roles, expand
from servers.account.service import make_spec
from servers.runtime import SettableClock, Settings, error_from_rpc, has_permission
from servers.runtime.access import service_principal
from servers.runtime.identity import METADATA_KEY
from servers.runtime.settings import GRPC_SERVER_NAMES
from tests.account import services
from tests.account.conftest import (
    CAPTCHA,
    DEV_PASSWORD,
    FAST_ARGON2,
    GOOD_PASSWORD,
    Account,
    base_settings,
    channel_as,
)

DEMO_USER = {
    "agent": "agent",
    "care-manager": "caremanager",
    "dispatcher": "dispatcher",
    "expander": "expander",
    "inspector": "inspector",
    "inspection-manager": "inspmanager",
    "editor": "editor",
    "admin": "admin",
}
# Every process but the edge and the CLI holds only its row of the service-account table;
# a method outside its row is refused like anyone else's call.
SERVICE_ACCOUNTS = ("marketing", "cli", "edge", "account", "billing", "care", "worker")
Metadata = tuple[tuple[str, bytes], ...]


@dataclass
class System:
    settings: Settings
    account: Account
    ports: dict[str, int]
    channels: dict[tuple[str, str], grpc.Channel]

    def channel(self, service: str, as_account: str) -> grpc.Channel:
        key = (service, as_account)
        if key not in self.channels:
            self.channels[key] = channel_as(self.settings, self.ports[service], as_account)
        return self.channels[key]


@pytest.fixture(scope="module")
def system(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = tmp_path_factory.mktemp("system")
    urls = {
        f"{name}_database_url": services.database_url(directory, name) for name in GRPC_SERVER_NAMES
    }
    settings = base_settings(data_dir, urls.pop("account_database_url"), **urls)
    running = [
        services.start("account", settings, make_spec(clock=SettableClock(), config=FAST_ARGON2))
    ]
    # The others write their audit records to it (audited calls need a reachable log).
    settings = settings.model_copy(update={"account_target": running[0].target})
    running += [services.start(name, settings) for name in GRPC_SERVER_NAMES if name != "account"]
    first = running[0]
    account = Account(first.server, first.port, first.runtime, settings, SettableClock())
    system = System(settings, account, {r.name: r.port for r in running}, {})
    yield system
    for channel in system.channels.values():
        channel.close()
    for channel in account.channels.values():
        channel.close()
    for item in running:
        services.stop(item)


def _message_class(full_name: str) -> Any:
    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


def call(
    channel: grpc.Channel, method: DeclaredMethod, metadata: tuple[tuple[str, bytes], ...]
) -> grpc.RpcError | None:
    """Call `method` with an empty request; the error, or None when it succeeded."""
    service = descriptor_pool.Default().FindServiceByName(method.service)
    descriptor = service.methods_by_name[method.name]
    request_class = _message_class(descriptor.input_type.full_name)
    response_class = _message_class(descriptor.output_type.full_name)
    codec = {
        "request_serializer": request_class.SerializeToString,
        "response_deserializer": response_class.FromString,
    }
    try:
        if method.client_streaming:
            channel.stream_unary(method.path, **codec)(
                iter([request_class()]), metadata=metadata, timeout=2
            )
        elif method.server_streaming:
            stream = channel.unary_stream(method.path, **codec)(
                request_class(), metadata=metadata, timeout=0.5
            )
            try:
                next(stream, None)
            finally:
                stream.cancel()
        else:
            channel.unary_unary(method.path, **codec)(request_class(), metadata=metadata, timeout=2)
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):  # type: ignore[attr-defined]
            return None  # a stream that got going, or a slow method: past the check
        return exc
    return None


def denied_by_access_check(error: grpc.RpcError | None) -> bool:
    if error is None or error.code() != grpc.StatusCode.PERMISSION_DENIED:  # type: ignore[attr-defined]
        return False
    return error_from_rpc(error).reason == "PERMISSION_DENIED"


def sweep(
    system: System,
    principal: identity_pb2.Principal,
    metadata: dict[str, Metadata],
    as_account: str,
) -> tuple[list[str], int]:
    """Every method whose outcome differs from what the declared permission says, and
    how many methods the access check refused. `metadata` holds what is sent to each
    service (its own assertion; none for a service account)."""
    wrong = []
    denied = 0
    for method in declared_methods():
        service = method.service.split(".")[1]
        if service not in system.ports:
            continue
        error = call(system.channel(service, as_account), method, metadata.get(service, ()))
        allowed = method.public or has_permission(principal, method.permission)
        refused = denied_by_access_check(error)
        denied += refused
        if allowed == refused:
            outcome = "denied although granted" if allowed else "allowed although not granted"
            wrong.append(f"{method.path} ({method.permission or 'public'}): {outcome}")
    return wrong, denied


def role_principal(system: System, role: str) -> tuple[identity_pb2.Principal, dict[str, Metadata]]:
    account = system.account
    if role == "customer":
        username = "matrixcustomer"
        with contextlib.suppress(grpc.RpcError):  # registered by an earlier test
            account.register(username)
        token = account.login(username, GOOD_PASSWORD).token
    else:
        token = account.login(DEMO_USER[role], DEV_PASSWORD).token
    answer = account.authenticate(token)
    return answer.principal, {
        service: ((METADATA_KEY, assertion.SerializeToString()),)
        for service, assertion in answer.service_assertions.items()
    }


ROLES = [role.id for role in default_roles() if role.id != "service"]


@pytest.mark.parametrize("role", ROLES)
def test_role_may_call_exactly_the_methods_its_permissions_declare(
    system: System, role: str
) -> None:
    principal, metadata = role_principal(system, role)
    default = next(r for r in default_roles() if r.id == role)
    # The role's permissions are the declared permissions its default selectors match.
    assert sorted(principal.permissions) == expand(default)
    assert list(principal.roles) == [role]
    wrong, denied = sweep(system, principal, metadata, "cli")
    assert wrong == []
    expected_denials = [
        m for m in declared_methods() if not m.public and m.permission not in principal.permissions
    ]
    assert denied == len(expected_denials)
    assert (denied == 0) == (role == "admin")


@pytest.mark.parametrize("as_account", SERVICE_ACCOUNTS)
def test_service_account_may_call_exactly_its_configured_permissions(
    system: System, as_account: str
) -> None:
    principal = service_principal(as_account, system.settings.service_accounts[as_account])
    wrong, denied = sweep(system, principal, {}, as_account)
    assert wrong == []
    assert (denied > 0) == ("*" not in principal.permissions)


def test_every_declared_method_is_in_the_matrix(system: System) -> None:
    services_seen = {m.service.split(".")[1] for m in declared_methods()}
    assert services_seen <= set(system.ports)
    assert len(declared_methods()) > 100
    assert CAPTCHA
