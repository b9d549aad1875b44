"""Find the route for an HTTP method and raw path, or say why there is none.

Templates are stored in a trie of path segments. A lookup walks it depth-first trying, at
every level, the literal child before `*` before `**`, so matches come out most specific
first: `/v1/books/special` beats `/v1/books/{id}`, which beats `/v1/{name=**}`; a
template with a verb (`…:cancel`) beats one whose last variable would swallow `:cancel`.

A path that some template matches, but not with the request's method, is a 405 whose
`Allow` lists the methods that would have matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from edge.path_template import ANY_SEGMENT, PathTemplate, decode_segment

__all__ = ["Match", "MethodNotAllowed", "NoRoute", "RouteConflict", "Router", "allow_header"]

R = TypeVar("R")


class NoRoute(LookupError):
    """No template matches the path."""


class MethodNotAllowed(LookupError):
    """Templates match the path, but none for this HTTP method."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def allow_header(methods: list[str]) -> bytes:
    """`Allow` for a path served with `methods`: HEAD wherever GET is (answered as a GET
    without its body) and OPTIONS everywhere."""
    allowed = set(methods) | {"OPTIONS"}
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed)).encode("ascii")


class RouteConflict(ValueError):
    """Two bindings claim the same template and method."""


@dataclass(slots=True)
class Match(Generic[R]):
    route: R
    template: PathTemplate
    params: dict[str, str]


# verb (None for none) → HTTP method → (template, route)
_Leaves = dict[str | None, dict[str, tuple[PathTemplate, R]]]


@dataclass(slots=True)
class _Node(Generic[R]):
    literals: dict[str, _Node[R]] = field(default_factory=dict)
    wildcard: _Node[R] | None = None
    leaves: _Leaves[R] = field(default_factory=dict)
    # Templates whose `**` starts at this node; it takes zero or more segments.
    deep: _Leaves[R] = field(default_factory=dict)


class Router(Generic[R]):
    """A routing table from (HTTP method, path template) to routes of any type."""

    def __init__(self) -> None:
        self._root: _Node[R] = _Node()

    def add(self, http_method: str, template: PathTemplate, route: R) -> None:
        node = self._root
        segments = template.segments
        deep = template.has_deep_wildcard
        for seg in segments[:-1] if deep else segments:
            if seg == ANY_SEGMENT:
                if node.wildcard is None:
                    node.wildcard = _Node()
                node = node.wildcard
            else:
                node = node.literals.setdefault(seg, _Node())
        leaves = node.deep if deep else node.leaves
        by_method = leaves.setdefault(template.verb, {})
        if http_method in by_method:
            other = by_method[http_method][0].source
            raise RouteConflict(f"{http_method} {template.source} conflicts with {other}")
        by_method[http_method] = (template, route)

    def lookup(self, http_method: str, raw_path: str) -> Match[R]:
        """The most specific route for the method; raises NoRoute or MethodNotAllowed."""
        if not raw_path.startswith("/"):
            raise NoRoute(raw_path)
        segments = raw_path[1:].split("/")
        allowed: list[str] = []
        last = segments[-1]
        colon = last.rfind(":")
        if colon >= 0:
            # `…/abc:cancel`: first as the verb `cancel`, then as a plain segment.
            with_verb = [*segments[:-1], last[:colon]]
            found = self._find(http_method, with_verb, last[colon + 1 :], allowed)
            if found is not None:
                return found
        found = self._find(http_method, segments, None, allowed)
        if found is not None:
            return found
        if allowed:
            raise MethodNotAllowed(sorted(set(allowed)))
        raise NoRoute(raw_path)

    def _find(
        self, http_method: str, segments: list[str], verb: str | None, allowed: list[str]
    ) -> Match[R] | None:
        hit = self._greedy(http_method, segments, verb)
        if hit is not None:
            template, route = hit
            return Match(route, template, template.bind(segments))
        for leaves in self._candidates(self._root, segments, 0, verb):
            hit = leaves.get(http_method)
            if hit is not None:
                template, route = hit
                return Match(route, template, template.bind(segments))
            allowed.extend(leaves)
        return None

    def _greedy(
        self, http_method: str, segments: list[str], verb: str | None
    ) -> tuple[PathTemplate, R] | None:
        """The first candidate of the full search, found without backtracking.

        Literal before wildcard at every segment is exactly the order of `_candidates`,
        so when this walk ends on a leaf with the method, that leaf is the most specific
        match. Most requests end here; the rest take the full search.
        """
        node = self._root
        for seg in segments:
            child = node.literals.get(seg) if "%" not in seg else None
            if child is None:
                if node.wildcard is None or not seg or "%" in seg:
                    return None
                child = node.wildcard
            node = child
        by_method = node.leaves.get(verb)
        return by_method.get(http_method) if by_method else None

    def _candidates(
        self, node: _Node[R], segments: list[str], i: int, verb: str | None
    ) -> list[dict[str, tuple[PathTemplate, R]]]:
        out: list[dict[str, tuple[PathTemplate, R]]] = []
        if i == len(segments):
            here = node.leaves.get(verb)
            if here:
                out.append(here)
        else:
            seg = segments[i]
            child = node.literals.get(seg if "%" not in seg else _decode_literal(seg))
            if child is not None:
                out.extend(self._candidates(child, segments, i + 1, verb))
            if node.wildcard is not None and seg:
                out.extend(self._candidates(node.wildcard, segments, i + 1, verb))
        deep = node.deep.get(verb)
        if deep:
            out.append(deep)
        return out

    def routes(self) -> list[tuple[str, PathTemplate, R]]:
        """Every (method, template, route), most specific first."""
        out: list[tuple[str, PathTemplate, R]] = []

        def walk(node: _Node[R]) -> None:
            for leaves in (node.leaves, node.deep):
                for by_method in leaves.values():
                    for method, (template, route) in by_method.items():
                        out.append((method, template, route))
            for child in node.literals.values():
                walk(child)
            if node.wildcard is not None:
                walk(node.wildcard)

        walk(self._root)
        return out


def _decode_literal(seg: str) -> str:
    try:
        return decode_segment(seg)
    except UnicodeDecodeError:
        return seg
