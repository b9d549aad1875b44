"""Serving a contract whose methods are not all built yet.

Every RPC a servicer does not build (or every RPC, with no servicer) answers
UNIMPLEMENTED with an ErrorInfo (reason NOT_IMPLEMENTED) after the runtime has
validated and authorized the call: the service starts, passes health checks, appears in
reflection and says plainly which method is not served yet. This is the only way to
leave an RPC unbuilt: `create_server` refuses a servicer that leaves one to grpc's
generated base class, which would answer without the runtime's status.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

from servers.runtime.errors import Unimplemented
from servers.runtime.methods import find_service
from servers.runtime.server import Registration
from servers.runtime.unbuilt import unbuilt_methods


def _not_served(full_method: str) -> Callable[..., Any]:
    def method(request: object, context: object) -> Any:
        raise Unimplemented(f"{full_method} is declared in the contract but not served yet")

    return method


def with_declared(service: str, servicer: object | None = None) -> object:
    """`servicer` completed for `service`: the RPCs it builds, and for each one it does
    not (each one when `servicer` is None) a method answering UNIMPLEMENTED. Returns
    `servicer` itself when it builds every RPC."""
    descriptor = find_service(service)
    unbuilt = set(unbuilt_methods(servicer, descriptor))
    if not unbuilt:
        return servicer
    return SimpleNamespace(
        **{
            method.name: _not_served(method.full_name)
            if method.name in unbuilt
            else getattr(servicer, method.name)
            for method in descriptor.methods
        }
    )


def declared(grpc_module: ModuleType, service: str, servicer: object | None = None) -> Registration:
    """Register `servicer` for `service` from its generated `*_pb2_grpc` module, the
    RPCs it does not build answering UNIMPLEMENTED (see `with_declared`)."""
    short_name = service.rpartition(".")[2]
    add_to_server = getattr(grpc_module, f"add_{short_name}Servicer_to_server")
    return Registration(service, with_declared(service, servicer), add_to_server)


def declared_only(grpc_module: ModuleType, service: str) -> Registration:
    """Register `service` with no logic built: every RPC answers UNIMPLEMENTED."""
    return declared(grpc_module, service)
