"""What each RPC looks like over HTTP: its `google.api.http` bindings and access policy.

Read once, at load time, from the catalog. Every binding is checked against the request
message (path variables name scalar fields, `body` and `response_body` name real fields)
so that a bad contract fails at start-up, not on the first request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor

from edge.descriptors import Catalog, DescriptorError
from edge.path_template import PathTemplate, TemplateError, parse_template
from palmgrid.options.v1 import options_pb2

__all__ = [
    "Access",
    "DefaultPolicy",
    "HttpBinding",
    "MethodSpec",
    "collect_methods",
    "field_by_path",
]

log = logging.getLogger(__name__)

DefaultPolicy = Literal["public", "deny"]

_FD = descriptor.FieldDescriptor


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One HttpRule (or one of its additional_bindings)."""

    http_method: str
    template: PathTemplate
    body: str  # "" (none), "*" (whole request) or a request field path
    response_body: str  # "" (whole response) or a response field path


@dataclass(frozen=True, slots=True)
class Access:
    """The edge's coarse decision for a method; sessions refine `permission` later."""

    kind: Literal["public", "permission", "denied"]
    permission: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """An RPC the edge routes, with everything later pipeline stages need to know."""

    method: descriptor.MethodDescriptor
    bindings: tuple[HttpBinding, ...]
    access: Access
    # `(palmgrid.options.v1.method)` as declared (cache policy, audit, rate limits …),
    # or None for a method that carries none of our options.
    rules: options_pb2.MethodRules | None

    @property
    def service_name(self) -> str:
        return self.method.containing_service.full_name

    @property
    def grpc_path(self) -> str:
        return f"/{self.service_name}/{self.method.name}"


def collect_methods(
    catalog: Catalog, services: Iterable[str], default_policy: DefaultPolicy
) -> list[MethodSpec]:
    """The routable methods of the named services.

    Skipped, with a log line each: internal services and methods, methods without a
    `google.api.http` rule, and client- or bidi-streaming methods (HTTP/1.1 JSON has no
    good shape for them).
    """
    specs: list[MethodSpec] = []
    for name in services:
        service = catalog.service(name)
        if catalog.service_is_internal(service):
            log.info("edge: %s is internal; not routed", name)
            continue
        for method in service.methods:
            spec = _method_spec(catalog, method, default_policy)
            if spec is not None:
                specs.append(spec)
    return specs


def _method_spec(
    catalog: Catalog, method: descriptor.MethodDescriptor, default_policy: DefaultPolicy
) -> MethodSpec | None:
    opts = catalog.method_options(method)
    rules = catalog.method_rules(method)
    if rules is not None and rules.access.internal:
        log.info("edge: %s is internal; not routed", method.full_name)
        return None
    if not opts.HasExtension(annotations_pb2.http):
        return None
    if method.client_streaming:
        log.warning("edge: %s is client-streaming; not routed", method.full_name)
        return None
    rule = opts.Extensions[annotations_pb2.http]
    bindings = [_binding(method, rule)]
    # additional_bindings nest only one level deep (google/api/http.proto).
    bindings.extend(_binding(method, extra) for extra in rule.additional_bindings)
    return MethodSpec(method, tuple(bindings), _access(rules, default_policy), rules)


def _access(rules: options_pb2.MethodRules | None, default_policy: DefaultPolicy) -> Access:
    if rules is None or not rules.HasField("access"):
        if default_policy == "public":
            return Access("public", reason="no access options; default policy public")
        return Access("denied", reason="no access options; default policy deny")
    if rules.access.public:
        return Access("public")
    if rules.access.permission:
        return Access("permission", rules.access.permission)
    return Access("denied", reason="access declares neither public nor a permission")


def _binding(method: descriptor.MethodDescriptor, rule: http_pb2.HttpRule) -> HttpBinding:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise DescriptorError(f"{method.full_name}: google.api.http without a pattern")
    if kind == "custom":
        http_method, path = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, path = kind.upper(), getattr(rule, kind)
    try:
        template = parse_template(path)
    except TemplateError as exc:
        raise DescriptorError(f"{method.full_name}: {exc}") from exc
    request = method.input_type
    for var in template.variables:
        field = _require_field(method, request, var.field_path, "path variable")
        if field.is_repeated or field.type in (_FD.TYPE_MESSAGE, _FD.TYPE_GROUP):
            raise DescriptorError(
                f"{method.full_name}: path variable {var.name} must name a singular scalar field"
            )
    if rule.body and rule.body != "*":
        _require_field(method, request, tuple(rule.body.split(".")), "body")
    if rule.response_body:
        _require_field(
            method, method.output_type, tuple(rule.response_body.split(".")), "response_body"
        )
    return HttpBinding(http_method, template, rule.body, rule.response_body)


def _require_field(
    method: descriptor.MethodDescriptor,
    message: descriptor.Descriptor,
    path: tuple[str, ...],
    what: str,
) -> descriptor.FieldDescriptor:
    field = field_by_path(message, path)
    if field is None:
        raise DescriptorError(
            f"{method.full_name}: {what} {'.'.join(path)} is not a field of {message.full_name}"
        )
    return field


def field_by_path(
    message: descriptor.Descriptor, path: tuple[str, ...]
) -> descriptor.FieldDescriptor | None:
    """The field a dotted proto-name path leads to, through singular message fields."""
    current: descriptor.Descriptor | None = message
    field = None
    for name in path:
        if current is None:
            return None
        field = current.fields_by_name.get(name)
        if field is None:
            return None
        nested = field.message_type if not field.is_repeated else None
        current = nested
    return field
