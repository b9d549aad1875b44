"""The baseline: a hand-written FastAPI proxy for the two benchmarked routes, the way
one would write it without the edge — a grpc.aio stub, `json_format` both ways.

    python -m bench.fastapi_proxy --listen 127.0.0.1:8000 --upstream 127.0.0.1:50051
"""

from __future__ import annotations

import argparse

import grpc
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format

from palmgrid.billing.v1 import billing_service_pb2, billing_service_pb2_grpc


def create_app(upstream: str) -> FastAPI:
    app = FastAPI()
    stubs: dict[str, billing_service_pb2_grpc.BillingServiceStub] = {}

    def stub() -> billing_service_pb2_grpc.BillingServiceStub:
        if "billing" not in stubs:
            stubs["billing"] = billing_service_pb2_grpc.BillingServiceStub(
                grpc.aio.insecure_channel(upstream)
            )
        return stubs["billing"]

    @app.get("/v1/customers/{customer}/monthlyUsage")
    async def list_monthly_usage(customer: str) -> JSONResponse:
        request = billing_service_pb2.ListMonthlyUsageRequest(parent=f"customers/{customer}")
        response = await stub().ListMonthlyUsage(request, timeout=30)
        return JSONResponse(
            json_format.MessageToDict(response, always_print_fields_with_no_presence=True)
        )

    @app.post("/v1/customers/{customer}/payments")
    async def create_payment(customer: str, request: Request) -> JSONResponse:
        message = json_format.ParseDict(
            await request.json(), billing_service_pb2.CreatePaymentRequest()
        )
        message.parent = f"customers/{customer}"
        response = await stub().CreatePayment(message, timeout=30)
        return JSONResponse(
            json_format.MessageToDict(response, always_print_fields_with_no_presence=True)
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:8000")
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    uvicorn.run(
        create_app(args.upstream),
        host=host,
        port=int(port),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
