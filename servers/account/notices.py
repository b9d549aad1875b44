"""Telling a user about their own account's security (new sign-ins, blocked sign-in
attempts): the one place such notices leave the account service.

Today they go to the user's in-app inbox, in the caller's transaction. When the
notification service takes over delivery (push, SMS), only this function changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import inbox


def tell_owner(
    session: Session, *, user_id: str, title: str, body: str, now: datetime, target: str = ""
) -> None:
    """Send the owner of `user_id` a security notice (topic ACCOUNT, always delivered)."""
    inbox.write(
        session,
        user_id=user_id,
        topic=account_pb.TOPIC_ACCOUNT,
        title=title,
        body=body,
        now=now,
        target=target,
    )
