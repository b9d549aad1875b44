"""Announcing and changing outages over gRPC: the notice rule and its urgent override,
unplanned outages, dispatcher scope, idempotent announcements, etags and the rules of a
change."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import resources_pb2
from servers.outage.announcing import AnnouncingMethods
from tests.outage.support import DAY, OutageSystem, fails, new_request_id, planned

PLANNED = resources_pb2.OUTAGE_KIND_PLANNED
UNPLANNED = resources_pb2.OUTAGE_KIND_UNPLANNED


def violations(error: object) -> list[str]:
    return [v.field for v in getattr(error, "field_violations", ())]


def test_planned_outage_seven_days_ahead_is_scheduled(system: OutageSystem) -> None:
    outage = system.announce(days=7)
    assert outage.state == resources_pb2.OUTAGE_STATE_SCHEDULED
    assert outage.name.startswith("outages/")
    assert outage.supply_office == "QJ-QL"
    assert outage.affected_customer_count == 2  # 3100000001 and 3100000011 are in A01
    assert outage.etag


def test_planned_outage_with_less_notice_is_refused_naming_start_time(
    system: OutageSystem,
) -> None:
    error = fails(lambda: system.announce(days=6))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == ["outage.startTime"]
    assert "7 days" in str(error)


def test_urgent_outage_with_a_reason_may_come_sooner(system: OutageSystem) -> None:
    outage = system.announce(days=1, urgent=True, urgent_reason="变压器漏油，须尽快更换")
    assert outage.urgent
    assert outage.urgent_reason == "变压器漏油，须尽快更换"
    assert outage.state == resources_pb2.OUTAGE_STATE_SCHEDULED


def test_urgent_without_a_reason_is_refused(system: OutageSystem) -> None:
    error = fails(lambda: system.announce(days=1, urgent=True))
    assert violations(error) == ["outage.urgentReason"]


def test_unplanned_outage_is_active_at_once(system: OutageSystem) -> None:
    now = system.clock.now()
    outage = system.announce(
        kind=UNPLANNED,
        start_time=now - timedelta(minutes=10),
        estimated_restore_time=now + timedelta(hours=3),
        days=0,
    )
    assert outage.kind == UNPLANNED
    assert outage.state == resources_pb2.OUTAGE_STATE_ACTIVE


def test_unplanned_outage_in_the_future_is_refused(system: OutageSystem) -> None:
    outage = planned(system.clock, kind=UNPLANNED, days=1)
    error = fails(
        lambda: system.stub.CreateOutage(
            outage_pb.CreateOutageRequest(outage=outage, request_id=new_request_id()),
            metadata=system.dispatcher(),
        )
    )
    assert violations(error) == ["outage.startTime"]


def create_as(
    system: OutageSystem, outage: resources_pb2.Outage, *offices: str
) -> resources_pb2.Outage:
    """Announce `outage` as a dispatcher of `offices`."""
    return system.stub.CreateOutage(
        outage_pb.CreateOutageRequest(outage=outage, request_id=new_request_id()),
        metadata=system.dispatcher(*offices),
    )


def test_dispatcher_announces_only_in_their_supply_offices(system: OutageSystem) -> None:
    outage = planned(system.clock, supply_office="QJ-ZY", area_codes=["A07"])
    error = fails(lambda: create_as(system, outage, "QJ-QL"))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "OUT_OF_SCOPE"


def test_dispatcher_cannot_name_another_offices_areas_under_their_own_office(
    system: OutageSystem,
) -> None:
    outage = planned(system.clock, supply_office="QJ-QL", area_codes=["A01", "A07"])
    error = fails(lambda: create_as(system, outage, "QJ-QL"))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "OUT_OF_SCOPE"
    assert error.metadata == {"areaCodes": "A07"}
    assert system.messages("u-far") == []


def test_staff_of_both_offices_announce_in_both_offices_areas(system: OutageSystem) -> None:
    outage = planned(system.clock, supply_office="QJ-QL", area_codes=["A01", "A07"])
    created = create_as(system, outage, "QJ-QL", "QJ-ZY")
    assert created.affected_customer_count == 3


def test_changing_areas_to_another_offices_is_refused(system: OutageSystem) -> None:
    outage = system.announce()
    change = resources_pb2.Outage(name=outage.name, area_codes=["A07"])
    error = fails(lambda: update(system, change, "area_codes"))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "OUT_OF_SCOPE"
    assert error.metadata == {"areaCodes": "A07"}
    assert update(system, resources_pb2.Outage(name=outage.name, area_codes=["A02"]), "area_codes")


def test_dispatcher_changes_only_outages_of_their_offices(system: OutageSystem) -> None:
    outage = system.announce()
    change = resources_pb2.Outage(name=outage.name, reason="改期")
    error = fails(
        lambda: system.stub.UpdateOutage(
            outage_pb.UpdateOutageRequest(
                outage=change, update_mask=field_mask_pb2.FieldMask(paths=["reason"])
            ),
            metadata=system.dispatcher("QJ-ZY", user="users/d2"),
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED


def test_same_request_id_returns_the_first_announcement(system: OutageSystem) -> None:
    request = outage_pb.CreateOutageRequest(
        outage=planned(system.clock), request_id=new_request_id()
    )
    first = system.stub.CreateOutage(request, metadata=system.dispatcher())
    again = system.stub.CreateOutage(request, metadata=system.dispatcher())
    assert again.name == first.name
    other = outage_pb.CreateOutageRequest(
        outage=planned(system.clock, reason="另一次"), request_id=request.request_id
    )
    error = fails(lambda: system.stub.CreateOutage(other, metadata=system.dispatcher()))
    assert error.code == grpc.StatusCode.ABORTED
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"


def test_the_same_announcement_sent_twice_at_once_makes_one_outage(
    system: OutageSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_checked = threading.Barrier(2, timeout=10)
    survey = AnnouncingMethods._customers_in_scope

    def survey_then_wait(*args: Any) -> int:
        count = survey(*args)
        both_checked.wait()  # both have looked for an earlier request and found none
        return count

    monkeypatch.setattr(AnnouncingMethods, "_customers_in_scope", survey_then_wait)
    request = outage_pb.CreateOutageRequest(
        outage=planned(system.clock), request_id=new_request_id()
    )
    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(system.stub.CreateOutage, request, metadata=system.dispatcher())
            for _ in range(2)
        ]
        first, second = (call.result() for call in calls)
    assert first.name == second.name


def update(system: OutageSystem, outage: resources_pb2.Outage, *paths: str) -> resources_pb2.Outage:
    return system.stub.UpdateOutage(
        outage_pb.UpdateOutageRequest(
            outage=outage, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
        ),
        metadata=system.dispatcher(),
    )


def test_update_with_a_stale_etag_is_aborted(system: OutageSystem) -> None:
    outage = system.announce()
    changed = update(
        system, resources_pb2.Outage(name=outage.name, reason="改线", etag=outage.etag), "reason"
    )
    assert changed.reason == "改线"
    assert changed.etag != outage.etag
    stale = resources_pb2.Outage(name=outage.name, reason="again", etag=outage.etag)
    error = fails(lambda: update(system, stale, "reason"))
    assert error.code == grpc.StatusCode.ABORTED


def test_moving_a_planned_outage_later_needs_no_notice_but_earlier_does(
    system: OutageSystem,
) -> None:
    outage = system.announce(days=7)
    system.clock.advance(3 * DAY)  # four days left now
    later = resources_pb2.Outage(name=outage.name)
    start = outage.start_time.ToDatetime().replace(tzinfo=system.clock.now().tzinfo)
    later.start_time.FromDatetime(start + timedelta(hours=2))
    later.end_time.FromDatetime(start + timedelta(hours=8))
    assert update(system, later, "start_time", "end_time").start_time == later.start_time
    earlier = resources_pb2.Outage(name=outage.name)
    earlier.start_time.FromDatetime(start - timedelta(hours=1))
    error = fails(lambda: update(system, earlier, "start_time"))
    assert violations(error) == ["outage.startTime"]


def test_end_before_start_is_refused_naming_end_time(system: OutageSystem) -> None:
    outage = system.announce()
    change = resources_pb2.Outage(name=outage.name)
    change.end_time.FromDatetime(system.clock.now() + DAY)
    error = fails(lambda: update(system, change, "end_time"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == ["outage.endTime"]


def test_crews_update_the_restoration_estimate(system: OutageSystem) -> None:
    now = system.clock.now()
    outage = system.announce(
        kind=UNPLANNED, start_time=now, estimated_restore_time=now + timedelta(hours=2), days=0
    )
    change = resources_pb2.Outage(name=outage.name)
    change.estimated_restore_time.FromDatetime(now + timedelta(hours=5))
    assert update(system, change, "estimated_restore_time").estimated_restore_time.ToDatetime() == (
        now + timedelta(hours=5)
    ).replace(tzinfo=None)


def test_an_active_outage_keeps_its_start(system: OutageSystem) -> None:
    now = system.clock.now()
    outage = system.announce(kind=UNPLANNED, start_time=now, days=0)
    change = resources_pb2.Outage(name=outage.name)
    change.start_time.FromDatetime(now - timedelta(hours=1))
    error = fails(lambda: update(system, change, "start_time"))
    assert violations(error) == ["outage.startTime"]
