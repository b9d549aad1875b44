"""A bench-only billing upstream: ListMonthlyUsage with 24 fixed months and
CreatePayment with a fixed payment, answered from pre-serialized bytes so that the
upstream costs as little as possible and the proxies in front of it are what is measured.

    python -m bench.upstream PORT     # prints "ready" once listening
"""

from __future__ import annotations

import sys
from concurrent import futures

import grpc

from palmgrid.billing.v1 import billing_service_pb2, payment_pb2, resources_pb2

SERVICE = "palmgrid.billing.v1.BillingService"
CUSTOMER = "customers/3100000001"


def monthly_usage() -> billing_service_pb2.ListMonthlyUsageResponse:
    """24 months, newest first, as the dev profile's demo data has them."""
    response = billing_service_pb2.ListMonthlyUsageResponse()
    for i in range(24):
        year, month = 2026 - (i + 4) // 12, 12 - (i + 4) % 12
        usage = response.monthly_usage.add(
            name=f"{CUSTOMER}/monthlyUsage/{year:04d}-{month:02d}",
            month=f"{year:04d}-{month:02d}",
            energy_wh=180_000 + 1_370 * i,
            charge_fen=10_900 + 83 * i,
            reading_quality=resources_pb2.READING_QUALITY_ACTUAL,
            complete=True,
        )
        for period, share in ((2, 30), (3, 45), (4, 25)):
            usage.time_of_use_energy.add(period=period, energy_wh=usage.energy_wh * share // 100)
        usage.update_time.FromSeconds(1_767_225_600 - i * 2_629_746)
    return response


def payment() -> payment_pb2.Payment:
    result = payment_pb2.Payment(
        name=f"{CUSTOMER}/payments/9f1c2d3e",
        amount_fen=5000,
        channel=payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY,
        state=payment_pb2.PAYMENT_STATE_PENDING,
        provider_order_id="wx20260101000001",
        checkout_payload="prepay_id=wx0101",
    )
    result.create_time.FromSeconds(1_767_225_600)
    result.expire_time.FromSeconds(1_767_227_400)
    return result


def serve(port: int) -> grpc.Server:
    usage_bytes = monthly_usage().SerializeToString()
    payment_bytes = payment().SerializeToString()
    handlers = {
        "ListMonthlyUsage": grpc.unary_unary_rpc_method_handler(lambda req, ctx: usage_bytes),
        "CreatePayment": grpc.unary_unary_rpc_method_handler(lambda req, ctx: payment_bytes),
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.enable_channelz", 0)]
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


if __name__ == "__main__":
    running = serve(int(sys.argv[1]))
    print("ready", flush=True)
    running.wait_for_termination()
