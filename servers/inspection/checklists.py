"""The checklist of each kind of inspection, as data (`checklists.toml`): the items an
inspection of that kind must have checked before it is completed."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from palmgrid.inspection.v1 import resources_pb2

CHECKLISTS_FILE = Path(__file__).resolve().parent / "checklists.toml"


def _names(enum: Any) -> list[str]:
    return list(enum.DESCRIPTOR.values_by_name)


@cache
def checklists() -> dict[str, tuple[str, ...]]:
    """InspectionKind name (no prefix) → its CheckItem names (no prefix). A kind or an
    item the contract does not declare is refused at load."""
    data = tomllib.loads(CHECKLISTS_FILE.read_text(encoding="utf-8"))
    kinds = {
        n.removeprefix("INSPECTION_KIND_")
        for n in resources_pb2.InspectionKind.DESCRIPTOR.values_by_name
    }
    items = {
        n.removeprefix("CHECK_ITEM_") for n in resources_pb2.CheckItem.DESCRIPTOR.values_by_name
    }
    loaded: dict[str, tuple[str, ...]] = {}
    for kind, table in data.items():
        listed = tuple(table["items"])
        unknown = [item for item in listed if item not in items]
        if kind not in kinds or unknown or not listed:
            raise ValueError(f"{CHECKLISTS_FILE}: bad checklist {kind!r} (unknown: {unknown})")
        loaded[kind] = listed
    missing = kinds - {"UNSPECIFIED"} - loaded.keys()
    if missing:
        raise ValueError(f"{CHECKLISTS_FILE}: no checklist for {sorted(missing)}")
    return loaded


def checklist(kind: str) -> tuple[str, ...]:
    """The items a `kind` inspection must check."""
    return checklists()[kind]
