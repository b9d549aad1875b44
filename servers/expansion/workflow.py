"""The connection workflow as data (`workflow.toml`): each application kind's nodes in
order with their default time limits, and the supply office of an area.

Loading checks the file (every kind once, nodes known and not repeated, limits
positive) and names what is wrong, so a bad edit stops the service at start rather
than misrouting applications later.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from palmgrid.expansion.v1 import resources_pb2

WORKFLOW_FILE = Path(__file__).resolve().parent / "workflow.toml"

KINDS = tuple(
    v.name.removeprefix("APPLICATION_KIND_")
    for v in resources_pb2.ApplicationKind.DESCRIPTOR.values
    if v.number
)
NODES = tuple(
    v.name.removeprefix("NODE_KIND_") for v in resources_pb2.NodeKind.DESCRIPTOR.values if v.number
)


def limit_id(kind: str, node: str) -> str:
    """The id in `nodeTimeLimits/{id}` of `node` in the workflow of `kind`:
    "high-voltage-design-review"."""
    return f"{kind}-{node}".lower().replace("_", "-")


@dataclass(frozen=True)
class NodeDefault:
    """One node of a kind's sequence with its default limit."""

    kind: str
    node: str
    sequence: int
    working_days: int
    dual_supply_working_days: int
    reminder_lead_hours: int

    @property
    def limit_id(self) -> str:
        return limit_id(self.kind, self.node)


@dataclass(frozen=True)
class Workflow:
    """The sequences per kind and the offices per area."""

    sequences: dict[str, tuple[NodeDefault, ...]]
    default_office: str
    area_offices: dict[str, str]

    def office_of_area(self, area_code: str) -> str:
        """The supply office of `area_code` ("" → the default office)."""
        return self.area_offices.get(area_code, self.default_office)

    def all_nodes(self) -> list[NodeDefault]:
        """Every node of every kind, by kind and then sequence."""
        return [node for kind in KINDS for node in self.sequences[kind]]


class WorkflowError(ValueError):
    """The workflow file is wrong; the message says where."""


def _node(kind: str, position: int, entry: dict[str, Any], path: Path) -> NodeDefault:
    node = str(entry.get("node", ""))
    where = f"{path.name}: {kind} node {position}"
    if node not in NODES:
        raise WorkflowError(f"{where}: unknown node {node!r} (one of {', '.join(NODES)})")
    days = entry.get("working_days")
    if not isinstance(days, int) or days < 1:
        raise WorkflowError(f"{where}: working_days must be a whole number of at least 1")
    dual = entry.get("dual_supply_working_days", 0)
    lead = entry.get("reminder_lead_hours", 24)
    if not isinstance(dual, int) or dual < 0 or not isinstance(lead, int) or lead < 0:
        raise WorkflowError(f"{where}: dual_supply_working_days and reminder_lead_hours ≥ 0")
    return NodeDefault(kind, node, position, days, dual, lead)


@cache
def load_workflow(path: Path = WORKFLOW_FILE) -> Workflow:
    """The workflow in `path`; WorkflowError naming the first problem."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    sequences: dict[str, tuple[NodeDefault, ...]] = {}
    for entry in document.get("kinds", []):
        kind = str(entry.get("kind", ""))
        if kind not in KINDS or kind in sequences:
            raise WorkflowError(f"{path.name}: kind {kind!r} unknown or given twice")
        nodes = tuple(_node(kind, i, e, path) for i, e in enumerate(entry.get("nodes", []), 1))
        if not nodes or len({n.node for n in nodes}) != len(nodes):
            raise WorkflowError(f"{path.name}: {kind} needs nodes, each once")
        sequences[kind] = nodes
    if set(sequences) != set(KINDS):
        raise WorkflowError(f"{path.name}: every kind needs a sequence: {', '.join(KINDS)}")
    offices = document.get("offices", {})
    default = str(offices.get("default", ""))
    if not default:
        raise WorkflowError(f"{path.name}: [offices] needs a default office")
    areas = {str(k): str(v) for k, v in offices.get("areas", {}).items()}
    return Workflow(sequences, default, areas)
