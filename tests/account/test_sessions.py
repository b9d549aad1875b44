"""Sessions: opaque tokens stored only as hashes, idle timeout (sliding), absolute
lifetime, logout, one session per user (displacement or refusal), the password-change
restriction."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import grpc
from google.protobuf import field_mask_pb2
from sqlmodel import select

from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1 import account_service_customer_requests_pb2 as requests_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import models
from tests.account.conftest import Account, StartAccount, error_reason, fails

DEV_PASSWORD = "Palm-dev-2026!"


def test_tokens_carry_256_random_bits_and_only_their_hash_is_stored(account: Account) -> None:
    account.register("tokenist")
    token = account.login("tokenist").token
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    with account.runtime.session() as session:
        rows = session.exec(select(models.Session)).all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).digest()]
    dump = "\n".join(repr(row) for row in rows)
    assert token not in dump


def test_session_reports_its_lifetime_and_idle_timeout(account: Account) -> None:
    account.register("tokenist")
    session = account.login("tokenist").session
    assert session.idle_timeout.ToTimedelta() == timedelta(minutes=30)
    lifetime = session.expire_time.ToDatetime() - session.create_time.ToDatetime()
    assert lifetime == timedelta(hours=12)


def test_idle_session_expires_after_thirty_minutes(account: Account) -> None:
    account.register("sleeper")
    token = account.login("sleeper").token
    account.clock.advance(timedelta(minutes=30, seconds=1))
    error = fails(lambda: account.authenticate(token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == "SESSION_EXPIRED"


def test_idle_timeout_slides_with_use(account: Account) -> None:
    account.register("sleeper")
    token = account.login("sleeper").token
    for _ in range(4):
        account.clock.advance(timedelta(minutes=29))
        assert account.authenticate(token).session.state == account_pb.SESSION_STATE_ACTIVE


def test_session_ends_after_its_absolute_lifetime_however_active(account: Account) -> None:
    account.register("worker")
    token = account.login("worker").token
    for _ in range(35):  # 11 h 40 min of activity every 20 minutes
        account.clock.advance(timedelta(minutes=20))
        account.authenticate(token)
    account.clock.advance(timedelta(minutes=20))
    assert error_reason(fails(lambda: account.authenticate(token))) == "SESSION_EXPIRED"


def test_dev_idle_override_shortens_the_timeout(start_account: StartAccount) -> None:
    account = start_account(session_idle_seconds=60)
    account.register("sleeper")
    token = account.login("sleeper").token
    account.clock.advance(timedelta(seconds=61))
    assert error_reason(fails(lambda: account.authenticate(token))) == "SESSION_EXPIRED"


def test_logout_revokes_at_once(account: Account) -> None:
    account.register("leaving")
    token = account.login("leaving").token
    metadata = account.metadata(token)
    account.public.DeleteSession(
        account_service_pb2.DeleteSessionRequest(name="sessions/current"), metadata=metadata
    )
    assert error_reason(fails(lambda: account.authenticate(token))) == "SESSION_INVALID"
    # The assertion issued before the logout is refused by the account service too.
    error = fails(
        lambda: account.public.GetUser(
            account_service_pb2.GetUserRequest(name="users/me"), metadata=metadata
        )
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_unknown_token_is_invalid(account: Account) -> None:
    assert error_reason(fails(lambda: account.authenticate("x" * 43))) == "SESSION_INVALID"


def test_new_login_displaces_the_old_session_and_tells_the_user(account: Account) -> None:
    account.register("twophone")
    old = account.login("twophone").token
    account.clock.advance(timedelta(minutes=3))
    new = account.login(
        "twophone",
        metadata=(("palmgrid-client-ip", "203.0.113.9"), ("palmgrid-user-agent", "PalmApp/2.1")),
    )
    assert new.displaced_session_count == 1
    # The old token's very next request gets 401 SESSION_DISPLACED.
    error = fails(lambda: account.authenticate(old))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == "SESSION_DISPLACED"
    inbox = account.public.ListMessages(
        requests_pb.ListMessagesRequest(parent="users/me"), metadata=account.metadata(new.token)
    )
    assert inbox.unread_count == 1
    message = inbox.messages[0]
    assert message.topic == account_pb.TOPIC_ACCOUNT
    # When (local time of the configured zone) and from where.
    assert "2026-03-02 16:03 CST" in message.body
    # The CLI's channel is not the edge: the address it claims is not believed (that
    # the edge's is, is shown through the real edge: tests/e2e/test_client_address.py).
    assert "127.0.0.1" in message.body and "203.0.113.9" not in message.body
    assert "PalmApp/2.1" not in message.body


def test_refuse_policy_turns_away_a_second_login(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.admin_stub.UpdateSystemParameters(
        system_pb.UpdateSystemParametersRequest(
            system_parameters=admin_pb.SystemParameters(
                name="systemParameters",
                concurrent_login_policy=admin_pb.CONCURRENT_LOGIN_POLICY_REFUSE,
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["concurrent_login_policy"]),
        ),
        metadata=admin,
    )
    account.register("onlyone")
    first = account.login("onlyone").token
    error = fails(lambda: account.login("onlyone"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert account.authenticate(first)
    account.public.DeleteSession(
        account_service_pb2.DeleteSessionRequest(name="sessions/current"),
        metadata=account.metadata(first),
    )
    assert account.login("onlyone").displaced_session_count == 0


def test_sessions_can_be_listed_and_the_push_token_set(account: Account) -> None:
    account.register("lister")
    account.login("lister")
    account.clock.advance(timedelta(seconds=1))
    token = account.login("lister").token
    metadata = account.metadata(token)
    listed = account.public.ListSessions(
        account_service_pb2.ListSessionsRequest(user="users/me"), metadata=metadata
    ).sessions
    assert [s.state for s in listed] == [
        account_pb.SESSION_STATE_ACTIVE,
        account_pb.SESSION_STATE_DISPLACED,
    ]
    updated = account.public.UpdateSession(
        account_service_pb2.UpdateSessionRequest(
            session=account_pb.Session(name="sessions/current", push_token="device-token-1")
        ),
        metadata=metadata,
    )
    assert updated.push_token == "****"


def test_password_change_required_limits_the_session(account: Account) -> None:
    from palmgrid.account.v1 import account_admin_service_pb2 as admin_service_pb

    admin = account.signed_in("admin", DEV_PASSWORD)
    account.admin_stub.CreateStaffUser(
        admin_service_pb.CreateStaffUserRequest(
            user=account_pb.User(username="newbie"),
            roles=["roles/dispatcher"],
            temporary_password="Temp-pass-01!",
        ),
        metadata=admin,
    )
    login = account.login("newbie", "Temp-pass-01!")
    assert login.password_change_required
    answer = account.authenticate(login.token)
    assert answer.password_change_required
    assert set(answer.principal.permissions) == {
        "account.users.changePassword",
        "account.users.get",
        "account.sessions.delete",
    }
    metadata = ((("palmgrid-identity-bin", answer.assertion.SerializeToString())),)
    error = fails(
        lambda: account.public.ListMessages(
            requests_pb.ListMessagesRequest(parent="users/me"), metadata=metadata
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    account.public.ChangePassword(
        account_service_pb2.ChangePasswordRequest(
            name="users/me", password="Temp-pass-01!", new_password="Fresh-tide-42!"
        ),
        metadata=metadata,
    )
    after = account.authenticate(login.token)
    assert not after.password_change_required
    assert "outage.outages.create" in after.principal.permissions
