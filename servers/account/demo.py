"""The dev profile's demo staff (CONTRACT.md): one user per staff role, all with the
password in PALMGRID_DEV_PASSWORD. Seeded at start-up in the dev profile only; a user
that exists already is left as it is (its password included).

The built-in names such as `admin` are shorter than self-registration allows: the
six-letter rule applies to new usernames, not to these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from servers.account import models, second_factor, users
from servers.account.passwords import PasswordHasher

# Supply offices of the demo staff other than the administrator.
# The 麒麟 office: demo customers in areas A01–A05 (servers/billing/demo.py); the
# 沾益 office (A06–A10) stays outside their scope, so scope is visible in the demo.
DEMO_SUPPLY_OFFICES = ("QJ-QL",)


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    role: str
    # Coverage of every supply office, or only DEMO_SUPPLY_OFFICES.
    all_supply_offices: bool = False


DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("admin", "Administrator", "admin", all_supply_offices=True),
    DemoStaff("dispatcher", "Dispatcher", "dispatcher"),
    DemoStaff("expander", "Connection staff", "expander"),
    DemoStaff("inspector", "Inspector", "inspector"),
    # A second inspector: an inspection task needs two (docs/inspection.md).
    DemoStaff("patroller", "Inspector", "inspector"),
    # Sees every inspection of the office, reassigns them, hears of completed ones.
    DemoStaff("inspmanager", "Inspection manager", "inspection-manager"),
    DemoStaff("agent", "Service agent", "agent"),
    # Alerted when a complaint risk of the office reaches the top level (docs/care.md).
    DemoStaff("caremanager", "Care manager", "care-manager"),
    DemoStaff("editor", "Content editor", "editor"),
)


def seed_demo_staff(
    session: Session, *, password: str, hasher: PasswordHasher, now: datetime
) -> None:
    """Create the demo staff users that do not exist yet."""
    for staff in DEMO_STAFF:
        if users.by_username(session, staff.username) is not None:
            continue
        users.create(
            session,
            username=staff.username,
            password=password,
            kind=users.STAFF,
            roles=[staff.role],
            hasher=hasher,
            now=now,
            display_name=staff.display_name,
            coverage=users.COVERAGE_ALL if staff.all_supply_offices else users.COVERAGE_LISTED,
            supply_offices=() if staff.all_supply_offices else DEMO_SUPPLY_OFFICES,
        )


def enrol_demo_second_factor(
    session: Session, *, secret: str, hasher: PasswordHasher, now: datetime
) -> None:
    """Give every demo staff user without a second factor a confirmed one with `secret`
    (PALMGRID_DEV_TOTP_SECRET, dev profile only), so the console's sign-in with a code
    can be tried from an authenticator app. Recovery codes are not made: an
    administrator's reset is the way back."""
    for staff in DEMO_STAFF:
        user = users.by_username(session, staff.username)
        if user is None or session.get(models.SecondFactor, user.id) is not None:
            continue
        session.add(
            models.SecondFactor(
                user_id=user.id,
                sealed_secret=second_factor.seal(hasher, user.id, secret),
                confirm_time=now,
                create_time=now,
            )
        )
