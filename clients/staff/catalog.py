"""Every PalmGrid RPC, found through the generated descriptors (like grpcurl's list)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message

import palmgrid
from palmlib.audiences import audience_of


@dataclass(frozen=True)
class Rpc:
    """One callable method: its full name, the process that serves it, its descriptor."""

    full_name: str  # palmgrid.billing.v1.BillingService/GetBalance
    service: str  # billing
    method: descriptor.MethodDescriptor

    @property
    def path(self) -> str:
        return "/" + self.full_name

    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)


def all_rpcs() -> dict[str, Rpc]:
    """Every RPC of every generated `*_service_pb2` module, by full name."""
    found: dict[str, Rpc] = {}
    for info in pkgutil.walk_packages(palmgrid.__path__, "palmgrid."):
        if not info.name.endswith("_service_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            process = audience_of(service.full_name)
            for method in service.methods:
                name = f"{service.full_name}/{method.name}"
                found[name] = Rpc(name, process, method)
    return found


def find_rpc(name: str) -> Rpc:
    """Look an RPC up by `package.Service/Method`, or a unique `Service/Method` or `Method`."""
    rpcs = all_rpcs()
    if name in rpcs:
        return rpcs[name]
    separator = "." if "/" in name else "/"
    matches = [rpc for full, rpc in rpcs.items() if full.endswith(separator + name)]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(f"unknown or ambiguous RPC {name!r}; `methods` lists them")
