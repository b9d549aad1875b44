"""Pushes from the source systems: each record checked on its own, the bad ones
quarantined with their reasons while the good ones land in billing; a batch sent again
changes nothing; an older version never overwrites a newer one."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from sqlmodel import col, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_internal_pb
from palmgrid.billing.v1 import payment_pb2, resources_pb2
from palmgrid.expansion.v1 import expansion_internal_service_pb2 as expansion_internal_pb
from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as expansion_internal_grpc
from palmgrid.expansion.v1 import expansion_service_pb2 as expansion_service_pb
from palmgrid.expansion.v1 import expansion_service_pb2_grpc as expansion_grpc
from palmgrid.expansion.v1 import resources_pb2 as expansion_resources
from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2 as ingest_resources
from palmgrid.type.v1 import identity_pb2
from servers.billing.models import BalanceRow, Customer, DailyUsage, MeterReading
from servers.inspection.models import AnomalyRow
from servers.runtime.protoconv import timestamp
from tests.ingest.support import (
    START,
    STORED_WH,
    IngestSystem,
    assignment,
    customer,
    meter_name,
    payment,
    reading,
    request_id,
)

DAY = timedelta(days=1)


def stored_customer(system: IngestSystem, number: str) -> Customer | None:
    with system.billing.runtime.session() as session:
        return session.get(Customer, number)


def reasons(reply: object) -> dict[str, str]:
    return {r.source_id: f"{r.reason} {r.field}" for r in reply.quarantined_records}  # type: ignore[attr-defined]


def test_a_batch_with_bad_records_lands_the_good_ones_and_quarantines_the_bad(
    system: IngestSystem,
) -> None:
    batch = [
        customer("3100000001", START, address="曲靖市麒麟区新地址8号"),
        customer("3100000050", START),
        customer("3100000051", START, area_code="a1"),
        customer("3100000052", START, tariff="tariffs/no-such-tariff"),
    ]
    reply = system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=batch, request_id=request_id())
    )
    assert (reply.created_count, reply.updated_count, reply.quarantined_count) == (1, 1, 2)
    assert reasons(reply) == {
        "3100000051": "INVALID_FIELD areaCode",
        "3100000052": "UNKNOWN_TARIFF tariff",
    }
    assert all(r.source == "serviceAccounts/marketing" for r in reply.quarantined_records)
    changed = stored_customer(system, "3100000001")
    assert changed is not None and changed.address == "曲靖市麒麟区新地址8号"
    assert stored_customer(system, "3100000050") is not None
    assert stored_customer(system, "3100000051") is None

    again = system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=batch, request_id=request_id())
    )
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    # The same bad records are not quarantined twice.
    assert [r.name for r in again.quarantined_records] == [
        r.name for r in reply.quarantined_records
    ]
    listed = system.cli.ListQuarantinedRecords(
        ingest_pb.ListQuarantinedRecordsRequest(),
        metadata=system.staff("ingest.quarantinedRecords.list"),
    )
    assert len(listed.quarantined_records) == 2


def test_an_older_version_never_overwrites_a_newer_one(system: IngestSystem) -> None:
    newer = customer("3100000002", START, address="较新的地址1号")
    older = customer("3100000002", START - DAY, address="较旧的地址2号")
    system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=[newer], request_id=request_id())
    )
    reply = system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=[older], request_id=request_id())
    )
    assert (reply.stale_count, reply.updated_count) == (1, 0)
    stored = stored_customer(system, "3100000002")
    assert stored is not None and stored.address == "较新的地址1号"
    # In one batch, the newest of the same record wins whatever the order.
    system.reset()
    reply = system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(
            customers=[customer("3100000002", START + DAY, address="最新的地址3号"), older],
            request_id=request_id(),
        )
    )
    assert reply.stale_count == 1
    stored = stored_customer(system, "3100000002")
    assert stored is not None and stored.address == "最新的地址3号"


def test_readings_that_go_backwards_or_name_unknown_meters_are_quarantined(
    system: IngestSystem,
) -> None:
    taken = START - timedelta(hours=2)
    batch = [
        reading("3100000001", "r100", taken, STORED_WH + 5_000),
        reading("3100000002", "r101", taken, STORED_WH - 1),
        reading("3100000003", "r102", taken, STORED_WH + 10, meter="m9"),
        reading("3100000077", "r103", taken, 5),
    ]
    reply = system.metering.PushMeterReadings(
        ingest_pb.PushMeterReadingsRequest(meter_readings=batch, request_id=request_id())
    )
    assert reply.created_count == 1
    assert reasons(reply) == {
        batch[1].name: "READING_BACKWARDS valueWh",
        batch[2].name: "UNKNOWN_METER name",
        batch[3].name: "UNKNOWN_CUSTOMER name",
    }
    with system.billing.runtime.session() as session:
        ids = set(session.exec(select(MeterReading.id).where(col(MeterReading.id) != "r0")))
    assert ids == {"r100"}
    # The backwards reading is a metering anomaly for the customer's inspectors.
    with system.inspection.runtime.session() as session:
        anomalies = list(session.exec(select(AnomalyRow)))
    assert [(a.customer, a.meter_number) for a in anomalies] == [("customers/3100000002", "m1")]

    again = system.metering.PushMeterReadings(
        ingest_pb.PushMeterReadingsRequest(meter_readings=batch, request_id=request_id())
    )
    assert (again.created_count, again.unchanged_count, again.quarantined_count) == (0, 1, 3)
    with system.inspection.runtime.session() as session:
        assert len(list(session.exec(select(AnomalyRow)))) == 1


def test_a_streamed_collection_run_sent_twice_is_applied_once(system: IngestSystem) -> None:
    taken = START - timedelta(hours=1)

    def chunks() -> list[ingest_pb.StreamMeterReadingsRequest]:
        return [
            ingest_pb.StreamMeterReadingsRequest(
                meter_readings=[reading(n, f"s{n[-1]}", taken, STORED_WH + 20_000)],
                request_id=request_id(),
            )
            for n in ("3100000001", "3100000003")
        ]

    first = system.metering.StreamMeterReadings(iter(chunks()))
    assert (first.chunk_count, first.created_count, first.duplicate_chunk_count) == (2, 2, 0)
    second = system.metering.StreamMeterReadings(iter(chunks()))
    assert (second.created_count, second.unchanged_count, second.duplicate_chunk_count) == (
        0,
        2,
        2,
    )


def daily(
    number: str, day: str, quality: str, energy_wh: int | None = None, meter: str = ""
) -> billing_internal_pb.DailyMeterReading:
    figure = billing_internal_pb.DailyMeterReading(
        meter=f"customers/{number}/meters/{meter}" if meter else meter_name(number),
        date=day,
        quality=resources_pb2.ReadingQuality.Value(f"READING_QUALITY_{quality}"),
    )
    if energy_wh is not None:
        figure.energy_wh = energy_wh
    return figure


def test_daily_readings_land_in_billing_once_and_bad_ones_are_quarantined(
    system: IngestSystem,
) -> None:
    batch = [
        daily("3100000001", "2026-11-01", "ACTUAL", 7_400),
        daily("3100000001", "2026-11-02", "ESTIMATED", 6_900),
        daily("3100000001", "2026-11-03", "MISSING"),
        daily("3100000002", "2026-11-01", "ACTUAL", -5),
        daily("3100000002", "2026-11-02", "ACTUAL"),
        daily("3100000003", "2026-11-01", "ACTUAL", 100, meter="m9"),
        daily("3100000077", "2026-11-01", "ACTUAL", 100),
        daily("3100000003", "2026-02-30", "ACTUAL", 100),
    ]
    reply = system.metering.PushDailyReadings(
        ingest_pb.PushDailyReadingsRequest(daily_readings=batch, request_id=request_id())
    )
    assert (reply.created_count, reply.quarantined_count) == (3, 5)
    assert reasons(reply) == {
        f"{batch[3].meter}/days/2026-11-01": "INVALID_FIELD energyWh",
        f"{batch[4].meter}/days/2026-11-02": "INVALID_FIELD energyWh",
        f"{batch[5].meter}/days/2026-11-01": "UNKNOWN_METER meter",
        f"{batch[6].meter}/days/2026-11-01": "UNKNOWN_CUSTOMER meter",
        f"{batch[7].meter}/days/2026-02-30": "INVALID_FIELD date",
    }
    assert {r.kind for r in reply.quarantined_records} == {
        ingest_resources.RECORD_KIND_DAILY_READING
    }

    def stored() -> list[tuple[str, str, int | None, str]]:
        with system.billing.runtime.session() as session:
            rows = session.exec(select(DailyUsage).order_by(col(DailyUsage.day)))
            return [(r.customer_id, r.day.isoformat(), r.energy_wh, r.quality) for r in rows]

    # The MISSING day stays a gap: stored as not obtained, with no energy.
    landed = [
        ("3100000001", "2026-11-01", 7_400, "ACTUAL"),
        ("3100000001", "2026-11-02", 6_900, "ESTIMATED"),
        ("3100000001", "2026-11-03", None, "MISSING"),
    ]
    assert stored() == landed

    again = system.metering.PushDailyReadings(
        ingest_pb.PushDailyReadingsRequest(daily_readings=batch, request_id=request_id())
    )
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert [r.name for r in again.quarantined_records] == [
        r.name for r in reply.quarantined_records
    ]
    assert stored() == landed

    # Daily readings come from the metering system only.
    with pytest.raises(grpc.RpcError) as caught:
        system.marketing.PushDailyReadings(
            ingest_pb.PushDailyReadingsRequest(daily_readings=batch[:1], request_id=request_id())
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_tariff_assignments_move_customers_and_older_ones_do_not(system: IngestSystem) -> None:
    reply = system.marketing.PushTariffAssignments(
        ingest_pb.PushTariffAssignmentsRequest(
            tariff_assignments=[
                assignment("3100000003", "tariffs/residential-time-of-use", START),
                assignment("3100000002", "tariffs/none-such", START),
            ],
            request_id=request_id(),
        )
    )
    assert (reply.updated_count, reply.quarantined_count) == (1, 1)
    assert reasons(reply) == {"3100000002": "UNKNOWN_TARIFF tariff"}
    stored = stored_customer(system, "3100000003")
    assert stored is not None and stored.tariff == "residential-time-of-use"
    older = system.marketing.PushTariffAssignments(
        ingest_pb.PushTariffAssignmentsRequest(
            tariff_assignments=[
                assignment("3100000003", "tariffs/residential-tiered", START - DAY)
            ],
            request_id=request_id(),
        )
    )
    assert (older.stale_count, older.updated_count) == (1, 0)
    stored = stored_customer(system, "3100000003")
    assert stored is not None and stored.tariff == "residential-time-of-use"


def test_counter_payments_are_booked_once_and_conflicts_quarantined(
    system: IngestSystem,
) -> None:
    def balance() -> int:
        with system.billing.runtime.session() as session:
            row = session.get(BalanceRow, "3100000001")
            assert row is not None
            return row.net_fen

    before = balance()
    paid = START - timedelta(hours=3)
    app = payment("3100000001", "rc2", 500, paid)
    app.channel = payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY
    batch = [payment("3100000001", "rc1", 12_345, paid), app]
    reply = system.marketing.PushPayments(
        ingest_pb.PushPaymentsRequest(payments=batch, request_id=request_id())
    )
    assert (reply.created_count, reply.quarantined_count) == (1, 1)
    assert reasons(reply) == {batch[1].name: "INVALID_FIELD channel"}
    assert balance() == before + 12_345
    again = system.marketing.PushPayments(
        ingest_pb.PushPaymentsRequest(payments=batch[:1], request_id=request_id())
    )
    assert (again.created_count, again.unchanged_count) == (0, 1)
    # The same receipt id for another amount is refused by billing and quarantined.
    system.reset()
    conflict = payment("3100000001", "rc1", 99, paid + timedelta(minutes=1))
    refused = system.marketing.PushPayments(
        ingest_pb.PushPaymentsRequest(payments=[conflict], request_id=request_id())
    )
    assert reasons(refused) == {conflict.name: "PAYMENT_ID_CONFLICT name"}
    assert balance() == before + 12_345


def test_each_source_system_pushes_only_its_own_kinds(system: IngestSystem) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        system.metering.PushCustomerChanges(
            ingest_pb.PushCustomerChangesRequest(
                customers=[customer("3100000001", START)], request_id=request_id()
            )
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as caught:
        system.marketing.PushCustomerChanges(
            ingest_pb.PushCustomerChangesRequest(customers=[], request_id=request_id())
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _expansion(system: IngestSystem, account: str) -> grpc.Channel:
    credentials = system.settings.client_credentials(account)
    assert credentials is not None
    return grpc.secure_channel(system.expansion.target, credentials)


def test_application_updates_move_the_application_at_expansion_once(
    system: IngestSystem,
) -> None:
    admin = [
        system.signer.metadata(
            identity_pb2.Principal(
                user="users/admin-one",
                username="adminone",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["admin"],
                permissions=[
                    "expansion.applications.create",
                    "expansion.applications.get",
                    "expansion.applications.sendBack",
                    "expansion.applications.reject",
                ],
                all_supply_offices=True,
            ),
            audience="expansion",
            caller="cli",
        )
    ]
    with _expansion(system, "cli") as channel:
        stub = expansion_grpc.ExpansionServiceStub(channel)

        def file() -> expansion_resources.Application:
            made: expansion_resources.Application = stub.CreateApplication(
                expansion_service_pb.CreateApplicationRequest(
                    application=expansion_resources.Application(
                        kind=expansion_resources.APPLICATION_KIND_LOW_VOLTAGE_BUSINESS,
                        applicant=expansion_resources.Applicant(
                            name="李四光",
                            id_number="53030219800101123X",
                            contact_phone="13800001234",
                        ),
                        address="曲靖市麒麟区南宁西路8号",
                        area_code="A01",
                        capacity_kva=8,
                    ),
                    request_id=request_id(),
                ),
                metadata=admin,
            )
            return made

        filed = file()

        def read(name: str = filed.name) -> expansion_resources.Application:
            request = expansion_service_pb.GetApplicationRequest(name=name)
            got: expansion_resources.Application = stub.GetApplication(request, metadata=admin)
            return got

        def push(
            *updates: ingest_resources.ApplicationUpdate,
        ) -> ingest_pb.PushApplicationUpdatesResponse:
            reply: ingest_pb.PushApplicationUpdatesResponse = (
                system.marketing.PushApplicationUpdates(
                    ingest_pb.PushApplicationUpdatesRequest(
                        application_updates=updates, request_id=request_id()
                    )
                )
            )
            return reply

        def update(
            node: str, at: timedelta, application: str = filed.name
        ) -> ingest_resources.ApplicationUpdate:
            return ingest_resources.ApplicationUpdate(
                application=application,
                node=node,
                note="营销系统已办结",
                source_update_time=timestamp(START - DAY + at),
            )

        reached = push(update("SUPPLY_PLAN", timedelta(hours=1)))
        assert (reached.applied_count, reached.quarantined_count) == (1, 0)
        moved = read()
        assert moved.current_node == expansion_resources.NODE_KIND_SUPPLY_PLAN
        assert [n.state for n in moved.nodes][:2] == [
            expansion_resources.NODE_STATE_COMPLETED,
            expansion_resources.NODE_STATE_IN_PROGRESS,
        ]
        assert moved.history[-1].actor == "serviceAccounts/ingest"
        assert moved.history[-1].note == "营销系统已办结"

        # The same update again, and an older step under a newer version: nothing moves.
        again = push(update("SUPPLY_PLAN", timedelta(hours=1)))
        assert (again.applied_count, again.unchanged_count) == (0, 1)
        push(update("ACCEPTANCE", timedelta(hours=2)))
        assert read().history == moved.history

        done = push(update("COMPLETED", timedelta(hours=3)))
        assert done.applied_count == 1
        finished = read()
        assert finished.state == expansion_resources.APPLICATION_STATE_COMPLETED
        assert {n.state for n in finished.nodes} == {expansion_resources.NODE_STATE_COMPLETED}

        # A node waiting on the customer is resumed, then advanced; a rejected
        # application takes no step and the update waits in the quarantine.
        waiting, rejected = file(), file()
        stub.SendBackApplication(
            expansion_service_pb.SendBackApplicationRequest(name=waiting.name, reason="缺营业执照"),
            metadata=admin,
        )
        stub.RejectApplication(
            expansion_service_pb.RejectApplicationRequest(name=rejected.name, reason="重复申请"),
            metadata=admin,
        )
        later = push(
            update("CONNECTION", timedelta(hours=1), application=waiting.name),
            update("CONNECTION", timedelta(hours=1), application=rejected.name),
        )
        assert reasons(later) == {rejected.name: "OWNER_UNAVAILABLE "}
        resumed = read(waiting.name)
        assert resumed.current_node == expansion_resources.NODE_KIND_CONNECTION
        assert [e.action for e in resumed.history][-4:] == [
            expansion_resources.APPLICATION_ACTION_SENT_BACK,
            expansion_resources.APPLICATION_ACTION_RESUMED,
            expansion_resources.APPLICATION_ACTION_ADVANCED,
            expansion_resources.APPLICATION_ACTION_ADVANCED,
        ]
        assert read(rejected.name).state == expansion_resources.APPLICATION_STATE_REJECTED

        bad = push(
            update("SUPPLY_PLAN", timedelta(hours=1), application="applications/no-such-one"),
            update("SURVEY", timedelta(hours=4)),
            update("site survey", timedelta(hours=4), application="applications/other"),
        )
        assert reasons(bad) == {
            "applications/no-such-one": "UNKNOWN_APPLICATION application",
            filed.name: "REFUSED_BY_EXPANSION node",
            "applications/other": "INVALID_FIELD node",
        }
        assert read().history == finished.history

    # Only ingest records steps: the marketing system cannot go around it.
    with _expansion(system, "marketing") as channel, pytest.raises(grpc.RpcError) as caught:
        expansion_internal_grpc.ExpansionInternalServiceStub(channel).RecordApplicationStep(
            expansion_internal_pb.RecordApplicationStepRequest(
                application=filed.name,
                node="COMPLETED",
                source_update_time=timestamp(START - DAY),
            )
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
