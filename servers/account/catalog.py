"""The permissions the contract declares: every `(palmgrid.options.v1.method)`
`access.permission` of every service in the generated `palmgrid` packages.

The default roles are built from this catalog (see `servers.account.roles`), and the
role x method tests walk the same methods.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import ServiceDescriptor

import palmgrid
from servers.runtime.methods import method_rules


@dataclass(frozen=True)
class DeclaredMethod:
    """One RPC of the contract and who may call it."""

    service: str  # "palmgrid.billing.v1.BillingService"
    name: str  # "GetBalance"
    permission: str  # "" for public methods
    public: bool
    internal: bool
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


def _service_descriptors() -> Iterator[ServiceDescriptor]:
    for module in pkgutil.walk_packages(palmgrid.__path__, "palmgrid."):
        if module.name.endswith("_pb2"):
            loaded = importlib.import_module(module.name)
            yield from loaded.DESCRIPTOR.services_by_name.values()


@cache
def declared_methods() -> tuple[DeclaredMethod, ...]:
    """Every method of every PalmGrid service, sorted by path."""
    methods = []
    for service in _service_descriptors():
        for method in service.methods:
            access = method_rules(method).access
            methods.append(
                DeclaredMethod(
                    service=service.full_name,
                    name=method.name,
                    permission=access.permission,
                    public=access.public,
                    internal=access.internal,
                    client_streaming=method.client_streaming,
                    server_streaming=method.server_streaming,
                )
            )
    return tuple(sorted(methods, key=lambda m: m.path))


@cache
def declared_permissions() -> dict[str, bool]:
    """Every declared permission -> whether it guards only internal methods."""
    internal: dict[str, bool] = {}
    for method in declared_methods():
        if method.permission:
            internal[method.permission] = internal.get(method.permission, True) and method.internal
    return dict(sorted(internal.items()))
