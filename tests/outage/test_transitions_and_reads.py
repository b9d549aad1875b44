"""Cancel and restore, the illegal moves refused, and the reads: the public list with its
filters and pages, one outage, a customer's outages in scope, the internal list by
areas, and the notice period read from the system parameters."""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import duration_pb2, field_mask_pb2

from palmgrid.account.v1 import account_admin_service_pb2_grpc as admin_grpc
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as admin_pb
from palmgrid.account.v1 import admin_resources_pb2
from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_service_pb2_grpc, resources_pb2
from servers.outage.notice_period import DEFAULT_NOTICE
from tests.outage.support import DAY, OutageSystem, fails
from tests.tester import TESTER

SCHEDULED = resources_pb2.OUTAGE_STATE_SCHEDULED
ACTIVE = resources_pb2.OUTAGE_STATE_ACTIVE
RESTORED = resources_pb2.OUTAGE_STATE_RESTORED
CANCELLED = resources_pb2.OUTAGE_STATE_CANCELLED
UNPLANNED = resources_pb2.OUTAGE_KIND_UNPLANNED


def cancel(system: OutageSystem, name: str, etag: str = "") -> resources_pb2.Outage:
    return system.stub.CancelOutage(
        outage_pb.CancelOutageRequest(name=name, reason="天气原因", etag=etag),
        metadata=system.dispatcher(),
    )


def restore(system: OutageSystem, name: str, **fields: object) -> resources_pb2.Outage:
    return system.stub.RestoreOutage(
        outage_pb.RestoreOutageRequest(name=name, **fields),  # type: ignore[arg-type]
        metadata=system.dispatcher(),
    )


def fault(system: OutageSystem) -> resources_pb2.Outage:
    return system.announce(kind=UNPLANNED, start_time=system.clock.now(), days=0)


def test_cancel_a_scheduled_outage(system: OutageSystem) -> None:
    outage = system.announce()
    cancelled = cancel(system, outage.name, outage.etag)
    assert cancelled.state == CANCELLED
    assert cancelled.cancel_reason == "天气原因"


def test_cancelled_and_restored_outages_are_final(system: OutageSystem) -> None:
    outage = cancel(system, system.announce().name)
    for call in (lambda: cancel(system, outage.name), lambda: restore(system, outage.name)):
        error = fails(call)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert error.metadata["state"] == "CANCELLED"
    restored = restore(system, fault(system).name)
    assert restored.state == RESTORED
    error = fails(lambda: restore(system, restored.name))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    change = resources_pb2.Outage(name=restored.name, reason="x")
    error = fails(
        lambda: system.stub.UpdateOutage(
            outage_pb.UpdateOutageRequest(
                outage=change, update_mask=field_mask_pb2.FieldMask(paths=["reason"])
            ),
            metadata=system.dispatcher(),
        )
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION


def test_an_active_outage_cannot_be_cancelled(system: OutageSystem) -> None:
    error = fails(lambda: cancel(system, fault(system).name))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION


def test_an_outage_past_its_start_cannot_be_cancelled_before_the_clock_job_runs(
    system: OutageSystem,
) -> None:
    outage = system.announce(days=8)
    system.clock.advance(8 * DAY)  # started, though still SCHEDULED until the clock job
    error = fails(lambda: cancel(system, outage.name))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.metadata == {"field": "state", "state": "SCHEDULED"}


def test_a_scheduled_outage_cannot_be_restored_before_it_starts(system: OutageSystem) -> None:
    error = fails(lambda: restore(system, system.announce().name))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION


def test_restore_time_is_checked(system: OutageSystem) -> None:
    outage = fault(system)
    future = system.clock.now() + timedelta(hours=1)
    before = system.clock.now() - timedelta(hours=1)
    for moment in (future, before):
        request = outage_pb.RestoreOutageRequest(name=outage.name)
        request.restore_time.FromDatetime(moment)
        error = fails(
            lambda r=request: system.stub.RestoreOutage(r, metadata=system.dispatcher())  # type: ignore[misc]
        )
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["restoreTime"]  # type: ignore[attr-defined]


def test_restore_with_a_stale_etag_is_aborted(system: OutageSystem) -> None:
    outage = fault(system)
    error = fails(lambda: restore(system, outage.name, etag="0" * 16))
    assert error.code == grpc.StatusCode.ABORTED


def test_list_shows_upcoming_and_current_soonest_first(system: OutageSystem) -> None:
    later = system.announce(days=9)
    sooner = system.announce(days=8)
    now_off = fault(system)
    cancel(system, system.announce(days=10).name)
    listed = system.stub.ListOutages(outage_pb.ListOutagesRequest())
    assert [o.name for o in listed.outages] == [now_off.name, sooner.name, later.name]
    everything = system.stub.ListOutages(
        outage_pb.ListOutagesRequest(states=[SCHEDULED, ACTIVE, RESTORED, CANCELLED])
    )
    assert len(everything.outages) == 4


def test_list_filters_by_area_kind_and_window(system: OutageSystem) -> None:
    a01 = system.announce(days=8)
    a02 = system.announce(days=9, area_codes=["A02", "A03"])
    by_area = system.stub.ListOutages(outage_pb.ListOutagesRequest(area_code="A03"))
    assert [o.name for o in by_area.outages] == [a02.name]
    planned_only = system.stub.ListOutages(
        outage_pb.ListOutagesRequest(kind=resources_pb2.OUTAGE_KIND_PLANNED)
    )
    assert len(planned_only.outages) == 2
    window = outage_pb.ListOutagesRequest()
    window.window_end_time.FromDatetime(system.clock.now() + timedelta(days=8, hours=12))
    assert [o.name for o in system.stub.ListOutages(window).outages] == [a01.name]


def test_list_pages(system: OutageSystem) -> None:
    names = [system.announce(days=8 + i).name for i in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = system.stub.ListOutages(outage_pb.ListOutagesRequest(page_size=2, page_token=token))
        seen += [o.name for o in page.outages]
        token = page.next_page_token
        if not token:
            break
    assert seen == names


def test_get_unknown_outage_is_not_found(system: OutageSystem) -> None:
    error = fails(lambda: system.stub.GetOutage(outage_pb.GetOutageRequest(name="outages/nope")))
    assert error.code == grpc.StatusCode.NOT_FOUND


def test_customer_sees_the_outages_of_their_area(system: OutageSystem) -> None:
    a01 = system.announce()
    system.announce(area_codes=["A02"])
    mine = system.stub.ListCustomerOutages(
        outage_pb.ListCustomerOutagesRequest(parent="customers/3100000001"),
        metadata=system.customer("u-one", "3100000001"),
    )
    assert [o.name for o in mine.outages] == [a01.name]


def test_customer_outages_of_an_unbound_customer_are_refused(system: OutageSystem) -> None:
    error = fails(
        lambda: system.stub.ListCustomerOutages(
            outage_pb.ListCustomerOutagesRequest(parent="customers/3100000002"),
            metadata=system.customer("u-one", "3100000001"),
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED


def test_staff_see_customer_outages_only_in_their_offices(system: OutageSystem) -> None:
    ok = system.stub.ListCustomerOutages(
        outage_pb.ListCustomerOutagesRequest(parent="customers/3100000001"),
        metadata=system.dispatcher("QJ-QL"),
    )
    assert list(ok.outages) == []
    error = fails(
        lambda: system.stub.ListCustomerOutages(
            outage_pb.ListCustomerOutagesRequest(parent="customers/3100000007"),
            metadata=system.dispatcher("QJ-QL"),
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED


def test_area_outages_for_other_services(system: OutageSystem) -> None:
    a02 = system.announce(area_codes=["A02"])
    system.announce(area_codes=["A01"])
    credentials = system.outage.runtime.settings.client_credentials(TESTER)
    assert credentials is not None
    with grpc.secure_channel(system.outage.target, credentials) as channel:
        found = outage_service_pb2_grpc.OutageServiceStub(channel).ListAreaOutages(
            outage_pb.ListAreaOutagesRequest(area_codes=["A02", "A03"])
        )
    assert [o.name for o in found.outages] == [a02.name]
    error = fails(
        lambda: system.stub.ListAreaOutages(outage_pb.ListAreaOutagesRequest(area_codes=["A02"]))
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED  # the staff CLI's certificate


def set_notice(system: OutageSystem, days: int) -> None:
    credentials = system.outage.runtime.settings.client_credentials(TESTER)
    assert credentials is not None
    with grpc.secure_channel(system.account.target, credentials) as channel:
        _update_notice(admin_grpc.AccountAdminServiceStub(channel), days)


def _update_notice(admin: admin_grpc.AccountAdminServiceStub, days: int) -> None:
    admin.UpdateSystemParameters(
        admin_pb.UpdateSystemParametersRequest(
            system_parameters=admin_resources_pb2.SystemParameters(
                name="systemParameters",
                planned_outage_notice=duration_pb2.Duration(seconds=days * 86400),
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["planned_outage_notice"]),
        ),
        timeout=5,
    )


def test_the_notice_period_is_a_system_parameter(system: OutageSystem) -> None:
    period = system.process.notice_period
    assert period.current() == DEFAULT_NOTICE
    set_notice(system, 3)
    try:
        period._read_at = None  # let the next announcement read it again
        assert system.announce(days=4).state == SCHEDULED
        error = fails(lambda: system.announce(days=2))
        assert "3 days" in str(error)
    finally:
        set_notice(system, 7)
        period._read_at = None
    assert period.current() == 7 * DAY
