"""The workflow file: the shipped one loads with every kind; a bad edit is refused at
load with a message naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.expansion.workflow import KINDS, WORKFLOW_FILE, WorkflowError, load_workflow


def test_the_shipped_workflow_gives_every_kind_its_nodes() -> None:
    workflow = load_workflow()
    assert set(workflow.sequences) == set(KINDS)
    assert [n.node for n in workflow.sequences["LOW_VOLTAGE_RESIDENTIAL"]] == [
        "ACCEPTANCE",
        "CONNECTION",
    ]
    assert sum(n.working_days for n in workflow.sequences["LOW_VOLTAGE_RESIDENTIAL"]) <= 5
    assert sum(n.working_days for n in workflow.sequences["LOW_VOLTAGE_BUSINESS"]) <= 6
    assert workflow.office_of_area("A07") == "QJ-ZY"
    assert workflow.office_of_area("") == "QJ-QL"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('node = "CONNECTION", working_days = 4', 'node = "HOOKUP", working_days = 4'), "HOOKUP"),
        (
            ('node = "CONNECTION", working_days = 4', 'node = "CONNECTION", working_days = 0'),
            "working_days",
        ),
        (('kind = "HIGH_VOLTAGE"', 'kind = "LOW_VOLTAGE_BUSINESS"'), "given twice"),
        (('default = "QJ-QL"', 'default = ""'), "default office"),
    ],
)
def test_a_bad_workflow_file_is_refused_naming_the_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = WORKFLOW_FILE.read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / "workflow.toml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(WorkflowError, match=message):
        load_workflow(bad)
