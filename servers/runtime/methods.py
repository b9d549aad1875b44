"""The methods a server serves and their `(palmgrid.options.v1.method)` rules, read once
at start-up from the descriptors of the generated modules (the default descriptor pool).

A method that declares neither `access.public` nor `access.permission` is refused at
start-up: failing closed is better than serving a method nobody decided about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from palmgrid.options.v1 import options_pb2


@dataclass(frozen=True)
class MethodInfo:
    """One RPC and PalmGrid's rules for it."""

    # "/palmgrid.billing.v1.BillingService/GetBalance", as in grpc's handler_call_details.
    path: str
    service: str
    name: str
    rules: options_pb2.MethodRules
    client_streaming: bool
    server_streaming: bool

    @property
    def access(self) -> options_pb2.Access:
        return self.rules.access


class ContractError(ValueError):
    """A service's descriptors break a rule the runtime relies on."""


def find_service(full_name: str) -> ServiceDescriptor:
    """The descriptor of a service whose generated module has been imported."""
    try:
        return descriptor_pool.Default().FindServiceByName(full_name)
    except KeyError:
        raise ContractError(
            f"service {full_name} is unknown: import its generated _pb2 module first"
        ) from None


def method_rules(method: MethodDescriptor) -> options_pb2.MethodRules:
    """The method's `(palmgrid.options.v1.method)` option (empty when absent)."""
    options = method.GetOptions()
    if options.HasExtension(options_pb2.method):
        return options.Extensions[options_pb2.method]
    return options_pb2.MethodRules()


def method_table(service_names: Iterable[str]) -> dict[str, MethodInfo]:
    """Every method of the named services by path; ContractError for undeclared access."""
    table: dict[str, MethodInfo] = {}
    for full_name in service_names:
        service = find_service(full_name)
        for method in service.methods:
            rules = method_rules(method)
            access = rules.access
            if not access.public and not access.permission:
                raise ContractError(
                    f"{method.full_name} declares neither access.public nor access.permission"
                )
            path = f"/{service.full_name}/{method.name}"
            table[path] = MethodInfo(
                path=path,
                service=service.full_name,
                name=method.name,
                rules=rules,
                client_streaming=method.client_streaming,
                server_streaming=method.server_streaming,
            )
    return table
