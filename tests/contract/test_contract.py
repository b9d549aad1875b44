"""The compiled contract serves exactly the REST surface phones rely on.

Reads the generated descriptors (never the .proto text) and checks every route in
CONTRACT.md, the access declaration of every RPC, and that every element is documented.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2

from palmgrid.options.v1 import options_pb2

GENERATED = Path(__file__).resolve().parents[2] / "generated"
CONTRACT_FILE = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"
PUBLIC_SERVICES = (
    "account",
    "billing",
    "outage",
    "expansion",
    "inspection",
    "care",
    "ingest",
    "worker",
)
INTERNAL_SERVICES = ("notification",)
# Ingest's pushes come from the source systems over mTLS only, never through the edge
# (its import-job and quarantine methods are staff's and routed).
INGEST_PUSHES = (
    "PushCustomerChanges",
    "PushMeterReadings",
    "StreamMeterReadings",
    "PushDailyReadings",
    "PushTariffAssignments",
    "PushPayments",
    "PushApplicationUpdates",
)

# Every route of CONTRACT.md (edge endpoints aside) and whether anyone may call it.
ANYONE, SESSION = True, False
CONTRACT_ROUTES: list[tuple[str, str, bool]] = [
    ("POST", "/v1/captchas", ANYONE),
    ("POST", "/v1/users", ANYONE),
    ("POST", "/v1/sessions", ANYONE),
    ("DELETE", "/v1/sessions/current", SESSION),
    ("GET", "/v1/users/me", SESSION),
    ("POST", "/v1/users/me/customerBindings", SESSION),
    ("GET", "/v1/users/me/customerBindings", SESSION),
    ("DELETE", "/v1/users/me/customerBindings/{customer}", SESSION),
    ("GET", "/v1/users/me/subscriptions", SESSION),
    ("PATCH", "/v1/users/me/subscriptions", SESSION),
    ("GET", "/v1/users/me/messages", SESSION),
    ("GET", "/v1/customers/{customer}", SESSION),
    ("GET", "/v1/customers/{customer}/balance", SESSION),
    ("GET", "/v1/customers/{customer}/monthlyUsage", SESSION),
    ("GET", "/v1/customers/{customer}/bills", SESSION),
    ("GET", "/v1/customers/{customer}/bills/{bill}", SESSION),
    ("GET", "/v1/customers/{customer}/chargeEstimate", SESSION),
    ("GET", "/v1/tariffs/{tariff}", ANYONE),
    ("POST", "/v1/customers/{customer}/payments", SESSION),
    ("GET", "/v1/customers/{customer}/payments", SESSION),
    ("GET", "/v1/customers/{customer}/payments/{payment}", SESSION),
    ("GET", "/v1/outages", ANYONE),
    ("GET", "/v1/outages/{outage}", ANYONE),
    ("GET", "/v1/customers/{customer}/outages", SESSION),
    ("POST", "/v1/outages", SESSION),
    ("PATCH", "/v1/outages/{outage}", SESSION),
    ("POST", "/v1/outages/{outage}:cancel", SESSION),
    ("POST", "/v1/outages/{outage}:restore", SESSION),
    ("GET", "/v1/outages:watch", ANYONE),
    ("POST", "/v1/applications", SESSION),
    ("GET", "/v1/applications", SESSION),
    ("GET", "/v1/applications/{application}", SESSION),
    ("POST", "/v1/applications/{application}:advance", SESSION),
    ("POST", "/v1/applications/{application}:reject", SESSION),
    ("POST", "/v1/inspections", SESSION),
    ("GET", "/v1/inspections", SESSION),
    ("GET", "/v1/inspections/{inspection}", SESSION),
    ("POST", "/v1/inspections/{inspection}/findings", SESSION),
    ("POST", "/v1/inspections/{inspection}:complete", SESSION),
    ("GET", "/v1/outlets", ANYONE),
    ("GET", "/v1/articles", ANYONE),
    ("GET", "/v1/articles/{article}", ANYONE),
    ("POST", "/v1/articles", SESSION),
    ("POST", "/v1/articles/{article}:publish", SESSION),
    ("POST", "/v1/feedback", SESSION),
    ("GET", "/v1/feedback", SESSION),
    ("GET", "/v1/feedback/{feedback}", SESSION),
    ("GET", "/v1/complaintRisks", SESSION),
    ("GET", "/v1/complaintRisks/{id}", SESSION),
]
EDGE_ROUTES = {"/healthz", "/openapi.json", "/v1/keys"}


@dataclass(frozen=True)
class Binding:
    """One HTTP binding of one RPC."""

    method: descriptor.MethodDescriptor
    http_method: str
    template: str


def _import_generated_modules() -> list[descriptor.FileDescriptor]:
    files = []
    for path in sorted((GENERATED / "palmgrid").rglob("*_pb2.py")):
        module_name = ".".join(path.relative_to(GENERATED).with_suffix("").parts)
        files.append(importlib.import_module(module_name).DESCRIPTOR)
    return files


FILES = _import_generated_modules()


def services(package_service: str | None = None) -> list[descriptor.ServiceDescriptor]:
    found = [s for f in FILES for s in f.services_by_name.values()]
    if package_service:
        found = [s for s in found if s.full_name.split(".")[1] == package_service]
    return found


def method_rules(method: descriptor.MethodDescriptor) -> options_pb2.MethodRules:
    return method.GetOptions().Extensions[options_pb2.method]


def http_rules(method: descriptor.MethodDescriptor) -> list[http_pb2.HttpRule]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def rule_verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return str(kind).upper(), getattr(rule, str(kind))


def all_bindings() -> list[Binding]:
    out = []
    for service in services():
        for method in service.methods:
            for rule in http_rules(method):
                verb, path = rule_verb_and_path(rule)
                out.append(Binding(method, verb, path))
    return out


def split_template(template: str) -> tuple[list[str], str]:
    """Segments of an HttpRule template with `{f=pattern}` read as its pattern, and the verb."""
    expanded = re.sub(r"\{[^}=]+=([^}]+)\}", r"\1", template)
    expanded = re.sub(r"\{[^}]+\}", "*", expanded)
    path, _, verb = expanded.partition(":")
    return path.strip("/").split("/"), verb


def split_contract_path(path: str) -> tuple[list[str], str]:
    path, _, verb = path.partition(":")
    return path.strip("/").split("/"), verb


def template_matches(template: str, contract_path: str) -> bool:
    """A contract path `{x}` segment needs a `*` in the template; literals may match `*`."""
    t_segments, t_verb = split_template(template)
    c_segments, c_verb = split_contract_path(contract_path)
    if t_verb != c_verb or len(t_segments) != len(c_segments):
        return False
    for t, c in zip(t_segments, c_segments, strict=True):
        if c.startswith("{"):
            if t != "*":
                return False
        elif t not in ("*", c):
            return False
    return True


@pytest.mark.parametrize(("http_method", "path", "anyone"), CONTRACT_ROUTES)
def test_contract_route_is_served_by_an_http_rule(
    http_method: str, path: str, anyone: bool
) -> None:
    matches = [
        b
        for b in all_bindings()
        if b.http_method == http_method and template_matches(b.template, path)
    ]
    assert matches, f"no google.api.http rule serves {http_method} {path}"
    # Literal templates beat patterns, so the most specific match is the one that serves it.
    served_by = min(matches, key=lambda b: split_template(b.template)[0].count("*"))
    access = method_rules(served_by.method).access
    if anyone:
        assert access.public, f"{served_by.method.full_name} must be public"
    else:
        assert not access.public, f"{served_by.method.full_name} must need a session"
        assert access.permission, f"{served_by.method.full_name} declares no permission"


def test_route_table_covers_every_route_named_in_contract_md() -> None:
    if not CONTRACT_FILE.exists():
        pytest.skip("shared/CONTRACT.md is not beside this checkout")
    named = set(
        re.findall(
            r"`(?:[A-Z]+`?/?`?)*\s*(/v1/[^`?\s]+|/healthz|/openapi\.json)",
            CONTRACT_FILE.read_text(),
        )
    )
    listed = {path for _, path, _ in CONTRACT_ROUTES} | EDGE_ROUTES
    assert named - listed == set()


@pytest.mark.parametrize("package", PUBLIC_SERVICES)
def test_every_public_service_exists(package: str) -> None:
    assert services(package), f"palmgrid.{package}.v1 declares no service"


@pytest.mark.parametrize("package", INTERNAL_SERVICES)
def test_internal_services_are_marked_and_unrouted(package: str) -> None:
    found = services(package)
    assert found, f"palmgrid.{package}.v1 declares no service"
    for service in found:
        assert service.GetOptions().Extensions[options_pb2.service].internal, service.full_name
        for method in service.methods:
            assert not http_rules(method), f"{method.full_name} is internal but has an HTTP rule"
            assert method_rules(method).access.internal, method.full_name


def test_ingest_pushes_are_internal_and_unrouted() -> None:
    (service,) = services("ingest")
    pushes = [m for m in service.methods if m.name.startswith(("Push", "Stream"))]
    assert sorted(m.name for m in pushes) == sorted(INGEST_PUSHES)
    for method in pushes:
        assert method_rules(method).access.internal, method.full_name
        assert not http_rules(method), method.full_name


def test_every_rpc_declares_access_and_non_internal_ones_are_routed() -> None:
    problems = []
    for service in services():
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(options_pb2.method):
                problems.append(f"{method.full_name}: no palmgrid.options.v1.method")
                continue
            access = method_rules(method).access
            if access.internal:
                if http_rules(method):
                    problems.append(f"{method.full_name}: internal but has an HTTP rule")
            elif not http_rules(method):
                problems.append(f"{method.full_name}: no google.api.http rule")
            if not access.public and not access.permission:
                problems.append(f"{method.full_name}: neither public nor a permission")
            if access.public and access.permission:
                problems.append(f"{method.full_name}: both public and a permission")
    assert problems == []


def test_no_two_bindings_claim_the_same_route() -> None:
    seen: dict[tuple[str, str], str] = {}
    for binding in all_bindings():
        segments, verb = split_template(binding.template)
        key = (binding.http_method, "/".join(segments) + (":" + verb if verb else ""))
        assert key not in seen, f"{key} bound by {seen.get(key)} and {binding.method.full_name}"
        seen[key] = binding.method.full_name


def _documented_paths(file: descriptor_pb2.FileDescriptorProto) -> set[tuple[int, ...]]:
    return {
        tuple(loc.path)
        for loc in file.source_code_info.location
        if loc.leading_comments.strip() or loc.trailing_comments.strip()
    }


def _element_paths(file: descriptor_pb2.FileDescriptorProto) -> list[tuple[tuple[int, ...], str]]:
    """(source path, name) of every service, method, message, field, enum and enum value."""
    out: list[tuple[tuple[int, ...], str]] = []

    def enum(path: tuple[int, ...], e: descriptor_pb2.EnumDescriptorProto) -> None:
        out.append((path, e.name))
        for i, value in enumerate(e.value):
            out.append(((*path, 2, i), f"{e.name}.{value.name}"))

    def message(path: tuple[int, ...], m: descriptor_pb2.DescriptorProto) -> None:
        out.append((path, m.name))
        for i, field in enumerate(m.field):
            out.append(((*path, 2, i), f"{m.name}.{field.name}"))
        for i, nested in enumerate(m.nested_type):
            if not nested.options.map_entry:
                message((*path, 3, i), nested)
        for i, e in enumerate(m.enum_type):
            enum((*path, 4, i), e)

    for i, m in enumerate(file.message_type):
        message((4, i), m)
    for i, e in enumerate(file.enum_type):
        enum((5, i), e)
    for i, s in enumerate(file.service):
        out.append(((6, i), s.name))
        for j, rpc in enumerate(s.method):
            out.append(((6, i, 2, j), f"{s.name}.{rpc.name}"))
    for i, ext in enumerate(file.extension):
        out.append(((7, i), ext.name))
    return out


def test_every_element_of_our_protos_has_a_comment() -> None:
    fds = descriptor_pb2.FileDescriptorSet.FromString(
        (GENERATED / "palmgrid" / "descriptors.binpb").read_bytes()
    )
    missing = []
    for file in fds.file:
        if not file.name.startswith("palmgrid/"):
            continue
        documented = _documented_paths(file)
        missing += [
            f"{file.name}: {name}" for path, name in _element_paths(file) if path not in documented
        ]
    assert missing == []
