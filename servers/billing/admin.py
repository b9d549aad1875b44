"""Billing RPCs for staff (BillingAdminService): customers in their offices, tariff
versions, the ledger and manual adjustments. Refunds and reconciliation are in
servers.billing.payments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import grpc
from google.protobuf import empty_pb2
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_admin_service_pb2 as admin_pb2
from palmgrid.billing.v1 import payment_pb2, resources_pb2, tariff_pb2
from palmgrid.type.v1 import identity_pb2
from palmlib.masking import mask_message
from servers.billing import adjustments, archive
from servers.billing.changes import customer_data_changed
from servers.billing.config import BillingConfig
from servers.billing.models import (
    Adjustment,
    Bill,
    Customer,
    LedgerEntry,
    Tariff,
    TariffVersion,
)
from servers.billing.months import cst_date
from servers.billing.resources import ledger_entry_resource
from servers.billing.schedule import Schedule, ScheduleError
from servers.billing.scope import authorize_customer
from servers.billing.tariff_catalog import DRAFT, PUBLISHED
from servers.billing.tariff_resources import schedule_mapping, tariff_resource, version_resource
from servers.runtime import (
    AlreadyExists,
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Runtime,
    paging,
    require_principal,
    require_supply_office_scope,
)
from servers.runtime.ids import resource_ids
from servers.runtime.protoconv import from_date_message, from_timestamp


class AdminMethods:
    """Method group mixed into a billing servicer; `self.runtime` is the service Runtime."""

    runtime: Runtime
    config: BillingConfig
    clock: Clock

    # -- customers ---------------------------------------------------------------------

    def ListCustomers(
        self, request: admin_pb2.ListCustomersRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListCustomersResponse:
        principal = require_principal()
        query = select(Customer)
        if request.supply_office:
            require_supply_office_scope(principal, request.supply_office)
            query = query.where(Customer.supply_office == request.supply_office)
        elif not principal.all_supply_offices:
            if principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER:
                require_supply_office_scope(principal, None)  # customers have no offices
            query = query.where(col(Customer.supply_office).in_(list(principal.supply_offices)))
        if request.area_code:
            query = query.where(Customer.area_code == request.area_code)
        if request.state:
            state = resources_pb2.CustomerState.Name(request.state).removeprefix("CUSTOMER_STATE_")
            query = query.where(Customer.state == state)
        filters = [request.supply_office, request.area_code, int(request.state)]
        after = paging.decode_token(request.page_token, filters, types=(str,))
        if after is not None:
            query = query.where(col(Customer.id) > after[0])
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            rows = session.exec(query.order_by(col(Customer.id)).limit(size + 1)).all()
            token = paging.next_page_token(rows, size, lambda row: [row.id], filters)
            rows = rows[:size]
            meters = archive.meters_of(session, [r.id for r in rows])
        customers = [archive.customer_resource(r, meters[r.id]) for r in rows]
        for customer in customers:
            mask_message(customer)
        return admin_pb2.ListCustomersResponse(
            customers=customers,
            next_page_token=token,
        )

    # -- tariffs -----------------------------------------------------------------------

    def CreateTariff(
        self, request: admin_pb2.CreateTariffRequest, context: grpc.ServicerContext
    ) -> tariff_pb2.Tariff:
        now = self.clock.now()
        category = tariff_pb2.CustomerCategory.Name(request.tariff.customer_category)
        row = Tariff(
            id=request.tariff_id,
            display_name=request.tariff.display_name,
            description=request.tariff.description,
            customer_category=category.removeprefix("CUSTOMER_CATEGORY_"),
            create_time=now,
            update_time=now,
        )
        try:
            with self.runtime.session(write=True) as session:
                if session.get(Tariff, request.tariff_id) is not None:
                    raise AlreadyExists(f"tariffs/{request.tariff_id} already exists")
                session.add(row)
        except IntegrityError as error:
            raise AlreadyExists(f"tariffs/{request.tariff_id} already exists") from error
        return tariff_resource(row, [], cst_date(now))

    def ListTariffVersions(
        self, request: admin_pb2.ListTariffVersionsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListTariffVersionsResponse:
        tariff_id = resource_ids(request.parent)[0]
        after = paging.decode_token(request.page_token, [request.parent], types=(str, str))
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            if session.get(Tariff, tariff_id) is None:
                raise NotFound(f"{request.parent} not found")
            found = session.exec(
                select(TariffVersion).where(TariffVersion.tariff_id == tariff_id)
            ).all()
        # A tariff has a handful of versions, and each one's end is the next one's start:
        # all are read, ordered (newest effective date first) and paged here.
        rows = sorted(found, key=_version_key, reverse=True)
        ends = _end_dates(rows)
        rest = [r for r in rows if after is None or _version_key(r) < after]
        return admin_pb2.ListTariffVersionsResponse(
            tariff_versions=[version_resource(r, ends.get(r.id)) for r in rest[:size]],
            next_page_token=paging.next_page_token(rest, size, _version_key, [request.parent]),
        )

    def GetTariffVersion(
        self, request: admin_pb2.GetTariffVersionRequest, context: grpc.ServicerContext
    ) -> tariff_pb2.TariffVersion:
        tariff_id, version_id = resource_ids(request.name)
        with self.runtime.session() as session:
            rows = session.exec(
                select(TariffVersion).where(TariffVersion.tariff_id == tariff_id)
            ).all()
        row = next((r for r in rows if r.id == version_id), None)
        if row is None:
            raise NotFound(f"{request.name} not found")
        return version_resource(row, _end_dates(rows).get(row.id))

    def CreateTariffVersion(
        self, request: admin_pb2.CreateTariffVersionRequest, context: grpc.ServicerContext
    ) -> tariff_pb2.TariffVersion:
        principal = require_principal()
        tariff_id = resource_ids(request.parent)[0]
        draft = request.tariff_version
        try:
            schedule = Schedule.from_mapping(schedule_mapping(draft))
            effective = from_date_message(draft.effective_date)
        except (ScheduleError, ValueError) as error:
            raise InvalidArgument(
                f"invalid tariff version: {error}",
                field_violations=[FieldViolation("tariffVersion", str(error))],
            ) from error
        if effective is None:
            raise InvalidArgument(
                "invalid tariff version: effectiveDate is required",
                field_violations=[FieldViolation("tariffVersion.effectiveDate", "required")],
            )
        now = self.clock.now()
        row = TariffVersion(
            tariff_id=tariff_id,
            id=request.tariff_version_id,
            state=DRAFT,
            effective_date=effective,
            schedule=schedule.to_json(),
            description=draft.description,
            create_time=now,
            creator=principal.user,
        )
        name = f"{request.parent}/versions/{request.tariff_version_id}"
        try:
            with self.runtime.session(write=True) as session:
                if session.get(Tariff, tariff_id) is None:
                    raise NotFound(f"{request.parent} not found")
                if session.get(TariffVersion, (tariff_id, request.tariff_version_id)):
                    raise AlreadyExists(f"{name} already exists")
                session.add(row)
        except IntegrityError as error:
            raise AlreadyExists(f"{name} already exists") from error
        return version_resource(row)

    def DeleteTariffVersion(
        self, request: admin_pb2.DeleteTariffVersionRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        tariff_id, version_id = resource_ids(request.name)
        with self.runtime.session(write=True) as session:
            row = session.get(TariffVersion, (tariff_id, version_id))
            if row is None:
                raise NotFound(f"{request.name} not found")
            if row.state == PUBLISHED:
                raise FailedPrecondition(f"{request.name} is published and cannot be deleted")
            session.delete(row)
        return empty_pb2.Empty()

    def PublishTariffVersion(
        self, request: admin_pb2.PublishTariffVersionRequest, context: grpc.ServicerContext
    ) -> tariff_pb2.TariffVersion:
        principal = require_principal()
        tariff_id, version_id = resource_ids(request.name)
        with self.runtime.session(write=True) as session:
            row = session.get(TariffVersion, (tariff_id, version_id))
            if row is None:
                raise NotFound(f"{request.name} not found")
            if row.state != PUBLISHED:
                self._check_publishable(session, row)
                row.state = PUBLISHED
                row.publish_time = self.clock.now()
                row.publisher = principal.user
                session.add(row)
                tariff = session.get(Tariff, tariff_id)
                if tariff is not None:
                    tariff.update_time = row.publish_time
                    session.add(tariff)
            rows = session.exec(
                select(TariffVersion).where(TariffVersion.tariff_id == tariff_id)
            ).all()
        return version_resource(row, _end_dates(rows).get(row.id))

    @staticmethod
    def _check_publishable(session: Session, row: TariffVersion) -> None:
        clash = session.exec(
            select(TariffVersion.id).where(
                TariffVersion.tariff_id == row.tariff_id,
                TariffVersion.state == PUBLISHED,
                TariffVersion.effective_date == row.effective_date,
            )
        ).first()
        if clash is not None:
            raise FailedPrecondition(
                f"tariffs/{row.tariff_id}/versions/{clash} takes effect on the same day"
            )
        # Issued bills are never silently repriced: a new version may only start after
        # the last billed period of any customer on the tariff.
        last_billed = session.exec(
            select(func.max(Bill.period_end_date))
            .join(Customer, col(Customer.id) == col(Bill.customer_id))
            .where(Customer.tariff == row.tariff_id)
        ).one()
        if last_billed is not None and row.effective_date <= last_billed:
            raise FailedPrecondition(
                f"the effective date must be after {last_billed.isoformat()}, the end of the "
                "last billed period on this tariff"
            )

    # -- ledger and adjustments ------------------------------------------------------------

    def ListLedgerEntries(
        self, request: admin_pb2.ListLedgerEntriesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ListLedgerEntriesResponse:
        customer_id = resource_ids(request.parent)[0]
        filters = [
            request.parent,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        ]
        before = paging.decode_token(request.page_token, filters, types=(int,))
        query = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
        if request.HasField("start_time"):
            query = query.where(LedgerEntry.create_time >= from_timestamp(request.start_time))
        if request.HasField("end_time"):
            query = query.where(LedgerEntry.create_time < from_timestamp(request.end_time))
        if before is not None:
            query = query.where(col(LedgerEntry.id) < before[0])
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            authorize_customer(session, customer_id)
            rows = session.exec(query.order_by(col(LedgerEntry.id).desc()).limit(size + 1)).all()
        return admin_pb2.ListLedgerEntriesResponse(
            ledger_entries=[ledger_entry_resource(r) for r in rows[:size]],
            next_page_token=paging.next_page_token(rows, size, lambda r: [r.id], filters),
        )

    def CreateAdjustment(
        self, request: admin_pb2.CreateAdjustmentRequest, context: grpc.ServicerContext
    ) -> payment_pb2.Adjustment:
        principal = require_principal()
        customer_id = resource_ids(request.parent)[0]
        if request.adjustment.bill and not request.adjustment.bill.startswith(
            f"{request.parent}/bills/"
        ):
            raise InvalidArgument(
                "invalid adjustment: bill must be a bill of this customer",
                field_violations=[FieldViolation("adjustment.bill", "not a bill of the customer")],
            )
        with self.runtime.session(write=True) as session:
            authorize_customer(session, customer_id)
            row = adjustments.create_adjustment(
                session,
                customer_id,
                request.adjustment,
                request_id=request.request_id,
                creator=principal.user,
                now=self.clock.now(),
            )
        customer_data_changed([customer_id])
        return adjustments.adjustment_resource(row)

    def GetAdjustment(
        self, request: admin_pb2.GetAdjustmentRequest, context: grpc.ServicerContext
    ) -> payment_pb2.Adjustment:
        customer_id, adjustment_id = resource_ids(request.name)
        with self.runtime.session() as session:
            authorize_customer(session, customer_id)
            row = session.get(Adjustment, adjustment_id)
        if row is None or row.customer_id != customer_id:
            raise NotFound(f"{request.name} not found")
        return adjustments.adjustment_resource(row)


def _version_key(row: TariffVersion) -> list[str]:
    """ListTariffVersions' sort key: effective date (ISO), then id."""
    return [row.effective_date.isoformat(), row.id]


def _end_dates(rows: Sequence[TariffVersion]) -> dict[str, date]:
    """Each published version's end date: the next published version's effective date."""
    published = sorted((r for r in rows if r.state == PUBLISHED), key=lambda r: r.effective_date)
    return {
        row.id: published[i + 1].effective_date
        for i, row in enumerate(published)
        if i + 1 < len(published)
    }
