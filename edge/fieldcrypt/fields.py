"""Where the sensitive fields of a message are, read from `(palmgrid.options.v1.field)`.

A `FieldPlan` per message type lists its sensitive string fields and the message fields
that lead to more of them; `visit` walks a message instance along the plan and hands
each sensitive value, with its JSON path (`user.phone`, `recipients[0].phone`,
`labels["k"].phone`), to a callback that may replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor, descriptor_pb2

from palmgrid.options.v1 import options_pb2

__all__ = ["FieldPlan", "SensitiveValue", "has_sensitive", "plan_for", "visit"]

_FD = descriptor.FieldDescriptor


@dataclass(frozen=True, slots=True)
class SensitiveValue:
    """One non-empty sensitive value found in a message."""

    path: str  # JSON path, as bound into the envelope context
    value: str
    mask: int  # palmgrid.options.v1.MaskStyle


@dataclass(slots=True)
class FieldPlan:
    leaves: list[tuple[descriptor.FieldDescriptor, int]] = field(default_factory=list)
    nested: list[tuple[descriptor.FieldDescriptor, FieldPlan]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.leaves and not self.nested


_plans: dict[str, FieldPlan] = {}


def field_rules(fd: descriptor.FieldDescriptor) -> options_pb2.FieldRules | None:
    # Options are re-parsed so that the extension is seen even when the descriptor's
    # pool parsed them before palmgrid.options.v1 was imported.
    raw = fd.GetOptions().SerializeToString()
    if not raw:
        return None
    opts = descriptor_pb2.FieldOptions.FromString(raw)
    if not opts.HasExtension(options_pb2.field):
        return None
    return opts.Extensions[options_pb2.field]


def plan_for(message: descriptor.Descriptor) -> FieldPlan:
    """The (cached) plan of a message type; recursive types are handled."""
    plan = _plans.get(message.full_name)
    if plan is not None:
        return plan
    raw: dict[str, FieldPlan] = {}
    _build(message, raw)
    # Keep only branches that reach a sensitive leaf: a fixpoint, so cycles settle.
    reaching = {name for name, p in raw.items() if p.leaves}
    reaching |= {name for name, p in _plans.items() if not p.empty}
    changed = True
    while changed:
        changed = False
        for name, p in raw.items():
            if name not in reaching and any(
                _target(fd).full_name in reaching for fd, _ in p.nested
            ):
                reaching.add(name)
                changed = True
    for p in raw.values():
        p.nested = [(fd, inner) for fd, inner in p.nested if _target(fd).full_name in reaching]
    _plans.update(raw)
    return raw[message.full_name]


def _build(message: descriptor.Descriptor, raw: dict[str, FieldPlan]) -> None:
    if message.full_name in raw or message.full_name in _plans:
        return
    plan = raw[message.full_name] = FieldPlan()
    for fd in message.fields:
        rules = field_rules(fd)
        if rules is not None and rules.sensitive:
            if fd.type != _FD.TYPE_STRING:
                raise TypeError(f"{fd.full_name} is sensitive but not a string")
            plan.leaves.append((fd, rules.mask))
        elif fd.type == _FD.TYPE_MESSAGE:
            target = _target(fd)
            if target is None:
                continue
            _build(target, raw)
            plan.nested.append((fd, raw.get(target.full_name) or _plans[target.full_name]))


def _target(fd: descriptor.FieldDescriptor) -> Any:
    """The message type a message field leads to (a map's value type for maps)."""
    entry: Any = fd.message_type
    if _is_map(fd):
        return entry.fields_by_name["value"].message_type
    return entry


def has_sensitive(message: descriptor.Descriptor) -> bool:
    return not plan_for(message).empty


def visit(message: Any, replace: Callable[[SensitiveValue], str | None], prefix: str = "") -> None:
    """Call `replace` for each non-empty sensitive value; a returned string replaces it."""
    for fd, mask in plan_for(message.DESCRIPTOR).leaves:
        name = _join(prefix, fd.json_name)
        if fd.is_repeated:
            values = getattr(message, fd.name)
            for i, value in enumerate(values):
                if value:
                    new = replace(SensitiveValue(f"{name}[{i}]", value, mask))
                    if new is not None:
                        values[i] = new
        else:
            value = getattr(message, fd.name)
            if value:
                new = replace(SensitiveValue(name, value, mask))
                if new is not None:
                    setattr(message, fd.name, new)
    for fd, _ in plan_for(message.DESCRIPTOR).nested:
        name = _join(prefix, fd.json_name)
        for path, child in _children(message, fd, name):
            visit(child, replace, path)


def _children(message: Any, fd: descriptor.FieldDescriptor, name: str) -> Iterator[tuple[str, Any]]:
    if _is_map(fd):
        for k, v in getattr(message, fd.name).items():
            yield f'{name}["{k}"]', v
    elif fd.is_repeated:
        for i, item in enumerate(getattr(message, fd.name)):
            yield f"{name}[{i}]", item
    elif message.HasField(fd.name):
        yield name, getattr(message, fd.name)


def _is_map(fd: descriptor.FieldDescriptor) -> bool:
    entry: Any = fd.message_type
    return bool(fd.type == _FD.TYPE_MESSAGE and entry.GetOptions().map_entry)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
