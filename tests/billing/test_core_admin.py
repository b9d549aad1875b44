"""BillingAdminService over a real server: customers in the caller's offices, tariff
versions from draft to published (and proration over the change), the ledger and
manual adjustments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import json_format
from google.type import date_pb2, decimal_pb2

from clients.billing_calc import compute_bill
from palmgrid.billing.v1 import billing_admin_service_pb2 as admin_pb2
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import payment_pb2, tariff_pb2
from servers.runtime import CHINA_STANDARD_TIME
from tests.billing.core_support import BillingServer
from tests.billing.records import customer_record, reading, readings_request, upsert_request

KWH = 1000


def code_of(error: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return error.value.code()  # type: ignore[no-any-return]


def test_staff_list_only_customers_of_their_offices(billing: BillingServer) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(
            *[
                customer_record(
                    f"31000000{n:02d}",
                    supply_office="QJ-QL" if n % 2 else "QJ-ZY",
                    area_code="A01" if n < 6 else "A02",
                )
                for n in range(1, 11)
            ]
        ),
        metadata=billing.service(),
    )
    mine = billing.admin.ListCustomers(
        admin_pb2.ListCustomersRequest(page_size=3), metadata=billing.staff("QJ-QL")
    )
    rest = billing.admin.ListCustomers(
        admin_pb2.ListCustomersRequest(page_size=3, page_token=mine.next_page_token),
        metadata=billing.staff("QJ-QL"),
    )
    listed = [c.name for c in [*mine.customers, *rest.customers]]
    assert listed == [f"customers/31000000{n:02d}" for n in (1, 3, 5, 7, 9)]
    assert mine.customers[0].registered_phone == "138****0042"
    in_area = billing.admin.ListCustomers(
        admin_pb2.ListCustomersRequest(supply_office="QJ-QL", area_code="A02"),
        metadata=billing.staff("QJ-QL"),
    )
    assert [c.name for c in in_area.customers] == ["customers/3100000007", "customers/3100000009"]
    with pytest.raises(grpc.RpcError) as caught:
        billing.admin.ListCustomers(
            admin_pb2.ListCustomersRequest(supply_office="QJ-ZY"), metadata=billing.staff("QJ-QL")
        )
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED


def tiers(*items: tuple[int, str]) -> list[tariff_pb2.TariffTier]:
    return [
        tariff_pb2.TariffTier(
            tier=i + 1, upper_bound_wh=bound, unit_price=decimal_pb2.Decimal(value=price)
        )
        for i, (bound, price) in enumerate(items)
    ]


def draft(
    effective: tuple[int, int, int], *tier_items: tuple[int, str]
) -> tariff_pb2.TariffVersion:
    year, month, day = effective
    return tariff_pb2.TariffVersion(
        effective_date=date_pb2.Date(year=year, month=month, day=day),
        tier_period=tariff_pb2.TIER_PERIOD_MONTHLY,
        tiers=tiers(*tier_items),
    )


def create_and_publish(
    billing: BillingServer, version_id: str, version: tariff_pb2.TariffVersion
) -> tariff_pb2.TariffVersion:
    staff = billing.staff(everywhere=True)
    billing.admin.CreateTariffVersion(
        admin_pb2.CreateTariffVersionRequest(
            parent="tariffs/pilot", tariff_version_id=version_id, tariff_version=version
        ),
        metadata=staff,
    )
    return billing.admin.PublishTariffVersion(
        admin_pb2.PublishTariffVersionRequest(name=f"tariffs/pilot/versions/{version_id}"),
        metadata=staff,
    )


def test_a_draft_is_private_until_published(billing: BillingServer) -> None:
    staff = billing.staff(everywhere=True)
    billing.admin.CreateTariff(
        admin_pb2.CreateTariffRequest(
            tariff_id="pilot",
            tariff=tariff_pb2.Tariff(
                display_name="试点电价", customer_category=tariff_pb2.CUSTOMER_CATEGORY_RESIDENTIAL
            ),
        ),
        metadata=staff,
    )
    created = billing.admin.CreateTariffVersion(
        admin_pb2.CreateTariffVersionRequest(
            parent="tariffs/pilot",
            tariff_version_id="2024-01-01",
            tariff_version=draft((2024, 1, 1), (150_000, "0.5"), (0, "0.8")),
        ),
        metadata=staff,
    )
    assert created.state == tariff_pb2.TARIFF_VERSION_STATE_DRAFT
    assert created.creator == "users/s1"
    public = billing.billing.GetTariff(service_pb2.GetTariffRequest(name="tariffs/pilot"))
    assert (list(public.versions), public.current_version) == ([], "")
    published = billing.admin.PublishTariffVersion(
        admin_pb2.PublishTariffVersionRequest(name="tariffs/pilot/versions/2024-01-01"),
        metadata=staff,
    )
    assert published.state == tariff_pb2.TARIFF_VERSION_STATE_PUBLISHED
    public = billing.billing.GetTariff(service_pb2.GetTariffRequest(name="tariffs/pilot"))
    assert public.current_version == "tariffs/pilot/versions/2024-01-01"
    with pytest.raises(grpc.RpcError) as caught:
        billing.admin.DeleteTariffVersion(
            admin_pb2.DeleteTariffVersionRequest(name="tariffs/pilot/versions/2024-01-01"),
            metadata=staff,
        )
    assert code_of(caught) == grpc.StatusCode.FAILED_PRECONDITION


def test_a_draft_breaking_the_schedule_rules_is_refused(billing: BillingServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        billing.admin.CreateTariffVersion(
            admin_pb2.CreateTariffVersionRequest(
                parent="tariffs/residential-tiered",
                tariff_version_id="bad",
                tariff_version=draft((2030, 1, 1), (200_000, "0.5"), (100_000, "0.6"), (0, "0.7")),
            ),
            metadata=billing.staff(everywhere=True),
        )
    assert code_of(caught) == grpc.StatusCode.INVALID_ARGUMENT


def test_a_month_spanning_a_new_version_is_prorated_and_the_client_agrees(
    billing: BillingServer,
) -> None:
    staff = billing.staff(everywhere=True)
    billing.admin.CreateTariff(
        admin_pb2.CreateTariffRequest(
            tariff_id="pilot",
            tariff=tariff_pb2.Tariff(
                display_name="试点电价", customer_category=tariff_pb2.CUSTOMER_CATEGORY_RESIDENTIAL
            ),
        ),
        metadata=staff,
    )
    create_and_publish(
        billing, "2024-01-01", draft((2024, 1, 1), (170_000, "0.4556"), (0, "0.7556"))
    )
    create_and_publish(billing, "2024-02-11", draft((2024, 2, 11), (200_000, "0.5"), (0, "0.8")))
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001", tariff="pilot")), metadata=billing.service()
    )
    start = [datetime(2024, m, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC) for m in (2, 3)]
    billing.internal.BatchUpsertMeterReadings(
        readings_request(
            reading("3100000001", "M1", "feb", start[0], 0),
            reading("3100000001", "M1", "mar", start[1], 290 * KWH),
        ),
        metadata=billing.service(),
    )
    bill = billing.billing.GetBill(
        service_pb2.GetBillRequest(name="customers/3100000001/bills/2024-02"),
        metadata=billing.customer("3100000001"),
    )
    # 10 of February's 29 days under the old version: 100 kWh; 19 days: 190 kWh.
    assert [(line.tier, line.energy_wh, line.unit_price.value) for line in bill.lines] == [
        (1, 58_621, "0.4556"),
        (2, 41_379, "0.7556"),
        (1, 131_034, "0.5"),
        (2, 58_966, "0.8"),
    ]
    assert bill.tariff_version == "tariffs/pilot/versions/2024-02-11"
    tariff = json_format.MessageToDict(
        billing.billing.GetTariff(service_pb2.GetTariffRequest(name="tariffs/pilot")),
        always_print_fields_with_no_presence=True,
    )
    computed = compute_bill(tariff, "2024-02", bill.energy_wh)
    assert computed.amount_fen == bill.amount_fen
    assert [(line.tier, line.energy_wh, line.amount_fen) for line in computed.lines] == [
        (line.tier, line.energy_wh, line.amount_fen) for line in bill.lines
    ]
    # February is billed: a version starting inside it can no longer be published.
    billing.admin.CreateTariffVersion(
        admin_pb2.CreateTariffVersionRequest(
            parent="tariffs/pilot",
            tariff_version_id="2024-02-20",
            tariff_version=draft((2024, 2, 20), (0, "0.6")),
        ),
        metadata=staff,
    )
    with pytest.raises(grpc.RpcError) as caught:
        billing.admin.PublishTariffVersion(
            admin_pb2.PublishTariffVersionRequest(name="tariffs/pilot/versions/2024-02-20"),
            metadata=staff,
        )
    assert code_of(caught) == grpc.StatusCode.FAILED_PRECONDITION
    versions = billing.admin.ListTariffVersions(
        admin_pb2.ListTariffVersionsRequest(parent="tariffs/pilot"), metadata=staff
    ).tariff_versions
    assert [v.name.rsplit("/", 1)[1] for v in versions] == [
        "2024-02-20",
        "2024-02-11",
        "2024-01-01",
    ]
    assert versions[2].end_date.day == 11


def adjust(
    billing: BillingServer, kind: int, amount: int, request_id: str, **extra: str
) -> payment_pb2.Adjustment:
    return billing.admin.CreateAdjustment(
        admin_pb2.CreateAdjustmentRequest(
            parent="customers/3100000001",
            adjustment=payment_pb2.Adjustment(kind=kind, amount_fen=amount, reason="测试", **extra),  # type: ignore[arg-type]
            request_id=request_id,
        ),
        metadata=billing.staff("QJ-QL"),
    )


def test_adjustments_are_booked_once_per_request(billing: BillingServer) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001")), metadata=billing.service()
    )
    request_id = str(uuid.uuid4())
    first = adjust(billing, payment_pb2.ADJUSTMENT_KIND_CREDIT, 5_000, request_id)
    again = adjust(billing, payment_pb2.ADJUSTMENT_KIND_CREDIT, 5_000, request_id)
    assert first == again
    with pytest.raises(grpc.RpcError) as caught:
        adjust(billing, payment_pb2.ADJUSTMENT_KIND_CREDIT, 6_000, request_id)
    assert code_of(caught) == grpc.StatusCode.ABORTED
    assert "IDEMPOTENCY_KEY_REUSED" in str(caught.value.trailing_metadata())
    adjust(billing, payment_pb2.ADJUSTMENT_KIND_DEBIT, 1_200, str(uuid.uuid4()))
    with pytest.raises(grpc.RpcError) as too_much:
        adjust(
            billing,
            payment_pb2.ADJUSTMENT_KIND_BALANCE_REFUND,
            4_000,
            str(uuid.uuid4()),
            payee_name="张三明",
            payee_bank="中国建设银行",
            payee_account="6217000012345678",
        )
    assert code_of(too_much) == grpc.StatusCode.FAILED_PRECONDITION
    refund = adjust(
        billing,
        payment_pb2.ADJUSTMENT_KIND_BALANCE_REFUND,
        3_800,
        str(uuid.uuid4()),
        payee_name="张三明",
        payee_bank="中国建设银行",
        payee_account="6217000012345678",
    )
    assert refund.payee_account == "************5678"
    assert (
        billing.admin.GetAdjustment(
            admin_pb2.GetAdjustmentRequest(name=refund.name), metadata=billing.staff("QJ-QL")
        )
        == refund
    )
    entries = billing.admin.ListLedgerEntries(
        admin_pb2.ListLedgerEntriesRequest(parent="customers/3100000001"),
        metadata=billing.staff("QJ-QL"),
    ).ledger_entries
    assert [(e.kind, e.amount_fen, e.net_balance_after_fen) for e in entries] == [
        (payment_pb2.LEDGER_ENTRY_KIND_BALANCE_REFUND, -3_800, 0),
        (payment_pb2.LEDGER_ENTRY_KIND_ADJUSTMENT, -1_200, 3_800),
        (payment_pb2.LEDGER_ENTRY_KIND_ADJUSTMENT, 5_000, 5_000),
    ]
    assert entries[2].name == first.ledger_entry
    with pytest.raises(grpc.RpcError) as out_of_scope:
        billing.admin.ListLedgerEntries(
            admin_pb2.ListLedgerEntriesRequest(parent="customers/3100000001"),
            metadata=billing.staff("QJ-ZY"),
        )
    assert code_of(out_of_scope) == grpc.StatusCode.PERMISSION_DENIED
