"""The principal an identity assertion states for a signed-in user.

Roles and their permissions, supply-office scope and bound customers are read fresh
for every assertion, so a change reaches servers within an assertion's lifetime (and at
once at edges that watch revocations). While the password must be changed the
principal holds only the permissions needed to change it, read the user and log out:
every server, not only the edge, refuses the rest. Likewise, while a staff member whose
role requires a second factor has none, only enrolling one, reading the user and
logging out.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from palmgrid.type.v1 import identity_pb2
from servers.account import models, parameters, second_factor
from servers.account.roles import permissions_of, roles_of
from servers.account.users import (
    COVERAGE_ALL,
    COVERAGE_LISTED,
    STAFF,
    name_of,
    needs_password_change,
)

PASSWORD_CHANGE_PERMISSIONS = (
    "account.users.changePassword",
    "account.users.get",
    "account.sessions.delete",
)


def bound_customers(session: Session, user_id: str) -> list[str]:
    rows = session.exec(
        select(models.CustomerBinding.customer)
        .where(models.CustomerBinding.user_id == user_id)
        .order_by(models.CustomerBinding.create_time)  # type: ignore[arg-type]
    ).all()
    return list(rows)


def principal_for(
    session: Session,
    user: models.User,
    session_row: models.Session,
    now: datetime,
    *,
    production: bool = False,
) -> identity_pb2.Principal:
    roles = roles_of(session, user.id)
    if needs_password_change(user, now):
        permissions = list(PASSWORD_CHANGE_PERMISSIONS)
    # Only staff may need a second factor: a customer's session check (nearly all of
    # them) does not read the system parameters.
    elif user.kind == STAFF and second_factor.enrollment_required(
        session, user, parameters.load(session, now, production=production)
    ):
        permissions = list(second_factor.ENROLMENT_PERMISSIONS)
    else:
        permissions = permissions_of(session, roles)
    return identity_pb2.Principal(
        user=name_of(user),
        username=user.username,
        kind=user.kind,  # type: ignore[arg-type]
        roles=roles,
        permissions=permissions,
        supply_offices=user.supply_offices if user.coverage == COVERAGE_LISTED else [],
        all_supply_offices=user.coverage == COVERAGE_ALL,
        customers=bound_customers(session, user.id),
        session=f"sessions/{session_row.id}",
    )
