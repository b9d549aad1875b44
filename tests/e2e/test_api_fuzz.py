"""Schemathesis over every route of the live HTTPS edge: no 5xx, responses as
documented, data the document forbids refused with a 4xx. Bounded here: one example per
operation, as a staff member (the caller whose requests get furthest past the edge's
own checks), seed fixed and printed. Schemathesis spends about half a second per
operation before its first request on this machine, so each caller costs a minute of
the suite; `nox -s fuzz_api` runs all three callers (anonymous, customer, staff) with
200 examples and boundary values (tests/e2e/api_fuzz.py)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.api_fuzz import SEED, SUITE_PHASES, run_role
from tests.e2e.system import System

EXAMPLES = 1
# Its staff requests may succeed: new outages, articles, users, changed parameters. A
# system of the module's own keeps them from the other modules.
OWN_SYSTEM = True


@pytest.mark.parametrize("role", ["staff"])
def test_schemathesis_finds_nothing_as(system: System, role: str) -> None:
    outcome = run_role(system, role, examples=EXAMPLES, seed=SEED, phases=SUITE_PHASES)
    print(outcome.output[-1500:])
    assert outcome.returncode == 0, outcome.output[-6000:]
    assert f"Seed: {SEED}" in outcome.output
    selected = re.search(r"Selected: (\d+)/(\d+)", outcome.output)
    tested = re.search(r"Tested: (\d+)", outcome.output)
    assert selected is not None and tested is not None
    # Every route but the never-ending stream, and each of them actually called.
    assert int(selected.group(1)) == int(selected.group(2)) - 1 > 100
    assert int(tested.group(1)) == int(selected.group(1))
