"""Service outlets over gRPC: nearest first with haversine distances, by name without a
point, pagination, the service filter, and editors' create / update / delete."""

from __future__ import annotations

from typing import Any

from google.protobuf import field_mask_pb2
from google.type import dayofweek_pb2, latlng_pb2, timeofday_pb2

from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import resources_pb2 as res
from servers.care.geo import haversine_meters
from servers.runtime import InvalidArgument
from tests.care.support import TICK, CareServer, fails

ORIGIN = (25.09, 104.89)
# Arc lengths along the meridian through ORIGIN: R·Δφ with R = 6,371,008.8 m (the mean
# Earth radius), i.e. 111,195.08 m per degree of latitude.
NORTH_1112 = (25.10, 104.89)  # 0.01° north: 1,111.95 m
SOUTH_2224 = (25.07, 104.89)  # 0.02° south: 2,223.90 m
NORTH_5560 = (25.14, 104.89)  # 0.05° north: 5,559.75 m


def outlet(
    name: str, at: tuple[float, float], *services: res.OutletService.ValueType, **fields: Any
) -> res.Outlet:
    return res.Outlet(
        display_name=name,
        address=f"兴义市{name}路1号",
        location=latlng_pb2.LatLng(latitude=at[0], longitude=at[1]),
        services=services or [res.OUTLET_SERVICE_BILL_PAYMENT],
        **fields,
    )


def create(care: CareServer, item: res.Outlet) -> res.Outlet:
    return care.stub.CreateOutlet(pb.CreateOutletRequest(outlet=item), metadata=care.editor())


def listed(care: CareServer, **request: Any) -> pb.ListOutletsResponse:
    return care.stub.ListOutlets(pb.ListOutletsRequest(**request))


def test_haversine_matches_a_published_reference() -> None:
    # Nashville (BNA) to Los Angeles (LAX): 2,887.2599506 km on a sphere of 6,372.8 km
    # (the Rosetta Code reference); distances scale with the radius.
    expected = 2_887_259.9506071106 * 6_371_008.8 / 6_372_800
    assert abs(haversine_meters(36.12, -86.67, 33.94, -118.40) - expected) < 0.01


def test_nearest_first_with_whole_metre_distances(care: CareServer) -> None:
    create(care, outlet("远", NORTH_5560))
    create(care, outlet("近", NORTH_1112))
    create(care, outlet("中", SOUTH_2224))
    found = listed(care, latitude=ORIGIN[0], longitude=ORIGIN[1]).outlets
    assert [o.display_name for o in found] == ["近", "中", "远"]
    assert [o.distance_meters for o in found] == [1112, 2224, 5560]


def test_without_a_point_ordered_by_name_and_no_distance(care: CareServer) -> None:
    for name in ("桔山营业厅", "Airport", "顶效营业厅", "瑞金营业厅"):
        create(care, outlet(name, NORTH_1112))
    found = listed(care).outlets
    names = [o.display_name for o in found]
    assert names == sorted(names)
    assert not any(o.HasField("distance_meters") for o in found)


def test_pages_walk_every_outlet_once_in_order(care: CareServer) -> None:
    for k in range(7):
        create(care, outlet(f"营业厅{k}", (ORIGIN[0] + 0.01 * (k + 1), ORIGIN[1])))
    point = {"latitude": ORIGIN[0], "longitude": ORIGIN[1]}
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = listed(care, page_size=3, page_token=token, **point)
        seen += [o.display_name for o in page.outlets]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [f"营业厅{k}" for k in range(7)]


def test_a_token_is_refused_with_another_point(care: CareServer) -> None:
    for k in range(3):
        create(care, outlet(f"营业厅{k}", NORTH_1112))
    first = listed(care, page_size=1, latitude=ORIGIN[0], longitude=ORIGIN[1])
    error = fails(
        lambda: listed(
            care, page_size=1, page_token=first.next_page_token, latitude=25.0, longitude=104.0
        )
    )
    assert isinstance(error, InvalidArgument)
    assert error.field_violations[0].field == "pageToken"


def test_latitude_needs_longitude(care: CareServer) -> None:
    error = fails(lambda: listed(care, latitude=ORIGIN[0]))
    assert error.reason == "INVALID_ARGUMENT"


def test_service_filter_keeps_outlets_offering_it(care: CareServer) -> None:
    create(care, outlet("缴费点", NORTH_1112, res.OUTLET_SERVICE_BILL_PAYMENT))
    create(
        care,
        outlet(
            "业扩窗口",
            SOUTH_2224,
            res.OUTLET_SERVICE_NEW_CONNECTION,
            res.OUTLET_SERVICE_CAPACITY_CHANGE,
        ),
    )
    found = listed(care, service=res.OUTLET_SERVICE_NEW_CONNECTION).outlets
    assert [o.display_name for o in found] == ["业扩窗口"]


def test_created_outlet_is_read_back_whole(care: CareServer) -> None:
    hours = [
        res.OpeningPeriod(
            day=dayofweek_pb2.MONDAY,
            open_time=timeofday_pb2.TimeOfDay(hours=8, minutes=30),
            close_time=timeofday_pb2.TimeOfDay(hours=17, minutes=30),
        )
    ]
    made = create(
        care,
        outlet(
            "瑞金南路营业厅",
            NORTH_1112,
            res.OUTLET_SERVICE_BILL_PAYMENT,
            res.OUTLET_SERVICE_METER_SERVICE,
            phone="0859-3221095",
            opening_hours=hours,
            hours_note="法定节假日照常营业",
            supply_office="XY-CQ",
        ),
    )
    assert made.name.startswith("outlets/")
    got = care.stub.GetOutlet(pb.GetOutletRequest(name=made.name))
    assert got == made
    assert got.opening_hours == hours
    assert list(got.services) == [
        res.OUTLET_SERVICE_BILL_PAYMENT,
        res.OUTLET_SERVICE_METER_SERVICE,
    ]
    assert got.create_time.ToDatetime() == care.clock.now().replace(tzinfo=None)


def test_update_changes_only_the_masked_fields(care: CareServer) -> None:
    made = create(care, outlet("旧名", NORTH_1112, phone="0859-3000000"))
    care.clock.advance(TICK)
    change = res.Outlet(name=made.name, display_name="新名", phone="0859-3111111")
    updated = care.stub.UpdateOutlet(
        pb.UpdateOutletRequest(
            outlet=change, update_mask=field_mask_pb2.FieldMask(paths=["phone"])
        ),
        metadata=care.editor(),
    )
    assert (updated.display_name, updated.phone) == ("旧名", "0859-3111111")
    assert updated.update_time.ToDatetime() > made.update_time.ToDatetime()
    assert updated.etag != made.etag


def test_update_without_a_mask_changes_the_fields_sent(care: CareServer) -> None:
    made = create(care, outlet("旧名", NORTH_1112, hours_note="周日休息"))
    change = res.Outlet(name=made.name, location=latlng_pb2.LatLng(latitude=25.2, longitude=104.9))
    updated = care.stub.UpdateOutlet(pb.UpdateOutletRequest(outlet=change), metadata=care.editor())
    assert (updated.location.latitude, updated.hours_note) == (25.2, "周日休息")


def test_a_stale_etag_aborts_update_and_delete(care: CareServer) -> None:
    made = create(care, outlet("营业厅", NORTH_1112))
    care.stub.UpdateOutlet(
        pb.UpdateOutletRequest(outlet=res.Outlet(name=made.name, phone="0859-3222222")),
        metadata=care.editor(),
    )
    stale = res.Outlet(name=made.name, phone="0859-3333333", etag=made.etag)
    error = fails(
        lambda: care.stub.UpdateOutlet(pb.UpdateOutletRequest(outlet=stale), metadata=care.editor())
    )
    assert (error.code.name, error.reason) == ("ABORTED", "FAILED_PRECONDITION")
    error = fails(
        lambda: care.stub.DeleteOutlet(
            pb.DeleteOutletRequest(name=made.name, etag=made.etag), metadata=care.editor()
        )
    )
    assert error.code.name == "ABORTED"


def test_deleted_outlet_is_gone(care: CareServer) -> None:
    made = create(care, outlet("营业厅", NORTH_1112))
    care.stub.DeleteOutlet(
        pb.DeleteOutletRequest(name=made.name, etag=made.etag), metadata=care.editor()
    )
    assert fails(lambda: care.stub.GetOutlet(pb.GetOutletRequest(name=made.name))).reason == (
        "NOT_FOUND"
    )
    assert listed(care).outlets == []


def test_only_editors_write_outlets(care: CareServer) -> None:
    request = pb.CreateOutletRequest(outlet=outlet("营业厅", NORTH_1112))
    denied = fails(lambda: care.stub.CreateOutlet(request, metadata=care.customer()))
    assert denied.reason == "PERMISSION_DENIED"
    anonymous = fails(lambda: care.stub.CreateOutlet(request))
    assert anonymous.code.name == "UNAUTHENTICATED"
