"""The edge's cache stage: per-method policies, Memcached entries, HTTP validators."""

from __future__ import annotations

from edge.cache.policy import CachePlan, plan_route, render_tags, sharing_scope
from edge.cache.stage import CacheStage

__all__ = ["CachePlan", "CacheStage", "plan_route", "render_tags", "sharing_scope"]
