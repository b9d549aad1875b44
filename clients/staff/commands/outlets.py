"""`palm outlets`: the service outlets (营业厅) the app shows, their hours and services."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import typer
from google.protobuf import field_mask_pb2
from google.type import latlng_pb2, timeofday_pb2

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.care.v1.resources_pb2 import OpeningPeriod, Outlet, OutletService

group = typer.Typer(
    name="outlets", help="Service outlets: where, when open, what they do.", no_args_is_help=True
)
STUB = care_service_pb2_grpc.CareServiceStub
OutletName = Annotated[str, typer.Argument(help="the outlet, `outlets/ID` or ID")]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # google.type.DayOfWeek 1..7
HOURS = re.compile(r"^(\w{3})(?:-(\w{3}))? (\d\d):(\d\d)-(\d\d):(\d\d)$")
SERVICES = [
    name.removeprefix("OUTLET_SERVICE_").lower().replace("_", "-")
    for name in OutletService.DESCRIPTOR.values_by_name
    if not name.endswith("UNSPECIFIED")
]
Hours = Annotated[
    list[str] | None,
    typer.Option("--hours", help='opening hours, e.g. "mon-fri 08:30-17:30" (repeatable)'),
]
Services = Annotated[
    list[str] | None,
    typer.Option("--service", help=f"a service offered (repeatable): {', '.join(SERVICES)}"),
]


def parse_hours(texts: list[str]) -> list[OpeningPeriod]:
    """ "mon-fri 08:30-17:30" -> one period per day, in China Standard Time."""
    periods: list[OpeningPeriod] = []
    for text in texts:
        match = HOURS.match(text.strip().lower())
        if not match or match[1] not in DAYS or (match[2] or match[1]) not in DAYS:
            raise typer.BadParameter(
                f"{text!r}: write it as mon-fri 08:30-17:30", param_hint="--hours"
            )
        first, last = DAYS.index(match[1]), DAYS.index(match[2] or match[1])
        opens = timeofday_pb2.TimeOfDay(hours=int(match[3]), minutes=int(match[4]))
        closes = timeofday_pb2.TimeOfDay(hours=int(match[5]), minutes=int(match[6]))
        periods.extend(
            OpeningPeriod(day=day + 1, open_time=opens, close_time=closes)  # type: ignore[arg-type]
            for day in range(first, last + 1)
        )
    return periods


def parse_services(names: list[str]) -> list[OutletService.ValueType]:
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown {unknown}; one of {SERVICES}", param_hint="--service")
    return [OutletService.Value("OUTLET_SERVICE_" + n.upper().replace("-", "_")) for n in names]


def hours_text(outlet: Outlet) -> str:
    """The opening hours as `--hours` takes them, following days with the same hours
    joined: "mon-fri 08:30-17:30, sat 09:00-12:00"."""
    runs: list[tuple[int, int, str]] = []  # first day, last day, hours
    for p in sorted(outlet.opening_hours, key=lambda p: p.day):
        span = (
            f"{p.open_time.hours:02d}:{p.open_time.minutes:02d}-"
            f"{p.close_time.hours:02d}:{p.close_time.minutes:02d}"
        )
        if runs and runs[-1][1] == p.day - 1 and runs[-1][2] == span:
            runs[-1] = (runs[-1][0], p.day, span)
        else:
            runs.append((p.day, p.day, span))
    return ", ".join(
        (DAYS[first - 1] if first == last else f"{DAYS[first - 1]}-{DAYS[last - 1]}") + " " + span
        for first, last, span in runs
    )


def services_text(outlet: Outlet) -> str:
    return ", ".join(
        output.enum_label(OutletService.Name(s), "OUTLET_SERVICE_") for s in outlet.services
    )


def outlet_panel(o: Outlet) -> object:
    return output.fields(
        o.name,
        [
            ("name", o.display_name),
            ("address", o.address),
            ("location", f"{o.location.latitude:.5f}, {o.location.longitude:.5f}"),
            ("phone", o.phone),
            ("hours", hours_text(o)),
            ("hours note", o.hours_note),
            ("services", services_text(o)),
            ("supply office", o.supply_office),
        ],
    )


@group.command("list")
def list_outlets(
    near: Annotated[
        str, typer.Option("--near", help="LAT,LON: nearest first, with distances")
    ] = "",
    service: Annotated[str, typer.Option("--service", help="only outlets offering it")] = "",
    limit: output.Limit = 20,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List outlets, nearest first when `--near` is given.

    Example: `palm outlets list --near 25.09,104.89 --service bill-payment`
    """
    request = pb.ListOutletsRequest(page_size=limit, page_token=page_token)
    if near:
        try:
            latitude, longitude = (float(part) for part in near.split(","))
        except ValueError:
            raise typer.BadParameter(f"{near!r} is not LAT,LON", param_hint="--near") from None
        request.latitude, request.longitude = latitude, longitude
    if service:
        request.service = parse_services([service])[0]
    reply: pb.ListOutletsResponse = call("care", STUB, "ListOutlets", request)
    rows = [
        (
            o.name.removeprefix("outlets/"),
            o.display_name,
            f"{o.distance_meters:,} m" if near else "",
            o.address,
            o.phone,
        )
        for o in reply.outlets
    ]
    columns = ["outlet", "name", "distance", "address", "phone"]
    output.show_page(reply, as_json, "outlets", columns, rows, timed=False)


@group.command()
def show(outlet: OutletName, as_json: output.JsonFlag = False) -> None:
    """Show one outlet with its hours and services.

    Example: `palm outlets show qilin-main`
    """
    request = pb.GetOutletRequest(name=output.resource("outlets", outlet))
    found: Outlet = call("care", STUB, "GetOutlet", request)
    output.show(found, as_json, lambda: outlet_panel(found))


@group.command()
def create(
    display_name: Annotated[str, typer.Option("--name", help="e.g. 麒麟营业厅")],
    address: Annotated[str, typer.Option("--address")],
    latitude: Annotated[float, typer.Option("--lat", min=-90, max=90)],
    longitude: Annotated[float, typer.Option("--lon", min=-180, max=180)],
    office: Annotated[str, typer.Option("--office", help="its supply office")],
    phone: Annotated[str, typer.Option("--phone")] = "",
    hours: Hours = None,
    hours_note: Annotated[str, typer.Option("--hours-note", help="e.g. closed on holidays")] = "",
    service: Services = None,
    as_json: output.JsonFlag = False,
) -> None:
    """Add an outlet.

    Example: `palm outlets create --name 麒麟营业厅 --address "麒麟南路2号" --lat 25.49
    --lon 103.80 --office QJ-QL --hours "mon-fri 08:30-17:30" --service bill-payment`
    """
    outlet = Outlet(
        display_name=display_name,
        address=address,
        location=latlng_pb2.LatLng(latitude=latitude, longitude=longitude),
        phone=phone,
        opening_hours=parse_hours(hours or []),
        hours_note=hours_note,
        services=parse_services(service or []),
        supply_office=office,
    )
    request = pb.CreateOutletRequest(outlet=outlet, request_id=str(uuid.uuid4()))
    created: Outlet = call("care", STUB, "CreateOutlet", request)
    output.show(created, as_json, lambda: outlet_panel(created))


@group.command()
def change(
    outlet: OutletName,
    phone: Annotated[str, typer.Option("--phone")] = "",
    hours: Hours = None,
    hours_note: Annotated[str, typer.Option("--hours-note")] = "",
    service: Services = None,
    as_json: output.JsonFlag = False,
) -> None:
    """Change an outlet's phone, hours or services (only what is given; `--hours`
    and `--service` replace the whole list).

    Example: `palm outlets change ID --hours "mon-sat 08:30-18:00" --hours-note 节假日休息`
    """
    changed = Outlet(name=output.resource("outlets", outlet))
    paths: list[str] = []
    if phone:
        changed.phone, paths = phone, [*paths, "phone"]
    if hours:
        changed.opening_hours.extend(parse_hours(hours))
        paths.append("opening_hours")
    if hours_note:
        changed.hours_note, paths = hours_note, [*paths, "hours_note"]
    if service:
        changed.services.extend(parse_services(service))
        paths.append("services")
    if not paths:
        raise typer.BadParameter("nothing to change: give at least one option")
    request = pb.UpdateOutletRequest(
        outlet=changed, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    updated: Outlet = call("care", STUB, "UpdateOutlet", request)
    output.show(updated, as_json, lambda: outlet_panel(updated))


@group.command()
def delete(outlet: OutletName) -> None:
    """Remove an outlet from the app.

    Example: `palm outlets delete ID`
    """
    name = output.resource("outlets", outlet)
    call("care", STUB, "DeleteOutlet", pb.DeleteOutletRequest(name=name))
    output.console.print(f"deleted {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(group)
