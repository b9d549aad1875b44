"""Which entry answers a request: a method's cache plan, who shares the entry, its tags
and its Memcached key. One derivation, used by the edge (reads) and the worker
(pre-warm), so an entry the worker writes is the entry the edge looks up.

- `plan_method` compiles `(palmgrid.options.v1.method)` into a `CachePlan`: `ttl`,
  `stale_if_error`, `client_max_age` and the tag templates come from `cache`;
  `invalidates` templates are what a successful call of the method bumps; values are
  sealed at rest unless the entry is global and holds nothing sensitive;
- `sharing_scope` says who shares an entry, `render_tags` fills the tag templates;
- `entry_address(plan, request, principal)` puts them together with `entry_key`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetags.entries import entry_key
from cachetags.invalidate import user_tag
from cachetags.templates import TagTemplate
from palmgrid.options.v1 import options_pb2
from palmgrid.type.v1 import identity_pb2

__all__ = [
    "CachePlan",
    "EntryAddress",
    "entry_address",
    "field_value",
    "plan_method",
    "render_tags",
    "resolve_me",
    "sharing_scope",
]

GLOBAL = options_pb2.CACHE_SCOPE_GLOBAL
USER = options_pb2.CACHE_SCOPE_USER
CUSTOMER = options_pb2.CACHE_SCOPE_CUSTOMER
_ME = "users/me"


@dataclass(frozen=True, slots=True)
class CachePlan:
    """How one method's answers are cached; `ttl` 0 means they are not."""

    method: str
    ttl: int
    scope: int
    tags: tuple[TagTemplate, ...]
    stale_if_error: int
    client_max_age: int
    # Dotted proto path of the request field naming the scoped customer ("name").
    scope_field: str
    public: bool
    seal: bool
    invalidates: tuple[TagTemplate, ...]

    @property
    def cacheable(self) -> bool:
        return self.ttl > 0 and self.scope != options_pb2.CACHE_SCOPE_UNSPECIFIED


def plan_method(
    method: str,
    rules: options_pb2.MethodRules | None,
    *,
    public: bool,
    streaming: bool,
    sensitive: bool,
) -> CachePlan:
    """The plan of `method` (its full name, `palmgrid.billing.v1.BillingService.GetBalance`)
    from its rules; `public` when anyone may call it, `streaming` for server streams
    (never cached), `sensitive` when its response holds sensitive fields."""
    rules = rules or options_pb2.MethodRules()
    cache = rules.cache
    scope = cache.scope if cache.ttl_seconds > 0 and not streaming else 0
    if scope == GLOBAL and not public:
        # A global entry must never hold one caller's data: share it per user instead.
        scope = USER
    return CachePlan(
        method=method,
        ttl=max(cache.ttl_seconds, 0),
        scope=scope,
        tags=tuple(TagTemplate.parse(t) for t in cache.tags),
        stale_if_error=max(cache.stale_if_error_seconds, 0),
        client_max_age=max(cache.client_max_age_seconds, 0),
        scope_field=rules.access.scope_field,
        public=public,
        seal=sensitive or scope != GLOBAL,
        invalidates=tuple(TagTemplate.parse(t) for t in rules.invalidates),
    )


def field_value(message: Any, path: str) -> str:
    """A singular string field by dotted proto path; '' when unset or not a string."""
    current = message
    for name in path.split("."):
        if current is None or not hasattr(current, name):
            return ""
        current = getattr(current, name)
    return current if isinstance(current, str) else ""


def resolve_me(value: str, user: str | None) -> str:
    """`users/me…` names the caller: rewrite it to the caller's own `users/{id}`."""
    if user and (value == _ME or value.startswith(_ME + "/")):
        return user + value[len(_ME) :]
    return value


def render_tags(
    templates: Sequence[TagTemplate], request: Any, user: str | None
) -> list[str] | None:
    """The tags for this request, or None when one cannot be rendered."""
    tags: list[str] = []
    for template in templates:
        values = {p: resolve_me(field_value(request, p), user) for p in template.field_paths}
        tag = template.render(values)
        if tag is None or (_ME + "/") in tag + "/":
            return None
        tags.append(tag)
    return tags


def sharing_scope(
    plan: CachePlan, request: Any, principal: identity_pb2.Principal | None
) -> str | None:
    """Who shares this request's entry, or None when it must not be cached.

    - global: everyone (public methods only);
    - user: the caller;
    - customer: every customer user bound to that customer (the edge checks the
      binding itself before serving a shared entry); a staff member gets entries of
      their own, since only the server knows which supply office a customer is in.
    """
    if plan.scope == GLOBAL:
        return "global"
    if principal is None or not principal.user:
        return None
    if plan.scope == USER:
        return f"user:{principal.user}"
    if plan.scope == CUSTOMER:
        customer = _customer_name(field_value(request, plan.scope_field))
        if customer is None:
            return None
        if principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER:
            return f"customer:{customer}" if customer in principal.customers else None
        if principal.kind == identity_pb2.PRINCIPAL_KIND_STAFF:
            return f"customer:{customer}|staff:{principal.user}|reach:{staff_reach(principal)}"
    return None


def staff_reach(principal: identity_pb2.Principal) -> str:
    """A short digest of what a staff member's reads depend on besides who they are
    (supply offices, permissions): entries kept under an earlier scope never answer a
    later one, even one read with the old principal while its revocation was on the way."""
    return _reach(principal.SerializeToString())


# Worked out for every cached read of a staff member: once per principal, keyed by its
# bytes (reading its repeated fields would cost more than the rest of this).
@functools.lru_cache(maxsize=1024)
def _reach(serialized: bytes) -> str:
    principal = identity_pb2.Principal.FromString(serialized)
    offices = "*" if principal.all_supply_offices else ",".join(sorted(principal.supply_offices))
    reach = f"{offices}|{','.join(sorted(principal.permissions))}"
    return hashlib.sha256(reach.encode()).hexdigest()[:16]


def entry_tags(
    plan: CachePlan, request: Any, principal: identity_pb2.Principal | None
) -> list[str] | None:
    """The tags an entry is stored under, or None when one cannot be rendered: the
    policy's, and for a staff caller also their own user tag. What a staff member may
    read follows from their supply offices and roles, which the account service changes
    without touching the data; it bumps that tag when they change, so the entries they
    kept stop being served at once."""
    user = principal.user if principal is not None else None
    tags = render_tags(plan.tags, request, user)
    staff = principal is not None and principal.kind == identity_pb2.PRINCIPAL_KIND_STAFF
    if tags is not None and user and staff:
        tags.append(user_tag(user))
    return tags


@dataclass(frozen=True, slots=True)
class EntryAddress:
    """Where one request's answer lives: its Memcached key and the tags it is stored
    under."""

    key: str
    tags: tuple[str, ...]


def entry_address(
    plan: CachePlan, request: Any, principal: identity_pb2.Principal | None
) -> EntryAddress | None:
    """The entry answering `request` (a proto message, as the edge built it) for
    `principal`, or None when it must not be cached for them."""
    scope = sharing_scope(plan, request, principal)
    tags = entry_tags(plan, request, principal)
    if scope is None or tags is None:
        return None
    canonical = request.SerializeToString(deterministic=True)
    return EntryAddress(entry_key(plan.method, canonical, scope), tuple(tags))


def _customer_name(value: str) -> str | None:
    parts = value.split("/")
    if len(parts) >= 2 and parts[0] == "customers" and parts[1]:
        return f"customers/{parts[1]}"
    return None
