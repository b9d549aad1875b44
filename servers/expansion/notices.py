"""Messages about applications, through the notification outbox (CreateMessage, as
the expansion service's own account): the applicant hears of each move of their
application (topic APPLICATION_PROGRESS, so only if subscribed to it), and the staff
responsible for a node are reminded of its deadline (topic TASK).

Progress messages are queued inside the move's transaction, while the application row
is locked: a move is recorded only once its message is queued, and a notification
service that cannot be reached fails the move with UNAVAILABLE for the caller to
retry. Request ids are derived from what the message is about, so a retry queues it
once.
"""

from __future__ import annotations

import uuid

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.expansion.models import ApplicationRow, NodeRow
from servers.expansion.resources import APPLICATIONS
from servers.expansion.upstream import queue_message
from servers.runtime import CHINA_STANDARD_TIME, Runtime

# The names applicants and staff read, per node kind and per application state.
NODE_LABELS = {
    "ACCEPTANCE": "业务受理",
    "SURVEY": "现场勘查",
    "SUPPLY_PLAN": "供电方案答复",
    "DESIGN_REVIEW": "设计审查",
    "CONSTRUCTION": "工程施工",
    "MID_INSPECTION": "中间检查",
    "COMPLETION_INSPECTION": "竣工检验",
    "CONNECTION": "装表接电",
}
# The applicant's view of a move: the state word shown, by action.
PROGRESS_STATES = {
    "ADVANCED": "办理中",
    "COMPLETED": "已完成接电",
    "SENT_BACK": "待补充资料",
    "REJECTED": "未通过",
}
APPLICANT_CHANNELS = (account_pb.DELIVERY_CHANNEL_IN_APP, account_pb.DELIVERY_CHANNEL_PUSH)
STAFF_CHANNELS = (account_pb.DELIVERY_CHANNEL_IN_APP, account_pb.DELIVERY_CHANNEL_SMS)
_NAMESPACE = uuid.UUID("6a1f3e0c-2b7d-4c85-9e14-3f0a5d7c8b21")


def _request_id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def tell_applicant(
    runtime: Runtime, row: ApplicationRow, node: NodeRow, action: str, *, timeout: float
) -> None:
    """Queue the progress message of `action` (which has just moved `row` at `node`)
    for the applicant; Unavailable when the outbox cannot take it."""
    name = APPLICATIONS.name(row.id)
    shown = "COMPLETED" if row.state == "COMPLETED" else action
    message = message_pb.Message(
        topic=account_pb.TOPIC_APPLICATION_PROGRESS,
        template="application.progress",
        parameters={
            "application": row.id,
            "node": NODE_LABELS.get(node.kind, node.kind),
            "state": PROGRESS_STATES[shown],
        },
        channels=APPLICANT_CHANNELS,
        users=[row.creator],
        target=name,
        event=f"{name}/{action.lower()}/{row.version}",
    )
    queue_message(runtime, message, _request_id(f"{name}/{row.version}/{action}"), timeout=timeout)


def remind_staff(
    runtime: Runtime,
    row: ApplicationRow,
    node: NodeRow,
    mark: str,
    users: list[str],
    *,
    timeout: float,
) -> None:
    """Queue the reminder `mark` ("50", "80" or "OVERDUE") of `node` for `users`."""
    name = APPLICATIONS.name(row.id)
    assert node.due_time is not None
    due = node.due_time.astimezone(CHINA_STANDARD_TIME)
    passed = "已超期" if mark == "OVERDUE" else f"已用时{mark}%"
    message = message_pb.Message(
        topic=account_pb.TOPIC_TASK,
        template="application.reminder",
        parameters={
            "application": row.id,
            "node": NODE_LABELS.get(node.kind, node.kind),
            "passed": passed,
            "due": f"{due:%Y-%m-%d %H:%M}",
        },
        channels=STAFF_CHANNELS,
        users=users,
        target=name,
        event=f"{name}/nodes/{node.seq}/reminders/{mark}",
    )
    queue_message(runtime, message, _request_id(f"{name}/{node.seq}/{mark}"), timeout=timeout)
