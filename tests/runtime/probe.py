"""The probe service: a small servicer over tests/runtime/protos that exercises the
runtime. Imported by the tests (after the protos are compiled) and run as a process by
the `serve` test: `python tests/runtime/probe.py` with the compiled protos on PYTHONPATH."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from runtimetest.v1 import probe_pb2, probe_pb2_grpc
from sqlalchemy import text

from palmgrid.type.v1 import identity_pb2
from servers.runtime import (
    Aborted,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Registration,
    ResourceExhausted,
    Runtime,
    ServiceSpec,
    audit_note,
    current_call,
    current_principal,
    downstream_call_options,
    serve,
)
from servers.runtime.declared import declared

SERVICE = "runtimetest.v1.ProbeService"
MIGRATIONS = Path(__file__).parent / "migrations"
pb2 = probe_pb2


class ProbeServicer(probe_pb2_grpc.ProbeServiceServicer):
    """Answers from what the runtime hands it; remembers which Sleep calls started and
    what it renamed."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        # The service's database, for AddCustomer (None: a probe without one).
        self.runtime = runtime
        self.started: list[str] = []
        # Whether each Sleep's caller still waited when the sleep was over.
        self.caller_waited: dict[str, bool] = {}
        self.renamed: list[str] = []
        self._lock = threading.Lock()

    def Echo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return probe_pb2.EchoResponse(user_name=request.user_name)

    def WhoAmI(self, request: Any, context: grpc.ServicerContext) -> Any:
        principal = current_principal()
        call = current_call()
        options = downstream_call_options()
        metadata = dict(options.metadata)
        return probe_pb2.WhoAmIResponse(
            user=principal.user if principal else "",
            kind=identity_pb2.PrincipalKind.Name(principal.kind) if principal else "",
            request_id=call.request_id if call else "",
            downstream_timeout=-1.0 if options.timeout is None else options.timeout,
            forwards_identity="palmgrid-identity-bin" in metadata,
            downstream_request_id=str(metadata.get("x-request-id", "")),
        )

    def Fail(self, request: Any, context: grpc.ServicerContext) -> Any:
        kind = request.kind
        if kind == "not_found":
            raise NotFound("customers/3100000001 not found", metadata={"resource": "customers"})
        if kind == "exhausted":
            raise ResourceExhausted(
                "account locked", reason="ACCOUNT_LOCKED", retry_after=timedelta(minutes=15)
            )
        if kind == "aborted":
            raise Aborted("request_id reused with another body", reason="IDEMPOTENCY_KEY_REUSED")
        if kind == "out_of_scope":
            raise PermissionDenied("customers/3100000001 is not yours", reason="OUT_OF_SCOPE")
        if kind == "abort":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "aborted by the servicer")
        if kind == "set_code":
            context.set_code(grpc.StatusCode.NOT_FOUND)
            context.set_details("set by the servicer")
            return probe_pb2.FailResponse()
        # Anything else: an unexpected crash whose text must not reach the client.
        raise RuntimeError("connection to 10.0.0.7:5432 refused; secret=hunter2")

    def Sleep(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.started.append(request.tag)
        time.sleep(request.millis / 1000)
        self.caller_waited[request.tag] = context.is_active()
        return probe_pb2.SleepResponse(tag=request.tag)

    def Count(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        for number in range(1, request.count + 1):
            if number == request.fail_at:
                raise NotFound(f"number {number} not found")
            yield probe_pb2.CountResponse(number=number)

    def Rename(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.renamed.append(request.name)
        note = audit_note()
        note.details = {"newName": request.new_name}
        if request.missing:
            raise NotFound(f"{request.name} not found")
        return probe_pb2.RenameResponse(name=f"things/{request.new_name}")

    def AddCustomer(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.runtime is None:
            raise FailedPrecondition("this probe has no database")
        with self.runtime.session(write=True) as session:
            session.execute(
                text("INSERT INTO probe_customer (name) VALUES (:name)"), {"name": request.name}
            )
            found = session.execute(
                text("SELECT id FROM probe_customer WHERE name = :name"), {"name": request.name}
            ).scalar_one()
        return probe_pb2.AddCustomerResponse(name=f"customers/{found}")

    def Collect(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        return probe_pb2.CollectResponse(text=" ".join(r.word for r in request_iterator))


class AsyncProbeServicer(ProbeServicer):
    """The probe for `create_server(async_streams=True)`: Count is an async generator on the event
    loop; every other method stays blocking, on the thread pool."""

    async def Count(self, request: Any, context: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        for number in range(1, request.count + 1):
            if number == request.fail_at:
                raise NotFound(f"number {number} not found")
            yield probe_pb2.CountResponse(number=number)


def registrations(servicer: ProbeServicer | None = None) -> list[Registration]:
    # Later is declared but not built: it answers UNIMPLEMENTED through `declared`.
    return [declared(probe_pb2_grpc, SERVICE, servicer or ProbeServicer())]


def _build(runtime: Runtime) -> list[Registration]:
    # Touch the migrated table so a broken migration fails the start-up.
    with runtime.session() as session:
        session.exec(text("SELECT count(*) FROM probe_meter"))  # type: ignore[call-overload]
    return registrations()


SPEC = ServiceSpec("probe", _build, migrations=MIGRATIONS)


if __name__ == "__main__":
    raise SystemExit(serve(SPEC, address="127.0.0.1:0"))
