"""Inspections through the edge over HTTPS, as the demo inspectors' phones use them: the
two-inspector rule, a finding uploaded offline and replayed without a duplicate, and
the demo tasks both demo inspectors see."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from tests.e2e.system import System
from tests.e2e.test_outages import bad_fields, rfc3339

INSPECTION = "palmgrid.inspection.v1.InspectionService."
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(200))


def user_name(client: EdgeClient) -> str:
    return str(client.send("GET", "/v1/users/me").json["name"])


def create(client: EdgeClient, assignees: list[str]) -> dict[str, Any]:
    task = {
        "customer": "customers/3100000001",
        "kind": "INSPECTION_KIND_SPECIAL",
        "assignees": assignees,
        "dueTime": rfc3339(datetime.now(UTC) + timedelta(days=2)),
        "description": "专项检查",
    }
    return client.call(
        INSPECTION + "CreateInspection",
        "POST",
        "/v1/inspections",
        body=task,
        params={"requestId": str(uuid.uuid4())},
    ).json


@pytest.fixture
def inspector(staff: Callable[[str], EdgeClient]) -> EdgeClient:
    return staff("inspector")


@pytest.fixture
def patroller(staff: Callable[[str], EdgeClient]) -> EdgeClient:
    return staff("patroller")


def test_one_inspector_is_refused_with_400_naming_the_field(inspector: EdgeClient) -> None:
    with pytest.raises(EdgeApiError) as caught:
        create(inspector, [user_name(inspector)])
    assert caught.value.status == 400
    assert bad_fields(caught.value) == ["inspection.assignees"]


def test_a_finding_replayed_after_an_offline_upload_is_recorded_once(
    inspector: EdgeClient, patroller: EdgeClient
) -> None:
    task = create(inspector, [user_name(inspector), user_name(patroller)])
    assert task["state"] == "INSPECTION_STATE_PENDING"
    finding = {
        "checkedItems": [{"item": "CHECK_ITEM_METER_SEAL", "result": "CHECK_RESULT_FAIL"}],
        "meterReading": {"meterNumber": "M3100000001", "registerWh": "12345670"},
        "sealState": "SEAL_STATE_BROKEN",
        "violationKind": "VIOLATION_KIND_METER_TAMPERING",
        "photos": [{"contentType": "image/jpeg", "data": base64.b64encode(JPEG).decode()}],
        "location": {"latitude": 25.49, "longitude": 103.79},
        "observeTime": rfc3339(datetime.now(UTC) - timedelta(hours=3)),
    }
    request_id = str(uuid.uuid4())

    def upload() -> dict[str, Any]:
        return patroller.call(
            INSPECTION + "CreateFinding",
            "POST",
            f"/v1/{task['name']}/findings",
            body=finding,
            params={"requestId": request_id},
        ).json

    first, second = upload(), upload()
    assert first["name"] == second["name"]
    assert first["photos"][0]["sha256"] == second["photos"][0]["sha256"]
    listed = inspector.send("GET", f"/v1/{task['name']}/findings").json["findings"]
    assert [f["name"] for f in listed] == [first["name"]]
    got = inspector.send("GET", f"/v1/{task['name']}").json
    assert (got["findingCount"], got["state"]) == (1, "INSPECTION_STATE_IN_PROGRESS")


def test_both_demo_inspectors_see_the_demo_tasks(
    system: System, inspector: EdgeClient, patroller: EdgeClient
) -> None:
    # The demo tasks are seeded once account and billing answer (a background thread).
    wanted = {"inspections/demo-periodic-1", "inspections/demo-special-1"}
    deadline = time.monotonic() + 60
    while True:
        seen = [
            {t["name"] for t in client.send("GET", "/v1/inspections").json["inspections"]}
            for client in (inspector, patroller)
        ]
        if all(wanted <= names for names in seen) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(wanted <= names for names in seen), seen
