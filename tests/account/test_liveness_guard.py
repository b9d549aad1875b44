"""The session-liveness guard wraps what account builds and nothing else: an RPC left to
grpc's generated base class must still be seen (and refused) at start-up."""

from __future__ import annotations

from typing import Any

from palmgrid.account.v1 import account_service_pb2_grpc
from servers.account.liveness import guard
from servers.runtime.methods import find_service
from servers.runtime.unbuilt import unbuilt_methods

SERVICE = "palmgrid.account.v1.AccountService"


class _Partial(account_service_pb2_grpc.AccountServiceServicer):
    def GetSession(self, request: Any, context: Any) -> Any:
        return None


def test_the_guard_leaves_unbuilt_rpcs_visible_to_the_start_up_check() -> None:
    guarded = guard(_Partial(), SERVICE, core=None)  # type: ignore[arg-type]
    unbuilt = unbuilt_methods(guarded, find_service(SERVICE))
    assert "GetSession" not in unbuilt
    assert {"CreateCaptcha", "CreateSession"} <= set(unbuilt)
