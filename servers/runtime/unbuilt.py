"""Which RPCs a servicer does not build: those it leaves to grpc's generated base class.

The generated `<Service>Servicer` (in a `*_pb2_grpc` module) answers every RPC with
UNIMPLEMENTED, but without the runtime's status (no ErrorInfo, no request id).
`create_server` refuses a servicer that leaves any RPC there; `servers.runtime.declared`
is the explicit way to serve a contract whose methods are not all built yet.
"""

from __future__ import annotations

from google.protobuf.descriptor import ServiceDescriptor


def unbuilt_methods(servicer: object, service: ServiceDescriptor) -> list[str]:
    """Names of `service`'s RPCs that `servicer` lacks or inherits unchanged from the
    generated base class, in declaration order."""
    return [
        method.name
        for method in service.methods
        if _is_generated_stub(getattr(servicer, method.name, None), service.name, method.name)
    ]


def _is_generated_stub(implementation: object, service: str, method: str) -> bool:
    if implementation is None:
        return True
    function = getattr(implementation, "__func__", implementation)
    return getattr(function, "__qualname__", "") == f"{service}Servicer.{method}" and getattr(
        function, "__module__", ""
    ).endswith("_pb2_grpc")
