"""The call pipeline (`servers.runtime.interceptor`) for a grpc.aio server.

A service served by `create_server(async_streams=True)` keeps its blocking unary methods: each call
hops to the server's thread pool and runs through exactly the synchronous server's
pipeline there, with the aio context adapted (`ThreadContext`). The call's status is
sent back on the event loop only once the pipeline is done, so, as on the synchronous
server, the audit record is written and the log line emitted before the answer leaves.
A server-streaming method written as an async generator runs on the event loop instead,
without a thread, through the same steps in the same order: request id, deadline,
access (audience and caller included), audit note, validation, the audit log's
admission (fail closed), the servicer, error mapping, the audit record, the log
line. The steps that may block (the denial hook, the audit admission and the audit
record, all calls to the account service) run on a thread, so the loop never waits on them.

Blocking streaming methods are served as grpc.aio serves them (on its thread pool,
through `ThreadContext` around grpc's own thread context); there an error's status
may reach the client just before the call's log line is written. Write streams for
this server as async generators.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent import futures
from typing import Any

import grpc
import grpc.aio

from servers.runtime import calls
from servers.runtime.auditing import CallAudit
from servers.runtime.errors import to_grpc_status
from servers.runtime.interceptor import Behaviour, RuntimeInterceptor, _Outcome
from servers.runtime.methods import ContractError, MethodInfo

AioContext = Any  # grpc.aio.ServicerContext, or grpc's thread context on the pool
AsyncStreamBehaviour = Callable[[Any, AioContext], AsyncIterator[Any]]


class _Ended(Exception):
    """Ends a unary call on the pool; the event loop then sends its status."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: Any = ()) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.trailing = trailing


class _CallSnapshot:
    """What the audit record and the log line read of a call, taken while it is live:
    grpc.aio's context must not be read once its call is over (a cancelled stream's
    `peer()` crashes the process)."""

    def __init__(self, context: AioContext) -> None:
        self._peer = context.peer()
        self._metadata = context.invocation_metadata()
        self._auth = context.auth_context()
        self._remaining = context.time_remaining()
        self._taken = time.monotonic()

    def peer(self) -> str:
        return str(self._peer)

    def time_remaining(self) -> float | None:
        if self._remaining is None:
            return None
        return max(0.0, float(self._remaining) - (time.monotonic() - self._taken))

    def invocation_metadata(self) -> Any:
        return self._metadata

    def auth_context(self) -> Any:
        return self._auth


class ThreadContext:
    """An aio call's context as a blocking method on a pool thread sees it: what the
    pipeline and servicers use of `grpc.ServicerContext`. `abort` and
    `abort_with_status` end the method (raising) without sending anything yet;
    `send_initial_metadata` waits for the loop to send them."""

    def __init__(self, context: AioContext, loop: asyncio.AbstractEventLoop | None) -> None:
        self._context = context
        self._loop = loop
        self._code: grpc.StatusCode | None = None
        # Read on the loop while the call is live: an aio context must not be read once
        # its call is over, and a cancelled call may end while the method still runs.
        self._snapshot = _CallSnapshot(context) if loop is not None else context
        # Set on the loop when the call ends (done, cancelled, deadline passed), so a
        # method on a thread can stop work its caller no longer waits for.
        self._ended = threading.Event()
        if loop is not None:
            context.add_done_callback(lambda _call: self._ended.set())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def peer(self) -> str:
        return str(self._snapshot.peer())

    def invocation_metadata(self) -> Any:
        return self._snapshot.invocation_metadata()

    def auth_context(self) -> Any:
        return self._snapshot.auth_context()

    def time_remaining(self) -> float | None:
        return self._snapshot.time_remaining()  # type: ignore[no-any-return]

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code
        self._context.set_code(code)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def is_active(self) -> bool:
        if self._loop is None:  # grpc's own thread context for blocking streams
            return bool(self._context.is_active())
        return not self._ended.is_set()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        add = getattr(self._context, "add_done_callback", None)
        if add is None:  # grpc's own thread context
            return bool(self._context.add_callback(callback))
        add(lambda _context: callback())
        return True

    def send_initial_metadata(self, metadata: Any) -> None:
        sent = self._context.send_initial_metadata(metadata)
        if inspect.isawaitable(sent) and self._loop is not None:
            asyncio.run_coroutine_threadsafe(sent, self._loop).result()  # type: ignore[arg-type]

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        if self._loop is None:  # grpc's own thread context sends it at once
            self._context.abort(code, details)
        raise _Ended(code, details)

    def abort_with_status(self, status: grpc.Status) -> None:
        self._code = status.code
        if self._loop is None:
            self._context.set_trailing_metadata(status.trailing_metadata)
            self._context.abort(status.code, status.details)
        raise _Ended(status.code, status.details, status.trailing_metadata)


def is_async(behaviour: object) -> bool:
    return inspect.iscoroutinefunction(behaviour) or inspect.isasyncgenfunction(behaviour)


class AioRuntimeInterceptor(RuntimeInterceptor, grpc.aio.ServerInterceptor):
    """The runtime's pipeline on a grpc.aio server: unary methods on `pool`,
    async-generator server streams on the event loop."""

    def __init__(
        self, methods: Mapping[str, MethodInfo], *, pool: futures.Executor, **parts: Any
    ) -> None:
        super().__init__(methods, **parts)
        self._pool = pool

    async def intercept_service(  # type: ignore[override]
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = self._method_of(handler_call_details)
        if handler is None or method is None:
            return handler
        return self._wrap_for_aio(handler, method)

    def _wrap_for_aio(
        self, handler: grpc.RpcMethodHandler, method: MethodInfo
    ) -> grpc.RpcMethodHandler:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        # Partials, not lambdas: grpc.aio tells async handlers by their function.
        if handler.unary_unary is not None and not is_async(handler.unary_unary):
            return grpc.unary_unary_rpc_method_handler(
                functools.partial(self._serve_unary_on_pool, method, handler.unary_unary),
                **codec,
            )
        if handler.unary_stream is not None and is_async(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(
                functools.partial(self._serve_async_stream, method, handler.unary_stream),
                **codec,
            )
        behaviours = (handler.unary_unary, handler.stream_unary, handler.stream_stream)
        if any(is_async(b) for b in behaviours):
            raise ContractError(
                f"{method.path}: only server streams may be async methods on this server"
            )
        return _adapted(self._wrap(handler, method))

    async def _serve_unary_on_pool(
        self, method: MethodInfo, behaviour: Behaviour, request: Any, context: AioContext
    ) -> Any:
        loop = asyncio.get_running_loop()
        adapted = ThreadContext(context, loop)
        # In a copy of the loop's context, so the call's span (and anything else the
        # instrumentation set) is current in the pool thread too.
        context_copy = contextvars.copy_context()
        try:
            return await loop.run_in_executor(
                self._pool, context_copy.run, self._unary, method, behaviour, request, adapted
            )
        except _Ended as ended:
            await context.abort(ended.code, ended.details, ended.trailing)

    async def _serve_async_stream(
        self,
        method: MethodInfo,
        behaviour: AsyncStreamBehaviour,
        request: Any,
        context: AioContext,
    ) -> AsyncIterator[Any]:
        # grpc.aio serves each call in a task of its own, which has its own copy of the
        # context variables: the CallInfo bound here is this call's alone.
        started = time.monotonic()
        call = self._begin(method, context)
        snapshot = _CallSnapshot(context)
        outcome = _Outcome()
        audit: CallAudit | None = None
        finished = False
        try:
            calls.bind_call(await asyncio.to_thread(self._authorized, method, call, snapshot))  # type: ignore[arg-type]
            audit = self._open_audit(method, request, snapshot)  # type: ignore[arg-type]
            request = self._validated(method, request, audit)
            # Fail closed on a thread: asking whether the audit log is up may block.
            await asyncio.to_thread(self._admit_audit, audit)
            async for response in behaviour(request, context):
                yield response
            outcome.succeeded(context, None)
        except (GeneratorExit, asyncio.CancelledError):
            outcome.code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            status = self._failure(exc, context, outcome)
            if status is None:  # the servicer aborted the call itself
                raise
            # aio's abort sends the status at once: record and log the call first.
            finished = True
            await self._finish(method, audit, snapshot, outcome, started)
            await context.abort_with_status(to_grpc_status(status))
        finally:
            if not finished:
                await self._finish(method, audit, snapshot, outcome, started)

    async def _finish(
        self,
        method: MethodInfo,
        audit: CallAudit | None,
        snapshot: _CallSnapshot,
        outcome: _Outcome,
        started: float,
    ) -> None:
        """The audit record (on a thread: it may call the account service), then the
        log line."""
        if audit is not None:
            await asyncio.to_thread(self._close_audit, audit, snapshot, outcome)  # type: ignore[arg-type]
        self._log(method, snapshot, outcome.code, started)  # type: ignore[arg-type]


def _adapted(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` (blocking streams, run by grpc.aio on its pool) given a
    `ThreadContext` around grpc's thread context."""

    def adapt(behaviour: Callable[[Any, Any], Any] | None) -> Any:
        if behaviour is None:
            return None
        return lambda request, context: behaviour(request, ThreadContext(context, None))

    return handler._replace(  # type: ignore[attr-defined]
        unary_unary=adapt(handler.unary_unary),
        unary_stream=adapt(handler.unary_stream),
        stream_unary=adapt(handler.stream_unary),
        stream_stream=adapt(handler.stream_stream),
    )
