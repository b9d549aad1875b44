"""Tag templates from the protos: `customer/{parent}`, `customer/{name=customers/*}`.

A template is literal text with `{field.path}` parts filled from request fields. With
`{field.path=pattern}` only the leading segments of the value that match the pattern
are kept, as in `google.api.http` path templates: `customer/{name=customers/*}` on
`customers/3100000001/bills/2026-10` gives `customer/customers/3100000001`. A pattern
segment `*` matches one non-empty segment, `**` the rest of the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["TagTemplate", "TemplateError"]

_PART = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:=([^{}]+))?\}")


class TemplateError(ValueError):
    """A tag template is malformed."""


@dataclass(frozen=True, slots=True)
class _Variable:
    field_path: str
    pattern: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class TagTemplate:
    """A parsed tag template; `render` fills it from request field values."""

    source: str
    pieces: tuple[str | _Variable, ...]

    @classmethod
    def parse(cls, source: str) -> TagTemplate:
        pieces: list[str | _Variable] = []
        pos = 0
        for m in _PART.finditer(source):
            if m.start() > pos:
                pieces.append(source[pos : m.start()])
            pattern = tuple(m.group(2).split("/")) if m.group(2) else None
            if pattern is not None and (any(seg == "" for seg in pattern) or "**" in pattern[:-1]):
                raise TemplateError(f"bad pattern in tag template {source!r}")
            pieces.append(_Variable(m.group(1), pattern))
            pos = m.end()
        rest = source[pos:]
        if (
            "{" in rest
            or "}" in rest
            or any(isinstance(p, str) and ("{" in p or "}" in p) for p in pieces)
        ):
            raise TemplateError(f"unbalanced braces in tag template {source!r}")
        if rest:
            pieces.append(rest)
        if not pieces:
            raise TemplateError("empty tag template")
        return cls(source, tuple(pieces))

    @property
    def field_paths(self) -> tuple[str, ...]:
        """Request field paths (proto names, dotted) the template reads."""
        return tuple(p.field_path for p in self.pieces if isinstance(p, _Variable))

    def render(self, values: Mapping[str, str]) -> str | None:
        """The tag, or None when a field is empty or does not match its pattern."""
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value = values.get(piece.field_path, "")
            if not value:
                return None
            if piece.pattern is not None:
                matched = _leading_match(value, piece.pattern)
                if matched is None:
                    return None
                value = matched
            out.append(value)
        return "".join(out)


def _leading_match(value: str, pattern: tuple[str, ...]) -> str | None:
    segments = value.split("/")
    if pattern[-1] == "**":
        fixed = pattern[:-1]
        if len(segments) < len(fixed):
            return None
        return value if _segments_match(segments[: len(fixed)], fixed) else None
    if len(segments) < len(pattern) or not _segments_match(segments[: len(pattern)], pattern):
        return None
    return "/".join(segments[: len(pattern)])


def _segments_match(segments: list[str], pattern: tuple[str, ...]) -> bool:
    return all((p == "*" and s != "") or p == s for s, p in zip(segments, pattern, strict=True))
