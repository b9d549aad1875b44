"""The outlet methods of CareService: public reads, and writes for content editors.

Access (public reads; `care.outlets.*` for writes) and auditing come from the methods'
declared options and are enforced by the runtime (which writes each write's audit
record, naming the outlet); these methods hold the logic.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2
from sqlmodel import Session, select

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from servers.care import outlet_listing
from servers.care.models import OutletRow
from servers.care.outlet_resources import (
    UPDATABLE,
    apply_fields,
    outlet_id,
    outlet_name,
    outlet_resource,
    service_name,
)
from servers.runtime import Clock, NotFound, Runtime, paging
from servers.runtime.etags import check_etag
from servers.runtime.idempotency import insert_once
from servers.runtime.ids import new_id
from servers.runtime.update_masks import fields_to_update


def _get_row(session: Session, name: str, *, for_update: bool = False) -> OutletRow:
    row = session.get(OutletRow, outlet_id(name), with_for_update=for_update)
    if row is None:
        raise NotFound(f"{name} not found")
    return row


class OutletMethods:
    """ListOutlets, GetOutlet, CreateOutlet, UpdateOutlet, DeleteOutlet."""

    runtime: Runtime
    clock: Clock

    def ListOutlets(
        self, request: care_service_pb2.ListOutletsRequest, context: Any
    ) -> care_service_pb2.ListOutletsResponse:
        point = (
            outlet_listing.Point(request.latitude, request.longitude)
            if request.HasField("latitude")
            else None
        )
        service = service_name(request.service) if request.service else None
        filters = [
            None if point is None else [point.latitude, point.longitude],
            service,
        ]
        after = paging.decode_token(
            request.page_token, filters, types=(str if point is None else int, str)
        )
        with self.runtime.session() as session:
            rows = session.exec(select(OutletRow)).all()
        items = outlet_listing.ordered(rows, point, service=service)
        page, next_key = outlet_listing.page_after(
            items,
            None if after is None else (after[0], after[1]),
            paging.page_size(request.page_size),
        )
        return care_service_pb2.ListOutletsResponse(
            outlets=[outlet_resource(p.row, p.distance_meters) for p in page],
            next_page_token="" if next_key is None else paging.encode_token(next_key, filters),
        )

    def GetOutlet(
        self, request: care_service_pb2.GetOutletRequest, context: Any
    ) -> resources_pb2.Outlet:
        with self.runtime.session() as session:
            return outlet_resource(_get_row(session, request.name))

    def CreateOutlet(
        self, request: care_service_pb2.CreateOutletRequest, context: Any
    ) -> resources_pb2.Outlet:
        now = self.clock.now()
        # Placeholders for the required columns: every updatable field, required ones
        # included (the request rules checked them), is copied from the request below.
        row = OutletRow(
            id=new_id(),
            display_name="",
            address="",
            latitude=0.0,
            longitude=0.0,
            create_time=now,
            update_time=now,
        )
        apply_fields(row, request.outlet, UPDATABLE)
        return insert_once(
            self.runtime, request, row, resource=outlet_resource, find=_get_row, clock=self.clock
        )

    def UpdateOutlet(
        self, request: care_service_pb2.UpdateOutletRequest, context: Any
    ) -> resources_pb2.Outlet:
        change = request.outlet
        fields = fields_to_update(request.update_mask, change, UPDATABLE)
        with self.runtime.session(write=True) as session:
            row = _get_row(session, change.name, for_update=True)
            check_etag(change.etag, change.name, row.version)
            if fields:
                apply_fields(row, change, fields)
                row.version += 1
                row.update_time = self.clock.now()
                session.add(row)
                session.flush()
            return outlet_resource(row)

    def DeleteOutlet(
        self, request: care_service_pb2.DeleteOutletRequest, context: Any
    ) -> empty_pb2.Empty:
        with self.runtime.session(write=True) as session:
            row = _get_row(session, request.name, for_update=True)
            check_etag(request.etag, outlet_name(row.id), row.version)
            session.delete(row)
        return empty_pb2.Empty()
