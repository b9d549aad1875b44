"""The notice a planned outage needs: the system parameter `plannedOutageNotice`, kept by
the account service (administrators change it at run time), read over gRPC and reused
for a short while.

When the account service cannot be asked, the last value read stands; before any was
read, the contract's default of 7 days does, so announcing never depends on account.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import grpc

from palmgrid.account.v1 import account_admin_service_pb2_grpc as admin_grpc
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as admin_pb
from servers.runtime import Runtime, downstream_call_options

log = logging.getLogger("palmgrid.outage")

DEFAULT_NOTICE = timedelta(days=7)


class NoticePeriod:
    """`plannedOutageNotice`, cached for `cache_seconds`."""

    def __init__(self, runtime: Runtime, *, timeout: float, cache_seconds: float) -> None:
        self._runtime = runtime
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._value = DEFAULT_NOTICE
        self._read_at: float | None = None

    def current(self) -> timedelta:
        """The notice period in force."""
        with self._lock:
            fresh = (
                self._read_at is not None and time.monotonic() - self._read_at < self._cache_seconds
            )
            if fresh:
                return self._value
        value = self._read()
        with self._lock:
            if value is not None:
                self._value = value
                self._read_at = time.monotonic()
            return self._value

    def _read(self) -> timedelta | None:
        stub = admin_grpc.AccountAdminServiceStub(self._runtime.channel("account"))
        options = downstream_call_options(default_timeout=self._timeout)
        try:
            reply = stub.GetSystemParameters(
                admin_pb.GetSystemParametersRequest(name="systemParameters"), **options.kwargs()
            )
        except grpc.RpcError as error:
            log.warning("notice period not read", extra={"code": str(error.code())})
            return None
        if not reply.HasField("planned_outage_notice"):
            return DEFAULT_NOTICE
        return reply.planned_outage_notice.ToTimedelta()
