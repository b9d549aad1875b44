"""HttpRule path templates: parsing, binding a matched path, and percent-decoding.

The grammar is the one in `google/api/http.proto`:

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

A template is flattened into a tuple of segments (literal text, `*` or `**`); each
variable remembers the range of segments it covers. Matching a request path against
many templates is the router's job (`edge.router`); this module only parses templates and
turns the raw segments of a matched path into variable values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "ANY_SEGMENT",
    "ANY_SEGMENTS",
    "PathTemplate",
    "PathVariable",
    "TemplateError",
    "decode_segment",
    "parse_template",
]

ANY_SEGMENT = "*"
ANY_SEGMENTS = "**"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SLASH_ESCAPE = re.compile(r"%2[Ff]")


class TemplateError(ValueError):
    """A path template that does not follow the HttpRule grammar."""


@dataclass(frozen=True, slots=True)
class PathVariable:
    """A `{field.path=…}` part of a template.

    `start`/`end` index the template's segments; `end` is None when the variable ends in
    `**` and so takes every remaining segment of the request path.
    """

    field_path: tuple[str, ...]
    start: int
    end: int | None
    # `{x}` and `{x=*}` capture one segment and are decoded completely (so `%2F` becomes
    # `/`); anything longer keeps `%2F` encoded, as google/api/http.proto specifies.
    single_segment: bool

    @property
    def name(self) -> str:
        return ".".join(self.field_path)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed template such as `/v1/{name=shelves/*/books/*}:checkout`."""

    source: str
    segments: tuple[str, ...]
    variables: tuple[PathVariable, ...]
    verb: str | None

    @property
    def has_deep_wildcard(self) -> bool:
        return bool(self.segments) and self.segments[-1] == ANY_SEGMENTS

    def bind(self, raw_segments: list[str]) -> dict[str, str]:
        """Variable values (keyed by dotted field path) of a path this template matched."""
        values: dict[str, str] = {}
        for var in self.variables:
            end = len(raw_segments) if var.end is None else var.end
            raw = "/".join(raw_segments[var.start : end])
            values[var.name] = decode_segment(raw, keep_slash=not var.single_segment)
        return values

    def openapi_path(self) -> str:
        """The template in OpenAPI form: `/v1/{name}` plus literal parts and the verb.

        Variables that span several segments become a single OpenAPI parameter whose
        value contains slashes; their pattern is documented on the parameter.
        """
        out: list[str] = []
        i = 0
        by_start = {v.start: v for v in self.variables}
        while i < len(self.segments):
            var = by_start.get(i)
            if var is not None:
                out.append("{" + var.name + "}")
                i = len(self.segments) if var.end is None else var.end
                continue
            out.append(self.segments[i])
            i += 1
        path = "/" + "/".join(out)
        return path + (":" + self.verb if self.verb else "")

    def variable_pattern(self, var: PathVariable) -> str:
        """The segments a variable covers, as written in the template (`shelves/*`)."""
        end = len(self.segments) if var.end is None else var.end
        return "/".join(self.segments[var.start : end])


def decode_segment(raw: str, *, keep_slash: bool = False) -> str:
    """Percent-decode a captured path value; with keep_slash, `%2F` stays encoded."""
    if "%" not in raw:
        return raw
    if not keep_slash:
        return unquote(raw, errors="strict")
    parts = _SLASH_ESCAPE.split(raw)
    slashes = _SLASH_ESCAPE.findall(raw)
    out = unquote(parts[0], errors="strict")
    for slash, part in zip(slashes, parts[1:], strict=True):
        out += slash + unquote(part, errors="strict")
    return out


def parse_template(source: str) -> PathTemplate:
    """Parse an HttpRule path template; raises TemplateError with the reason."""
    if not source.startswith("/"):
        raise TemplateError(f"{source!r}: a path template starts with '/'")
    body, verb = _split_verb(source)
    segments: list[str] = []
    variables: list[PathVariable] = []
    for part in _split_top_level(body[1:], source):
        if part.startswith("{"):
            variables.append(_parse_variable(part, len(segments), segments, source))
        else:
            segments.append(_check_segment(part, source))
    for i, seg in enumerate(segments):
        if seg == ANY_SEGMENTS and i != len(segments) - 1:
            raise TemplateError(f"{source!r}: '**' may only be the last segment")
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        raise TemplateError(f"{source!r}: a field is bound twice")
    return PathTemplate(source, tuple(segments), tuple(variables), verb)


def _split_verb(source: str) -> tuple[str, str | None]:
    depth = 0
    last_slash = 0
    colon = -1
    for i, ch in enumerate(source):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch == "/":
            last_slash = i
            colon = -1
        elif depth == 0 and ch == ":" and colon < 0:
            colon = i
    if depth != 0:
        raise TemplateError(f"{source!r}: unbalanced braces")
    if colon < 0 or colon < last_slash:
        return source, None
    verb = source[colon + 1 :]
    if not verb or any(c in verb for c in "/{}*:"):
        raise TemplateError(f"{source!r}: bad verb {verb!r}")
    return source[:colon], verb


def _split_top_level(text: str, source: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "{":
            if depth:
                raise TemplateError(f"{source!r}: variables cannot nest")
            depth = 1
        elif ch == "}":
            depth = 0
        if ch == "/" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _check_segment(seg: str, source: str) -> str:
    if seg in (ANY_SEGMENT, ANY_SEGMENTS):
        return seg
    if not seg or any(c in seg for c in "{}*:"):
        raise TemplateError(f"{source!r}: bad segment {seg!r}")
    return seg


def _parse_variable(part: str, start: int, segments: list[str], source: str) -> PathVariable:
    if not part.endswith("}"):
        raise TemplateError(f"{source!r}: bad variable {part!r}")
    inner = part[1:-1]
    field, _, pattern = inner.partition("=")
    field_path = tuple(field.split("."))
    if not all(_IDENT.match(name) for name in field_path):
        raise TemplateError(f"{source!r}: bad field path {field!r}")
    sub = [_check_segment(s, source) for s in (pattern or ANY_SEGMENT).split("/")]
    segments.extend(sub)
    end = None if sub[-1] == ANY_SEGMENTS else start + len(sub)
    return PathVariable(field_path, start, end, single_segment=sub == [ANY_SEGMENT])
