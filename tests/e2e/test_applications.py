"""Connection applications through the edge over HTTPS: an applicant files with the
applicant's name, ID number and phone sealed to the edge, a retry with the same
requestId gets the same application, the answer carries those fields sealed to the
app's key (masked without one, and for staff), and the applicant follows the node
progress staff make."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError

EXPANSION = "palmgrid.expansion.v1.ExpansionService."
APPLICANT = {"name": "李四光", "idNumber": "53030219800101123X", "contactPhone": "13800001234"}


def application() -> dict[str, Any]:
    return {
        "kind": "APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL",
        "applicant": dict(APPLICANT),
        "address": "曲靖市麒麟区南宁西路8号",
        "areaCode": "A01",
        "capacityKva": 8,
    }


def file(client: EdgeClient, request_id: str) -> dict[str, Any]:
    return client.call(
        EXPANSION + "CreateApplication",
        "POST",
        "/v1/applications",
        body=application(),
        params={"requestId": request_id},
    ).json


def test_filing_is_idempotent_and_the_applicant_fields_are_sealed_both_ways(
    new_customer: Callable[..., EdgeClient], staff: Callable[[str], EdgeClient]
) -> None:
    applicant = new_customer()
    sealed = applicant.seal(EXPANSION + "CreateApplication", application())
    assert all(v.startswith("pgfe1.") for v in sealed["applicant"].values())

    request_id = str(uuid.uuid4())
    first = file(applicant, request_id)
    assert first["applicant"] == APPLICANT  # opened with the app's key
    assert [n["state"] for n in first["nodes"]] == ["NODE_STATE_IN_PROGRESS", "NODE_STATE_PENDING"]
    again = file(applicant, request_id)
    assert again["name"] == first["name"]
    mine = applicant.send("GET", "/v1/applications").json["applications"]
    assert [a["name"] for a in mine] == [first["name"]]

    # On the wire the answer's applicant fields are sealed to the app's key.
    raw = applicant.send("GET", f"/v1/{first['name']}").json
    assert all(v.startswith("pgfe1.") for v in raw["applicant"].values())

    # A plaintext applicant is refused: the fields must come sealed.
    with pytest.raises(EdgeApiError) as caught:
        applicant.send(
            "POST",
            "/v1/applications",
            body=application(),
            params={"requestId": str(uuid.uuid4())},
        )
    assert (caught.value.status, caught.value.reason) == (400, "ENVELOPE_INVALID")

    # Staff lists carry them masked; opening the application shows them whole.
    expander = staff("expander")
    listed = expander.call(EXPANSION + "ListApplications", "GET", "/v1/applications").json
    masked = next(a for a in listed["applications"] if a["name"] == first["name"])["applicant"]
    assert masked == {
        "name": "李*光",
        "idNumber": "530302********123X",
        "contactPhone": "138****1234",
    }
    seen = expander.call(EXPANSION + "GetApplication", "GET", f"/v1/{first['name']}").json
    assert seen["applicant"] == APPLICANT
    expander.call(
        EXPANSION + "AdvanceApplication",
        "POST",
        f"/v1/{first['name']}:advance",
        body={"note": "资料齐全，已受理", "node": "NODE_KIND_ACCEPTANCE"},
    )
    progress = applicant.call(EXPANSION + "GetApplication", "GET", f"/v1/{first['name']}").json
    assert progress["currentNode"] == "NODE_KIND_CONNECTION"
    assert progress["nodes"][0]["state"] == "NODE_STATE_COMPLETED"
    assert progress["nodes"][0]["note"] == "资料齐全，已受理"
    with pytest.raises(EdgeApiError) as stale:
        expander.call(
            EXPANSION + "AdvanceApplication",
            "POST",
            f"/v1/{first['name']}:advance",
            body={"note": "再次", "node": "NODE_KIND_ACCEPTANCE"},
        )
    assert stale.value.status == 400
    assert stale.value.metadata["rule"] == "NOT_CURRENT_NODE"
