"""Registrations for services whose contract is declared but whose logic is not built yet.

Every RPC of such a service answers UNIMPLEMENTED with an ErrorInfo (reason
NOT_IMPLEMENTED): the service starts, passes health checks, appears in reflection,
validates and authorizes requests like any other, and says plainly that the method is
not served yet. (grpc's generated base servicer would do the same but log a traceback
for every call.)
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from servers.runtime.errors import Unimplemented
from servers.runtime.methods import find_service
from servers.runtime.server import Registration


def _not_served(full_method: str) -> Callable[..., Any]:
    def method(self: object, request: object, context: object) -> Any:
        raise Unimplemented(f"{full_method} is declared in the contract but not served yet")

    return method


def declared_only(grpc_module: ModuleType, service: str) -> Registration:
    """Register `<service>Servicer` from a generated `*_pb2_grpc` module, every method
    answering UNIMPLEMENTED."""
    short_name = service.rpartition(".")[2]
    base = getattr(grpc_module, f"{short_name}Servicer")
    methods = {m.name: _not_served(m.full_name) for m in find_service(service).methods}
    servicer_class = type(f"Declared{short_name}", (base,), methods)
    add_to_server = getattr(grpc_module, f"add_{short_name}Servicer_to_server")
    return Registration(service, servicer_class(), add_to_server)
