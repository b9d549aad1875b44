"""The complaint-risk model: rules read from `risk_rules.toml`, and the score, level and
reasons they give a subject's figures. Pure: no database, no calls.

A rule maps one figure to points by steps (the points of the highest step reached); a
score is the sum of the rules' points, at most 100; its level is the highest whose
lower bound it reaches. Reasons are the rules that gave points, largest first.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from palmgrid.care.v1 import resources_pb2

RULES_FILE = Path(__file__).resolve().parent / "risk_rules.toml"
MAX_SCORE = 100
LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
TOP_LEVEL = LEVELS[-1]


@dataclass(frozen=True)
class Step:
    at: float
    points: int


@dataclass(frozen=True)
class Rule:
    """One signal: `figures[0]` is the figure its steps compare."""

    kind: str
    figures: tuple[str, ...]
    steps: tuple[Step, ...]
    description: str

    def points(self, figures: Mapping[str, float]) -> int:
        value = figures.get(self.figures[0], 0)
        reached = [step.points for step in self.steps if value >= step.at]
        return reached[-1] if reached else 0


@dataclass(frozen=True)
class Reason:
    """A rule that gave points, with the figures behind it."""

    kind: str
    points: int
    description: str
    figures: dict[str, float]

    def stored(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "points": self.points,
            "description": self.description,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Score:
    score: int
    level: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class RiskRules:
    """The whole model (see risk_rules.toml for each field's meaning)."""

    model_version: str
    window_days: int
    near_deadline_hours: int
    complaint_kinds: tuple[str, ...]
    low_rating: int
    bill_history: int
    bill_history_minimum: int
    level_bounds: Mapping[str, int]
    customer: tuple[Rule, ...]
    office: tuple[Rule, ...]

    def level(self, score: int) -> str:
        """The level of `score` (0–100)."""
        reached = [name for name in LEVELS[1:] if score >= self.level_bounds[name]]
        return reached[-1] if reached else LEVELS[0]

    def score(self, rules: Sequence[Rule], figures: Mapping[str, float]) -> Score:
        """The score of a subject with `figures` under `rules` (customer or office)."""
        reasons = []
        for rule in rules:
            points = rule.points(figures)
            if points:
                shown = {name: float(figures.get(name, 0)) for name in rule.figures}
                text = rule.description.format(**{k: _plain(v) for k, v in shown.items()})
                reasons.append(Reason(rule.kind, points, text, shown))
        reasons.sort(key=lambda r: -r.points)
        total = min(sum(r.points for r in reasons), MAX_SCORE)
        return Score(total, self.level(total), tuple(reasons))


def _plain(value: float) -> str:
    """A figure as people write it: 3, not 3.0; 2.47, not 2.4666."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def level_rank(level: str) -> int:
    """LOW 0 … CRITICAL 3, for comparing levels."""
    return LEVELS.index(level)


def _rules(items: list[dict[str, Any]]) -> tuple[Rule, ...]:
    kinds = set(resources_pb2.RiskReasonKind.keys())
    rules = []
    for item in items:
        if f"RISK_REASON_KIND_{item['kind']}" not in kinds:
            raise ValueError(f"unknown risk reason kind {item['kind']!r}")
        steps = tuple(Step(float(s["at"]), int(s["points"])) for s in item["steps"])
        if [s.at for s in steps] != sorted(s.at for s in steps):
            raise ValueError(f"the steps of {item['kind']} must ascend")
        rules.append(Rule(item["kind"], tuple(item["figures"]), steps, item["description"]))
    return tuple(rules)


@cache
def load_rules(path: Path = RULES_FILE) -> RiskRules:
    """The model in `path`; ValueError when it is inconsistent."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    bounds = {name: int(data["levels"][name]) for name in LEVELS[1:]}
    if list(bounds.values()) != sorted(bounds.values()) or bounds["CRITICAL"] > MAX_SCORE:
        raise ValueError("the level bounds must ascend and stay within 100")
    return RiskRules(
        model_version=data["model_version"],
        window_days=int(data["window_days"]),
        near_deadline_hours=int(data["near_deadline_hours"]),
        complaint_kinds=tuple(data["complaint_kinds"]),
        low_rating=int(data["low_rating"]),
        bill_history=int(data["bill_history"]),
        bill_history_minimum=int(data["bill_history_minimum"]),
        level_bounds=bounds,
        customer=_rules(data["customer"]),
        office=_rules(data["office"]),
    )
