"""Outages through the edge over HTTPS: the public list cached and kept fresh, the
dispatcher's announcement with the notice rule, its urgent override and the office
scope, a customer's outages, and the watch stream as SSE (resumed with Last-Event-ID)
and as NDJSON."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from servers.outage.service import process_of
from tests.e2e.conftest import ClientFactory, demo_customer
from tests.e2e.system import System

OUTAGE = "palmgrid.outage.v1.OutageService."


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def planned(days: float, **fields: Any) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=days)
    return {
        "kind": "OUTAGE_KIND_PLANNED",
        "areaCodes": ["A01"],
        "startTime": rfc3339(start),
        "endTime": rfc3339(start + timedelta(hours=4)),
        "reason": "线路检修",
        "supplyOffice": "QJ-QL",
        **fields,
    }


def announce(client: EdgeClient, outage: dict[str, Any]) -> dict[str, Any]:
    return client.call(
        OUTAGE + "CreateOutage",
        "POST",
        "/v1/outages",
        body=outage,
        params={"requestId": str(uuid.uuid4())},
    ).json


@pytest.fixture
def dispatcher(staff: Callable[[str], EdgeClient]) -> EdgeClient:
    return staff("dispatcher")


def refusal(call: Callable[[], object]) -> EdgeApiError:
    with pytest.raises(EdgeApiError) as caught:
        call()
    return caught.value


def bad_fields(error: EdgeApiError) -> list[str]:
    return [
        v["field"]
        for d in error.details
        if d.get("@type", "").endswith("BadRequest")
        for v in d["fieldViolations"]
    ]


def test_anyone_reads_the_demo_outages_from_the_cache(client_for: ClientFactory) -> None:
    client = client_for()
    first = client.send("GET", "/v1/outages")
    names = {o["name"] for o in first.json["outages"]}
    assert {"outages/demo-planned-1", "outages/demo-fault-1"} <= names
    assert first.headers["cache-control"].startswith("public")
    assert first.headers["etag"]
    again = client.send("GET", "/v1/outages")
    assert again.headers["x-cache"] == "HIT"
    fault = client.send("GET", "/v1/outages/demo-fault-1").json
    assert (fault["kind"], fault["state"]) == ("OUTAGE_KIND_UNPLANNED", "OUTAGE_STATE_ACTIVE")


def test_announcing_less_than_seven_days_ahead_is_a_400_naming_start_time(
    dispatcher: EdgeClient,
) -> None:
    error = refusal(lambda: announce(dispatcher, planned(6)))
    assert error.status == 400
    assert bad_fields(error) == ["outage.startTime"]
    urgent = announce(dispatcher, planned(1, urgent=True, urgentReason="变压器漏油"))
    assert urgent["urgent"] and urgent["state"] == "OUTAGE_STATE_SCHEDULED"


def test_a_dispatcher_announces_only_in_their_office(dispatcher: EdgeClient) -> None:
    error = refusal(
        lambda: announce(dispatcher, planned(8, areaCodes=["A07"], supplyOffice="QJ-ZY"))
    )
    assert error.status == 403
    assert error.reason == "OUT_OF_SCOPE"


def test_a_change_shows_at_once_in_the_cached_list(
    system: System, client_for: ClientFactory, dispatcher: EdgeClient
) -> None:
    reader = client_for()
    reader.send("GET", "/v1/outages")
    made = announce(dispatcher, planned(8))  # the edge bumps `outages`
    assert made["name"] in {o["name"] for o in reader.send("GET", "/v1/outages").json["outages"]}
    soon = announce(
        dispatcher,
        planned(
            0,
            urgent=True,
            urgentReason="抢修",
            startTime=rfc3339(datetime.now(UTC) + timedelta(seconds=2)),
        ),
    )
    listed = {o["name"]: o["state"] for o in reader.send("GET", "/v1/outages").json["outages"]}
    assert listed[soon["name"]] == "OUTAGE_STATE_SCHEDULED"
    time.sleep(2.5)
    # The clock starts it inside the service: the service itself bumps the tag.
    assert process_of(system.services["outage"].runtime).jobs.run_due().started >= 1
    listed = {o["name"]: o["state"] for o in reader.send("GET", "/v1/outages").json["outages"]}
    assert listed[soon["name"]] == "OUTAGE_STATE_ACTIVE"


def test_a_customer_sees_the_outages_of_their_area(
    new_customer: Callable[..., EdgeClient],
) -> None:
    client = new_customer(1)
    mine = client.customer_outages(demo_customer(1))
    assert "outages/demo-planned-1" in {o["name"] for o in mine["outages"]}
    error = refusal(lambda: client.customer_outages(demo_customer(2)))
    assert error.status == 403


class EventReader:
    """SSE events of one open watch, read on a thread."""

    def __init__(self, client: EdgeClient, headers: dict[str, str]) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._context = client.http.stream(
            "GET", "/v1/outages:watch", headers={"Accept": "text/event-stream", **headers}
        )
        self.response = self._context.__enter__()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        event_id, data = "", ""
        try:
            for line in self.response.iter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line and data:
                    self.events.put((event_id, json.loads(data)))
                    event_id, data = "", ""
        except httpx.HTTPError:
            pass

    def changes(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The next changes (heartbeats skipped), waiting up to 3 s for each."""
        while True:
            event_id, event = self.events.get(timeout=3)
            if event["changeKind"] != "OUTAGE_CHANGE_KIND_HEARTBEAT":
                yield event_id, event

    def close(self) -> None:
        # The reading thread is woken by a shutdown of the socket and has ended before the
        # connection is closed. Closed under a thread inside OpenSSL's read, the socket's
        # number goes free while OpenSSL goes on reading and writing it: whatever file is
        # opened next gets the number, and a TLS alert written into it (a service's SQLite
        # database was overwritten so, by this test).
        tls = self.response.extensions["network_stream"].get_extra_info("socket")
        with contextlib.suppress(OSError):  # the reader ended on an error and closed it
            socket.socket.shutdown(tls, socket.SHUT_RDWR)  # the socket's, not TLS's
        self._reader.join(timeout=10)
        assert not self._reader.is_alive(), "the stream's reader did not end"
        self._context.__exit__(None, None, None)


def test_sse_watch_gets_a_later_change_and_resumes_from_last_event_id(
    client_for: ClientFactory, dispatcher: EdgeClient
) -> None:
    watcher = client_for()
    stream = EventReader(watcher, {})
    try:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        # The edge answered once the service had subscribed the stream: no change is missed.
        first = announce(dispatcher, planned(8))
        started = time.monotonic()
        event_id, event = next(stream.changes())
        # Pushed, not found by a poll of the client's: well within the read timeout even
        # on a loaded machine (the feed itself looks every PALMGRID_OUTAGE_FEED_POLL_SECONDS).
        assert time.monotonic() - started < 5.0
        assert event["outage"]["name"] == first["name"], event
        assert event_id == event["cursor"]
    finally:
        stream.close()
    missed = announce(dispatcher, planned(9))
    resumed = EventReader(watcher, {"Last-Event-ID": event_id})
    try:
        changes = resumed.changes()
        missed_id, got = next(changes)
        assert got["outage"]["name"] == missed["name"]
        assert int(missed_id) > int(event_id)
        later = announce(dispatcher, planned(10))
        assert next(changes)[1]["outage"]["name"] == later["name"]
    finally:
        resumed.close()


def test_ndjson_watch_starts_with_the_existing_outages(client_for: ClientFactory) -> None:
    client = client_for()
    with client.http.stream("GET", "/v1/outages:watch?includeExisting=true") as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        first = json.loads(next(response.iter_lines()))["result"]
    assert first["changeKind"] == "OUTAGE_CHANGE_KIND_EXISTING"
