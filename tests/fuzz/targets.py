"""What the fuzzers feed: the edge's parsers of untrusted text, each allowed to fail only
in the way it documents.

- path templates: `parse_template` raises TemplateError or gives a template that
  re-parses from its source to the same segments;
- routing: the router over every real route gives a match, NoRoute, MethodNotAllowed
  or UnicodeDecodeError (a variable not percent-encoded UTF-8);
  a match's path variables and query string then build the request message or fail
  with the error the edge turns into a 400 (ValueError/TypeError from a path setter,
  QueryError from the query);
- envelopes: opening a field-encryption envelope raises only EnvelopeRejected.

Any other exception is a crash (a 500 at the edge). Each target takes the fuzzer's
bytes and picks its input with atheris' FuzzedDataProvider, so atheris
(tests/fuzz/run_atheris.py) and hypothesis (the suite's bounded run) drive the same
code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import atheris

import palmgrid
from edge.bindings import collect_methods
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.fieldcrypt.envelope import ENC_LENGTH, PREFIX, b64url
from edge.fieldcrypt.keys import KeyRing, ensure_key
from edge.fieldcrypt.replay import ReplayGuard
from edge.fieldcrypt.requests import EnvelopeRejected, RequestOpener
from edge.path_template import TemplateError, parse_template
from edge.query import QueryError, parse_query
from edge.router import MethodNotAllowed, NoRoute, Router
from edge.routes import Route, RouteBuilder
from palmgrid.account.v1 import account_service_pb2

# The descriptor set the edge serves (as tests/e2e/system.py gives it, without starting
# or importing any service).
DESCRIPTOR_SET = Path(palmgrid.__path__[0]) / "descriptors.binpb"
HTTP_METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT")
# Envelope times anywhere in 12 digits pass the freshness check, so that the fuzzer
# reaches the decryption behind it.
WIDE_WINDOW = 10.0**13


@cache
def router() -> Router[Route]:
    config = EdgeConfig()
    catalog = Catalog.from_descriptor_set(DESCRIPTOR_SET)
    services = [s.full_name for s in catalog.services() if not catalog.service_is_internal(s)]
    methods = collect_methods(catalog, services, config.default_policy)
    builder = RouteBuilder(
        catalog,
        ignored_query_parameters=config.ignored_query_parameters,
        reject_unknown_query_parameters=config.reject_unknown_query_parameters,
    )
    table: Router[Route] = Router()
    for spec in methods:
        for binding in spec.bindings:
            table.add(binding.http_method, binding.template, builder.build(spec, binding))
    return table


def fuzz_path_template(data: bytes) -> None:
    source = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(256)
    try:
        template = parse_template(source)
    except TemplateError:
        return
    again = parse_template(template.source)
    assert again.segments == template.segments, source
    template.openapi_path()


def fuzz_route_and_query(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    method = HTTP_METHODS[fdp.ConsumeIntInRange(0, len(HTTP_METHODS) - 1)]
    path = fdp.ConsumeUnicodeNoSurrogates(200)
    if fdp.ConsumeBool():
        # Start from a real route's shape so that the fuzzer gets past the first segment.
        routes = router().routes()
        _, template, _ = routes[fdp.ConsumeIntInRange(0, len(routes) - 1)]
        path = "/" + "/".join(template.segments) + path
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    try:
        match = router().lookup(method, path)
    except (NoRoute, MethodNotAllowed, UnicodeDecodeError):
        # UnicodeDecodeError: a variable that is not percent-encoded UTF-8 (a 400).
        return
    route = match.route
    message = route.request_class()
    for setter in route.path_setters:
        try:
            setter.apply(message, match.params[setter.name])
        except (ValueError, TypeError):
            return
    try:
        route.query.apply(message, parse_query(query))
    except QueryError:
        return
    message.SerializeToString()


@cache
def opener() -> tuple[RequestOpener, str]:
    keys_dir = Path(tempfile.mkdtemp(prefix="palmgrid-fuzz-keys-"))
    ensure_key(keys_dir)
    ring = KeyRing(keys_dir)
    guard = ReplayGuard(None, window=WIDE_WINDOW)
    wide = RequestOpener(ring, guard, window=WIDE_WINDOW, future_skew=WIDE_WINDOW)
    return wide, ring.current.kid


def fuzz_envelope(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    wide, kid = opener()
    if fdp.ConsumeBool():
        text = fdp.ConsumeUnicodeNoSurrogates(400)
    else:
        # Well-formed around the parts the fuzzer chooses: the key id, time and lengths.
        chosen_kid = kid if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(70)
        ts = (
            fdp.ConsumeUnicodeNoSurrogates(14)
            if fdp.ConsumeBool()
            else str(fdp.ConsumeIntInRange(0, 10**12))
        )
        enc = fdp.ConsumeBytes(ENC_LENGTH if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 80))
        ct = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        text = f"{PREFIX}.{chosen_kid}.{ts}.{b64url(enc)}.{b64url(ct)}"
    request = account_service_pb2.CreateUserRequest()
    request.user.phone = text
    try:
        opened = wide.open("palmgrid.account.v1.AccountService.CreateUser", request, "")
    except EnvelopeRejected:
        return
    # Only an empty field (nothing to open) passes: no forged envelope opens.
    if text or opened:
        raise AssertionError(f"an envelope the fuzzer made opened: {text!r}")


TARGETS: dict[str, Callable[[bytes], Any]] = {
    "path_template": fuzz_path_template,
    "route_and_query": fuzz_route_and_query,
    "envelope": fuzz_envelope,
}
