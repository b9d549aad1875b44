"""A small gRPC server implementing edgetest.v1.LibraryService, for the conformance suite.

Each method answers in a way that lets a test see what the edge sent: Echo returns the
request and the metadata it arrived with, UpdateBook reports the update mask, Fail fails
as asked, WatchBooks streams and optionally fails, Sleep waits past deadlines.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from concurrent import futures
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from tests.edge.edge_protos import Compiled

SERVICE = "edgetest.v1.LibraryService"
# How often each method was called, so tests can prove the edge did not call upstream.
CALLS: Counter[str] = Counter()
# Shelf → number of events a WatchBooks stream had sent when it ended.
WATCHES_ENDED: dict[str, int] = {}


class _Counting(grpc.ServerInterceptor):
    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        CALLS[details.method.rsplit("/", 1)[-1]] += 1
        return continuation(details)


def make_servicer(edgetest: Compiled) -> Any:
    """The LibraryService's behaviour; messages are classes of the compiled protos."""
    library_pb2 = library_service_pb2 = edgetest.messages("edgetest.v1")

    class Library:
        def GetBook(self, request: Any, context: grpc.ServicerContext) -> Any:
            if request.name.endswith("/missing"):
                context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
            book = library_pb2.Book(name=request.name, title="Title", read_count=2**40, cover=1)
            book.publish_time.FromSeconds(1_700_000_000)
            return book

        def ListBooks(self, request: Any, context: grpc.ServicerContext) -> Any:
            books = [library_pb2.Book(name=f"{request.parent}/books/{i}") for i in range(2)]
            return library_service_pb2.ListBooksResponse(books=books, next_page_token="")

        def CreateBook(self, request: Any, context: grpc.ServicerContext) -> Any:
            book = library_pb2.Book()
            book.CopyFrom(request.book)
            book.name = f"{request.parent}/books/{request.book_id or 'new'}"
            if request.request_id:
                book.labels["request_id"] = request.request_id
            return book

        def UpdateBook(self, request: Any, context: grpc.ServicerContext) -> Any:
            book = library_pb2.Book()
            book.CopyFrom(request.book)
            book.labels["update_mask"] = ",".join(request.update_mask.paths)
            return book

        def DeleteBook(self, request: Any, context: grpc.ServicerContext) -> Any:
            return empty_pb2.Empty()

        def CheckoutBook(self, request: Any, context: grpc.ServicerContext) -> Any:
            book = library_pb2.Book(name=request.name)
            book.labels["borrower"] = request.borrower
            book.labels["period"] = str(request.period.seconds)
            return book

        def SetRating(self, request: Any, context: grpc.ServicerContext) -> Any:
            return library_pb2.Book(name=request.name, rating=request.rating)

        def ListBookTitles(self, request: Any, context: grpc.ServicerContext) -> Any:
            return library_service_pb2.ListBookTitlesResponse(
                titles=["A", "B"], next_page_token="t"
            )

        def WatchBooks(self, request: Any, context: grpc.ServicerContext) -> Any:
            if request.count:
                context.send_initial_metadata((("x-watch", "started"),))
            sent = 0
            try:
                for i in range(request.count):
                    if request.delay_seconds:
                        time.sleep(request.delay_seconds)
                    if not context.is_active():
                        return
                    book = library_pb2.Book(name=f"{request.parent}/books/{i}", read_count=i)
                    yield library_service_pb2.BookEvent(kind="added", book=book)
                    sent += 1
            finally:
                WATCHES_ENDED[request.parent] = sent
            if request.fail_code:
                context.abort(grpc.StatusCode(_code(request.fail_code)), "the shelf burnt down")

        def Echo(self, request: Any, context: grpc.ServicerContext) -> Any:
            seen = {}
            for key, value in context.invocation_metadata():
                seen[key] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
            context.send_initial_metadata(
                (("x-echo-initial", "yes"), ("x-echo-bin", b"\x00\x01"), ("palmgrid-secret", "x"))
            )
            context.set_trailing_metadata((("x-echo-trailer", "done"), ("palmgrid-internal", "x")))
            remaining = context.time_remaining()
            return library_pb2.EchoResponse(
                request=request, metadata=seen, deadline_seconds=remaining or 0.0
            )

        def Fail(self, request: Any, context: grpc.ServicerContext) -> Any:
            code = grpc.StatusCode(_code(request.code))
            if not request.rich:
                context.set_trailing_metadata((("x-failure", "plain"),))
                context.abort(code, request.message)
            info = error_details_pb2.ErrorInfo(
                reason="BOOK_ON_FIRE", domain="library.edgetest", metadata={"shelf": "1"}
            )
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="book.title", description="must not be empty"
                    )
                ]
            )
            extra: list[Message] = [bad]
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                extra.append(
                    error_details_pb2.RetryInfo(retry_delay=Duration(nanos=500_000_000, seconds=2))
                )
            details = []
            for detail in (info, *extra):
                packed = any_pb2.Any()
                packed.Pack(detail)
                details.append(packed)
            status = status_pb2.Status(code=request.code, message=request.message, details=details)
            context.abort_with_status(rpc_status.to_status(status))

        def Sleep(self, request: Any, context: grpc.ServicerContext) -> Any:
            end = time.monotonic() + request.duration.ToTimedelta().total_seconds()
            while time.monotonic() < end and context.is_active():
                time.sleep(0.01)
            return empty_pb2.Empty()

        def Upload(self, request: Any, context: grpc.ServicerContext) -> Any:
            return library_service_pb2.UploadResponse(
                content_type=request.body.content_type,
                size=len(request.body.data),
                data=request.body.data,
            )

        def Download(self, request: Any, context: grpc.ServicerContext) -> Any:
            return httpbody_pb2.HttpBody(
                content_type="text/plain; charset=utf-8", data=f"hello {request.name}".encode()
            )

        def Undeclared(self, request: Any, context: grpc.ServicerContext) -> Any:
            return library_pb2.Book(name=request.name)

    return Library()


def _code(number: int) -> tuple[int, str]:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code.value  # type: ignore[no-any-return]
    return grpc.StatusCode.UNKNOWN.value  # type: ignore[no-any-return]


def start_library_server(
    edgetest: Compiled, *, serving: bool = True
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """A LibraryService (with grpc.health.v1) on 127.0.0.1, port 0."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), interceptors=[_Counting()])
    server.add_generic_rpc_handlers((edgetest.service_handler(SERVICE, make_servicer(edgetest)),))
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    checker.set(SERVICE, status)
    checker.set("edgetest.v1.LibraryAdminService", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, checker


assert code_pb2.OK == 0  # google.rpc.Code numbers are gRPC's
