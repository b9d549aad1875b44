"""The staff second factor in the account service, on SQLite and PostgreSQL, with a
settable clock: the time window, single use, the sealed secret, who may enrol."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pyotp
from sqlmodel import select

from palmgrid.account.v1 import account_service_pb2 as service_pb
from servers.account import models, parameters, second_factor, users
from servers.account.principals import principal_for
from servers.account.roles import grants_writes
from tests.account.conftest import (
    CAPTCHA,
    DEV_PASSWORD,
    Account,
    StartAccount,
    error_reason,
    fails,
)


def login(
    account: Account, code: str = "", username: str = "editor"
) -> service_pb.CreateSessionResponse:
    return account.public.CreateSession(
        service_pb.CreateSessionRequest(
            username=username,
            password=DEV_PASSWORD,
            captcha=account.captcha(),
            captcha_answer=CAPTCHA,
            second_factor_code=code,
        )
    )


def test_codes_hold_for_one_step_either_side_and_only_once(account_any_db: Account) -> None:
    account = account_any_db
    editor = account.signed_in("editor", DEV_PASSWORD)
    secret = account.public.EnrollSecondFactor(
        service_pb.EnrollSecondFactorRequest(name="users/me"), metadata=editor
    ).secret
    totp = pyotp.TOTP(secret)
    now = account.clock.now()
    at = lambda seconds: totp.at(now + timedelta(seconds=seconds))  # noqa: E731
    recovery = account.public.ConfirmSecondFactor(
        service_pb.ConfirmSecondFactorRequest(name="users/me", code=at(0)), metadata=editor
    ).recovery_codes

    # The secret is kept sealed, never as given.
    with account.runtime.session() as session:
        stored = session.exec(select(models.SecondFactor)).one()
        digests = session.exec(select(models.RecoveryCode.code_digest)).all()
    assert secret.encode() not in stored.sealed_secret and len(stored.sealed_secret) > 12
    assert not set(recovery) & set(digests)

    assert error_reason(fails(lambda: login(account))) == "SECOND_FACTOR_REQUIRED"
    assert error_reason(fails(lambda: login(account, at(0)))) == "SECOND_FACTOR_INVALID"
    assert error_reason(fails(lambda: login(account, at(-30)))) == "SECOND_FACTOR_INVALID"
    assert error_reason(fails(lambda: login(account, at(60)))) == "SECOND_FACTOR_INVALID"
    assert login(account, at(30)).token  # the next step: a clock 30 s behind the phone's
    assert error_reason(fails(lambda: login(account, at(30)))) == "SECOND_FACTOR_INVALID"

    account.clock.advance(timedelta(minutes=5))
    assert login(account, recovery[3]).token
    assert error_reason(fails(lambda: login(account, recovery[3]))) == "SECOND_FACTOR_INVALID"


def test_customers_do_not_enrol_and_a_confirmed_factor_is_not_replaced(account: Account) -> None:
    customer = account.customer("marigold")
    refused = fails(
        lambda: account.public.EnrollSecondFactor(
            service_pb.EnrollSecondFactorRequest(name="users/me"), metadata=customer
        )
    )
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION

    editor = account.signed_in("editor", DEV_PASSWORD)
    enrol = lambda: account.public.EnrollSecondFactor(  # noqa: E731
        service_pb.EnrollSecondFactorRequest(name="users/me"), metadata=editor
    )
    enrol()
    secret = enrol().secret  # an unconfirmed enrolment starts over
    code = pyotp.TOTP(secret).at(account.clock.now())
    account.public.ConfirmSecondFactor(
        service_pb.ConfirmSecondFactorRequest(name="users/me", code=code), metadata=editor
    )
    assert fails(enrol).code() == grpc.StatusCode.FAILED_PRECONDITION


def test_the_dev_secret_enrols_the_demo_staff_and_users_me_lists_the_permissions(
    start_account: StartAccount,
) -> None:
    secret = "PALMGRIDACCOUNTTESTSECRET234567A"
    account = start_account(dev_totp_secret=secret)
    assert error_reason(fails(lambda: login(account))) == "SECOND_FACTOR_REQUIRED"
    totp = pyotp.TOTP(secret)
    signed = login(account, totp.at(account.clock.now()))
    me = account.public.GetUser(
        service_pb.GetUserRequest(name="users/me"), metadata=account.metadata(signed.token)
    )
    assert "care.articles.publish" in me.permissions
    assert "account.users.list" not in me.permissions
    admin = login(account, totp.at(account.clock.now()), username="admin")
    other = account.public.GetUser(
        service_pb.GetUserRequest(name=me.name), metadata=account.metadata(admin.token)
    )
    # Only users reading themselves get the list: it is the session's, not the user's.
    assert other.username == "editor" and list(other.permissions) == []


def test_in_production_every_staff_user_with_a_write_permission_must_enrol(
    account: Account,
) -> None:
    now = account.clock.now()
    with account.runtime.session(write=True) as session:
        # A staff member whose only role reads (and who manages their own account).
        session.add(
            models.Role(
                id="reader",
                title="Reader",
                update_time=now,
                permissions=[
                    "billing.customers.get",
                    "care.feedback.list",
                    "account.sessions.delete",
                ],
            )
        )
        reader = users.by_username(session, "patroller")
        editor = users.by_username(session, "editor")
        assert reader is not None and editor is not None
        for held in session.exec(
            select(models.UserRole).where(models.UserRole.user_id == reader.id)
        ):
            session.delete(held)
        session.add(models.UserRole(user_id=reader.id, role_id="reader"))
    with account.runtime.session() as session:
        reader = users.by_username(session, "patroller")
        editor = users.by_username(session, "editor")
        assert reader is not None and editor is not None
        dev = parameters.load(session, now)
        production = parameters.load(session, now, production=True)
        assert not second_factor.enrollment_required(session, editor, dev)
        assert second_factor.enrollment_required(session, editor, production)
        assert not second_factor.enrollment_required(session, reader, production)
        # Until enrolled, the editor's session may only enrol, read itself and sign out.
        row = models.Session(
            id="probe", token_hash=b"x" * 32, user_id=editor.id, state=1, idle_timeout_seconds=60
        )
        allowed = principal_for(session, editor, row, now, production=True).permissions
        assert list(allowed) == list(second_factor.ENROLMENT_PERMISSIONS)
        assert principal_for(session, editor, row, now).permissions != list(allowed)


def test_a_write_permission_is_any_verb_but_reading_outside_ones_own_account() -> None:
    assert grants_writes(["care.feedback.reply"])
    assert grants_writes(["account.customerBindings.verify"])
    assert grants_writes(["*"])
    assert not grants_writes(
        ["billing.customers.get", "care.feedback.list", "care.articles.search"]
    )
    # What everyone does for themselves is not a write permission here.
    assert not grants_writes(["account.users.changePassword", "account.subscriptions.update"])
