"""Completion over real gRPC: the checklist must be done, the notice goes with the
outcomes that need one, theft is charged by the rule line by line in fen (a case worked
by hand below), and the customer's supply office hears of the result."""

from __future__ import annotations

from datetime import timedelta

from google.type import decimal_pb2

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.penalty import reckon
from servers.runtime import FailedPrecondition, InvalidArgument, PermissionDenied
from tests.care.support import fails
from tests.inspection.support import DAY, InspectionSystem, finding, new_request_id

POWER = resources_pb2.USE_CATEGORY_POWER
LIGHTING = resources_pb2.USE_CATEGORY_LIGHTING


def _assessment(
    category: int, watts: int, price: str, days: int = 0
) -> resources_pb2.TheftAssessment:
    return resources_pb2.TheftAssessment(
        use_category=category,  # type: ignore[arg-type]
        connected_capacity_watts=watts,
        period_days=days,
        unit_price=decimal_pb2.Decimal(value=price),
    )


def test_theft_of_unknown_period_by_a_power_user_worked_by_hand() -> None:
    # 5 kW connected by a power user, period unknown: 180 days × 12 h × 5000 W =
    # 10 800 000 Wh = 10 800 kWh; at 0.5283 yuan/kWh that is 5 705.64 yuan = 570 564 fen;
    # the penalty is three times that, 1 711 692 fen; 2 282 256 fen in all.
    penalty = reckon(_assessment(POWER, 5000, "0.5283"))
    assert (penalty.days, penalty.hours_per_day) == (180, 12)
    assert penalty.energy_wh == 10_800_000
    assert penalty.charge_fen == 570_564
    assert penalty.penalty_fen == 1_711_692
    assert penalty.total_fen == 2_282_256
    assert [(line.item, line.energy_wh, line.amount_fen) for line in penalty.lines] == [
        ("stolen_energy", 10_800_000, 0),
        ("charge", 0, 570_564),
        ("penalty", 0, 1_711_692),
        ("total", 0, 2_282_256),
    ]
    assert penalty.lines[0].description.startswith("180 天")


def test_a_lighting_user_counts_six_hours_and_a_known_period_its_days() -> None:
    # 30 days × 6 h × 2000 W = 360 000 Wh = 360 kWh × 0.45 = 162 yuan = 16 200 fen.
    known = reckon(_assessment(LIGHTING, 2000, "0.45", days=30))
    assert (known.days, known.hours_per_day, known.energy_wh) == (30, 6, 360_000)
    assert (known.charge_fen, known.penalty_fen, known.total_fen) == (16_200, 48_600, 64_800)
    # 180 × 6 × 1 W = 1 080 Wh × 0.5283 / 10 = 57.0564 fen, rounded half up to 57.
    tiny = reckon(_assessment(LIGHTING, 1, "0.5283"))
    assert (tiny.energy_wh, tiny.charge_fen, tiny.total_fen) == (1080, 57, 228)


def _checked(task: resources_pb2.Inspection) -> list[resources_pb2.CheckedItem]:
    return [
        resources_pb2.CheckedItem(item=item, result=resources_pb2.CHECK_RESULT_PASS)
        for item in task.checklist
    ]


def _record(system: InspectionSystem, task: resources_pb2.Inspection, **fields: object) -> None:
    system.stub.CreateFinding(
        inspection_pb.CreateFindingRequest(
            parent=task.name,
            finding=finding(system.clock.now(), checked_items=_checked(task), **fields),
            request_id=new_request_id(),
        ),
        metadata=system.inspector(),
    )


def _notice(system: InspectionSystem) -> resources_pb2.RectificationNotice:
    notice = resources_pb2.RectificationNotice(text="拆除私接线路，恢复计量装置原状。")
    notice.deadline.FromDatetime(system.clock.now() + 7 * DAY)
    return notice


def _complete(
    system: InspectionSystem, task: resources_pb2.Inspection, outcome: int, **fields: object
) -> resources_pb2.Inspection:
    return system.stub.CompleteInspection(
        inspection_pb.CompleteInspectionRequest(name=task.name, outcome=outcome, **fields),  # type: ignore[arg-type]
        metadata=system.inspector(),
    )


def test_confirmed_theft_is_charged_by_the_rule_and_the_office_is_told(
    system: InspectionSystem,
) -> None:
    task = system.create(kind=resources_pb2.INSPECTION_KIND_ANOMALY)
    _record(
        system,
        task,
        violation_kind=resources_pb2.VIOLATION_KIND_ELECTRICITY_THEFT,
        seal_state=resources_pb2.SEAL_STATE_BROKEN,
    )
    done = _complete(
        system,
        task,
        resources_pb2.INSPECTION_OUTCOME_VIOLATION_CONFIRMED,
        notice=_notice(system),
        theft_assessment=_assessment(POWER, 5000, "0.5283"),
        note="表尾短接窃电",
    )
    assert done.state == resources_pb2.INSPECTION_STATE_COMPLETED
    assert done.outcome == resources_pb2.INSPECTION_OUTCOME_VIOLATION_CONFIRMED
    assert done.theft_penalty.total_fen == 2_282_256
    assert [line.amount_fen for line in done.theft_penalty.lines][1:] == [
        570_564,
        1_711_692,
        2_282_256,
    ]
    assert done.notice.notice_number.startswith("JC")
    assert done.notice.HasField("issue_time")
    [message] = system.messages("inspection.completed")
    assert message.users == ["users/m-one"]
    assert message.parameters["customer"] == "3100000001"
    assert "2282256" in message.parameters["detail"]


def test_confirmed_theft_without_the_assessment_is_refused_by_field(
    system: InspectionSystem,
) -> None:
    task = system.create()
    _record(system, task, violation_kind=resources_pb2.VIOLATION_KIND_ELECTRICITY_THEFT)
    error = fails(
        lambda: _complete(
            system,
            task,
            resources_pb2.INSPECTION_OUTCOME_VIOLATION_CONFIRMED,
            notice=_notice(system),
        )
    )
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["theftAssessment"]


def test_an_assessment_without_theft_is_refused(system: InspectionSystem) -> None:
    task = system.create()
    _record(system, task)
    error = fails(
        lambda: _complete(
            system,
            task,
            resources_pb2.INSPECTION_OUTCOME_NO_ISSUE,
            theft_assessment=_assessment(POWER, 5000, "0.5283"),
        )
    )
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["theftAssessment"]


def test_a_rectification_needs_its_notice(system: InspectionSystem) -> None:
    task = system.create()
    _record(system, task, violation_kind=resources_pb2.VIOLATION_KIND_SAFETY_HAZARD)
    error = fails(
        lambda: _complete(system, task, resources_pb2.INSPECTION_OUTCOME_RECTIFICATION_REQUIRED)
    )
    assert isinstance(error, InvalidArgument)
    done = _complete(
        system,
        task,
        resources_pb2.INSPECTION_OUTCOME_RECTIFICATION_REQUIRED,
        notice=_notice(system),
    )
    assert done.notice.text == "拆除私接线路，恢复计量装置原状。"
    assert not done.HasField("theft_penalty")


def test_the_checklist_must_be_done_unless_there_was_no_access(
    system: InspectionSystem,
) -> None:
    task = system.create()
    error = fails(lambda: _complete(system, task, resources_pb2.INSPECTION_OUTCOME_NO_ISSUE))
    assert isinstance(error, FailedPrecondition)
    system.stub.CreateFinding(
        inspection_pb.CreateFindingRequest(
            parent=task.name, finding=finding(system.clock.now()), request_id=new_request_id()
        ),
        metadata=system.inspector(),
    )
    error = fails(lambda: _complete(system, task, resources_pb2.INSPECTION_OUTCOME_NO_ISSUE))
    assert isinstance(error, FailedPrecondition)
    assert "METER_BOX" in error.message
    other = system.create()
    done = _complete(system, other, resources_pb2.INSPECTION_OUTCOME_NO_ACCESS)
    assert done.outcome == resources_pb2.INSPECTION_OUTCOME_NO_ACCESS


def test_only_an_assigned_inspector_completes_and_only_once(system: InspectionSystem) -> None:
    task = system.create()
    error = fails(
        lambda: system.stub.CompleteInspection(
            inspection_pb.CompleteInspectionRequest(
                name=task.name, outcome=resources_pb2.INSPECTION_OUTCOME_NO_ACCESS
            ),
            metadata=system.manager(),
        )
    )
    assert isinstance(error, PermissionDenied)
    _complete(system, task, resources_pb2.INSPECTION_OUTCOME_NO_ACCESS)
    system.clock.advance(timedelta(minutes=1))
    error = fails(lambda: _complete(system, task, resources_pb2.INSPECTION_OUTCOME_NO_ACCESS))
    assert isinstance(error, FailedPrecondition)


def test_a_unit_price_that_is_no_positive_decimal_is_refused_by_field(
    system: InspectionSystem,
) -> None:
    task = system.create()
    _record(system, task, violation_kind=resources_pb2.VIOLATION_KIND_ELECTRICITY_THEFT)
    for price in ("5e-1", "0"):
        error = fails(
            lambda p=price: _complete(  # type: ignore[misc]
                system,
                task,
                resources_pb2.INSPECTION_OUTCOME_VIOLATION_CONFIRMED,
                notice=_notice(system),
                theft_assessment=_assessment(POWER, 5000, p),
            )
        )
        assert isinstance(error, InvalidArgument)
        assert [v.field for v in error.field_violations] == ["theftAssessment.unitPrice"]
