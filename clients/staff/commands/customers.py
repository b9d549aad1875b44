"""`palm customers`: one customer's archive (户号), balance, bills, usage and payments."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.billing.v1 import billing_service_pb2 as pb
from palmgrid.billing.v1 import billing_service_pb2_grpc
from palmgrid.billing.v1.payment_pb2 import PaymentChannel, PaymentState
from palmgrid.billing.v1.resources_pb2 import (
    Balance,
    BillingMode,
    BillState,
    Customer,
    CustomerState,
    MonthlyUsage,
)

group = typer.Typer(
    name="customers",
    help="A customer's archive, balance, bills, usage and payments (in your offices).",
    no_args_is_help=True,
)
STUB = billing_service_pb2_grpc.BillingServiceStub
CustomerId = Annotated[str, typer.Argument(help="the customer number (户号) or `customers/N`")]
MONTHS = 24
BAR_WIDTH = 40


def _name(customer: str) -> str:
    return output.resource("customers", customer)


@group.command()
def show(customer: CustomerId, as_json: output.JsonFlag = False) -> None:
    """Show a customer's archive: holder (masked), address, area, tariff, meters.

    Example: `palm customers show 3100000001`
    """
    found: Customer = call(
        "billing", STUB, "GetCustomer", pb.GetCustomerRequest(name=_name(customer))
    )

    def render() -> object:
        return output.fields(
            found.name,
            [
                ("holder", found.holder_name),
                ("phone", found.registered_phone),
                ("address", found.address),
                ("supply office", found.supply_office),
                ("area", found.area_code),
                ("tariff", found.tariff),
                (
                    "billing",
                    output.enum_label(BillingMode.Name(found.billing_mode), "BILLING_MODE_"),
                ),
                ("state", output.enum_label(CustomerState.Name(found.state), "CUSTOMER_STATE_")),
                ("meters", ", ".join(m.name.rpartition("/")[2] for m in found.meters)),
            ],
        )

    output.show(found, as_json, render)


@group.command()
def balance(customer: CustomerId, as_json: output.JsonFlag = False) -> None:
    """Show the balance, arrears and payments still pending.

    Example: `palm customers balance 3100000001`
    """
    request = pb.GetBalanceRequest(name=_name(customer) + "/balance")
    found: Balance = call("billing", STUB, "GetBalance", request)

    def render() -> object:
        return output.fields(
            found.name,
            [
                ("balance", output.yuan(found.balance_fen)),
                ("arrears", output.yuan(found.arrears_fen)),
                ("pending", output.yuan(found.pending_fen)),
                ("updated", output.when(found.update_time)),
            ],
        )

    output.show(found, as_json, render)


@group.command()
def bills(
    customer: CustomerId,
    limit: output.Limit = 12,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List bills, newest first.

    Example: `palm customers bills 3100000001 --limit 6`
    """
    request = pb.ListBillsRequest(parent=_name(customer), page_size=limit, page_token=page_token)
    reply: pb.ListBillsResponse = call("billing", STUB, "ListBills", request)
    rows = [
        (
            b.month,
            output.kwh(b.energy_wh),
            output.yuan(b.amount_fen),
            output.yuan(b.outstanding_fen),
            output.enum_label(BillState.Name(b.state), "BILL_STATE_"),
            f"{b.due_date.year:04d}-{b.due_date.month:02d}-{b.due_date.day:02d}",
        )
        for b in reply.bills
    ]
    columns = ["month", "energy", "amount", "outstanding", "state", "due"]
    output.show_page(reply, as_json, f"bills of {customer}", columns, rows)


def usage_chart(title: str, months: list[MonthlyUsage]) -> Table:
    """One bar per month, oldest at the top, scaled to the largest month."""
    largest = max((m.energy_wh for m in months), default=0) or 1
    chart = Table("month", "energy", "", "charge", title=title, title_justify="left", box=None)
    for month in reversed(months):
        bar = "█" * max(1, round(BAR_WIDTH * month.energy_wh / largest)) if month.energy_wh else ""
        chart.add_row(
            month.month,
            output.kwh(month.energy_wh),
            f"[cyan]{bar}[/]",
            output.yuan(month.charge_fen),
        )
    return chart


@group.command()
def usage(
    customer: CustomerId,
    months: Annotated[int, typer.Option("--months", min=1, max=MONTHS)] = MONTHS,
    as_json: output.JsonFlag = False,
) -> None:
    """Monthly energy and charges as a bar chart (the last 24 months by default).

    Example: `palm customers usage 3100000001`
    """
    request = pb.ListMonthlyUsageRequest(parent=_name(customer), page_size=months)
    reply: pb.ListMonthlyUsageResponse = call("billing", STUB, "ListMonthlyUsage", request)
    chart_title = f"monthly usage of {customer}"
    output.show(reply, as_json, lambda: usage_chart(chart_title, list(reply.monthly_usage)))


@group.command()
def payments(
    customer: CustomerId,
    limit: output.Limit = 20,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List payments, newest first.

    Example: `palm customers payments 3100000001`
    """
    request = pb.ListPaymentsRequest(parent=_name(customer), page_size=limit, page_token=page_token)
    reply: pb.ListPaymentsResponse = call("billing", STUB, "ListPayments", request)
    rows = [
        (
            p.name.rpartition("/")[2],
            output.when(p.create_time, zone=False),
            output.yuan(p.amount_fen),
            output.enum_label(PaymentChannel.Name(p.channel), "PAYMENT_CHANNEL_"),
            output.enum_label(PaymentState.Name(p.state), "PAYMENT_STATE_"),
            output.yuan(p.refunded_fen) if p.refunded_fen else "",
        )
        for p in reply.payments
    ]
    columns = ["payment", "time", "amount", "channel", "state", "refunded"]
    output.show_page(reply, as_json, f"payments of {customer}", columns, rows)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
