"""Telling a supply office's care managers that a score rose to the top level.

The rise is marked pending in the transaction that records it (`risk_store.record`);
`send_pending` then hands each pending alert to the notification service
(CreateMessage, as the care service's own account) and clears it. The message's
request id and event are derived from the rise, so an alert sent again after a failure
part-way (or a crash before it was cleared) reaches no manager twice.

The managers are the active staff holding the `care-manager` role who cover the
office, found with the account service's ListUsers (role and supply-office filters).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import grpc
from sqlmodel import col, select

from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_admin_service_pb2_grpc as admin_grpc
from palmgrid.account.v1 import resources_pb2 as account_resources
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as notification_resources
from palmgrid.type.v1 import identity_pb2
from servers.care.models import ComplaintRiskRow
from servers.care.risk_resources import OFFICE_PREFIX
from servers.care.risk_signals import upstream_pages, upstream_unavailable
from servers.runtime import Runtime, downstream_call_options

log = logging.getLogger("palmgrid.care")

MANAGER_ROLE = "roles/care-manager"
TEMPLATE = "complaint.risk_critical"
UPSTREAM_TIMEOUT_SECONDS = 5.0
# Alerts handed over per scoring call; the rest wait for the next call.
ALERTS_PER_CALL = 100
CHANNELS = (account_resources.DELIVERY_CHANNEL_IN_APP, account_resources.DELIVERY_CHANNEL_SMS)
_NAMESPACE = uuid.UUID("0c5e8a4f-3d7b-4f0e-9a61-7b2c9d4e1f38")


class Managers(Protocol):
    """Who manages care in a supply office."""

    def of(self, supply_office: str) -> list[str]:
        """The users, `users/{user}`; Unavailable when they cannot be found now."""
        ...


class AccountManagers:
    """Care managers from the account service's ListUsers."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def of(self, supply_office: str) -> list[str]:
        stub = admin_grpc.AccountAdminServiceStub(self._runtime.channel("account"))

        def fetch(token: str, kwargs: dict[str, Any]) -> admin_pb.ListUsersResponse:
            request = admin_pb.ListUsersRequest(
                page_size=1000,
                page_token=token,
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                state=account_resources.USER_STATE_ACTIVE,
                role=MANAGER_ROLE,
                supply_office=supply_office,
            )
            reply: admin_pb.ListUsersResponse = stub.ListUsers(request, **kwargs)
            return reply

        pages = upstream_pages("the account service", fetch)
        return [user.name for page in pages for user in page.users]


def message_request_id(key: str) -> str:
    """The notification request id of the alert of rise `key`."""
    return str(uuid.uuid5(_NAMESPACE, key))


def _subject_text(row: ComplaintRiskRow) -> str:
    if row.subject.startswith(OFFICE_PREFIX):
        return f"供电所{row.supply_office}"
    if row.customer:
        return f"户号{row.customer.removeprefix('customers/')}"
    return row.subject


def _message(row: ComplaintRiskRow, users: list[str]) -> notification_resources.Message:
    reasons = "；".join(r["description"] for r in row.reasons[:3])
    return notification_resources.Message(
        topic=account_resources.TOPIC_TASK,
        template=TEMPLATE,
        parameters={"subject": _subject_text(row), "score": str(row.score), "reasons": reasons},
        channels=CHANNELS,
        users=users,
        target=f"complaintRisks/{row.id}",
        event=row.alert_key,
    )


def send_pending(runtime: Runtime, managers: Managers, session_now: Callable[[], datetime]) -> int:
    """Hand every pending alert (up to ALERTS_PER_CALL) to the notification service and
    clear it; returns how many were handed over. An alert whose office has no manager
    is cleared with a warning. Unavailable (the alerts stay pending) when account or
    notification cannot be reached."""
    with runtime.session() as session:
        pending = list(
            session.exec(
                select(ComplaintRiskRow)
                .where(col(ComplaintRiskRow.alert_pending).is_(True))
                .order_by(col(ComplaintRiskRow.compute_time))
                .limit(ALERTS_PER_CALL)
            )
        )
    stub = notification_grpc.NotificationServiceStub(runtime.channel("notification"))
    sent = 0
    for row in pending:
        users = managers.of(row.supply_office)
        if users:
            options = downstream_call_options(default_timeout=UPSTREAM_TIMEOUT_SECONDS)
            try:
                stub.CreateMessage(
                    notification_pb.CreateMessageRequest(
                        message=_message(row, users), request_id=message_request_id(row.alert_key)
                    ),
                    **options.kwargs(),
                )
            except grpc.RpcError as error:
                raise upstream_unavailable("the notification service") from error
            sent += 1
        else:
            log.warning(
                "no care manager to alert",
                extra={"supply_office": row.supply_office, "subject": row.subject},
            )
        _clear(runtime, row.id, row.alert_key, session_now())
    return sent


def _clear(runtime: Runtime, risk_id: str, key: str, now: datetime) -> None:
    """Clear the alert of rise `key`, unless a newer rise replaced it meanwhile."""
    with runtime.session(write=True) as session:
        row = session.get(ComplaintRiskRow, risk_id)
        if row is not None and row.alert_pending and row.alert_key == key:
            row.alert_pending = False
            row.alert_time = now
            session.add(row)
