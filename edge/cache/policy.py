"""A route's cache plan, compiled from `(palmgrid.options.v1.method)` at start-up.

The plan itself, who shares an entry and which tags a request renders are
`cachetags.plans` (the worker's pre-warm derives the same entries); this module adds
what only the edge knows: the route's access rule, whether it streams, and whether its
response holds sensitive fields.
"""

from __future__ import annotations

from cachetags.plans import CachePlan, plan_method, render_tags, resolve_me, sharing_scope
from edge.fieldcrypt.fields import has_sensitive
from edge.routes import Route

__all__ = ["CachePlan", "plan_route", "render_tags", "resolve_me", "sharing_scope"]


def plan_route(route: Route) -> CachePlan:
    return plan_method(
        route.method_name,
        route.spec.rules,
        public=route.access.kind == "public",
        streaming=route.streaming,
        sensitive=has_sensitive(route.spec.method.output_type),
    )
