"""How the sandbox gateway answers sends: accept, reject, fail or delay.

Read for each send as it arrives. Tests and developers change it with
`PUT /sandbox/behaviour` or the `--mode` and `--delay` flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

# accept: deliver and answer 200; reject: refuse for good (400, not delivered); fail:
# answer 503 (not delivered), as a gateway in trouble; delay: deliver at once but hold
# the answer `delay_seconds`, as a slow gateway (a sender that times out or dies
# meanwhile has had its message delivered without knowing it).
Mode = Literal["accept", "reject", "fail", "delay"]
MODES: tuple[str, ...] = ("accept", "reject", "fail", "delay")


@dataclass(frozen=True)
class Behaviour:
    """The sandbox's answer to sends from now on."""

    mode: Mode = "accept"
    delay_seconds: float = 0.0

    def updated(self, changes: Mapping[str, Any]) -> Behaviour:
        """A copy with `changes` (JSON field names) applied; ValueError when invalid."""
        unknown = set(changes) - {"mode", "delay_seconds"}
        if unknown:
            raise ValueError(f"unknown behaviour fields: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if "delay_seconds" in values:
            values["delay_seconds"] = float(values["delay_seconds"])
        updated = replace(self, **values)
        updated.check()
        return updated

    def check(self) -> None:
        """ValueError unless every field has an allowed value."""
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
