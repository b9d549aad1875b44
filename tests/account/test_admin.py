"""Administration over gRPC: staff users, roles (seeded from the defaults, editable),
supply-office scope, disabling, unlocking, password resets, sessions, system
parameters; each change reaches the assertions and the revocation log."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from palmgrid.account.v1 import account_admin_service_pb2 as admin_service_pb
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import models, users
from servers.account.demo import DEMO_STAFF
from servers.account.passwords import load_pepper
from servers.account.roles import default_roles, expand
from servers.account.service import MIGRATIONS
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from servers.runtime.schema import migrate_process
from tests.account.conftest import (
    DEV_PASSWORD,
    FAST_ARGON2,
    GOOD_PASSWORD,
    Account,
    StartAccount,
    error_reason,
    fails,
)


def user_of(account: Account, username: str, password: str = GOOD_PASSWORD) -> str:
    return account.authenticate(account.login(username, password).token).principal.user


def test_default_roles_and_demo_staff_are_seeded_once(start_account: StartAccount) -> None:
    account = start_account()
    admin = account.signed_in("admin", DEV_PASSWORD)
    roles = account.admin_stub.ListRoles(system_pb.ListRolesRequest(), metadata=admin).roles
    assert {r.name: list(r.permissions) for r in roles} == {
        f"roles/{r.id}": expand(r) for r in default_roles()
    }
    staff = account.admin_stub.ListUsers(
        admin_service_pb.ListUsersRequest(kind=2), metadata=admin
    ).users
    assert sorted(u.username for u in staff) == sorted(s.username for s in DEMO_STAFF)
    assert {u.username: list(u.roles) for u in staff}["dispatcher"] == ["roles/dispatcher"]
    # A restart seeds nothing twice and keeps an administrator's edits.
    account.admin_stub.UpdateRole(
        system_pb.UpdateRoleRequest(
            role=admin_pb.Role(name="roles/editor", permissions=["care.articles.search"]),
            update_mask=field_mask_pb2.FieldMask(paths=["permissions"]),
        ),
        metadata=admin,
    )
    url = account.settings.account_database_url
    account.close()
    again = start_account(database_url=url)
    admin = again.signed_in("admin", DEV_PASSWORD)
    editor = again.admin_stub.GetRole(system_pb.GetRoleRequest(name="roles/editor"), metadata=admin)
    assert list(editor.permissions) == ["care.articles.search"]
    assert len(
        again.admin_stub.ListUsers(admin_service_pb.ListUsersRequest(kind=2), metadata=admin).users
    ) == len(DEMO_STAFF)


@pytest.mark.postgres
def test_production_needs_a_provisioned_pepper_and_seeds_no_demo_staff(
    start_account: StartAccount, data_dir: Path, postgres_url: str, tmp_path: Path
) -> None:
    pepper = data_dir / "production-pepper"
    ensure_key_pair(tmp_path / "identity", "2026-01")
    # The operator's PKI (production refuses the dev one); the test's clients present
    # the edge's certificate.
    pki = ensure_dev_pki(tmp_path / "tls", accounts=("edge",), ca_name="Utility operations CA")
    production = {
        "profile": "production",
        "tls_client_cert_file": pki.client("edge")[0],
        "tls_client_key_file": pki.client("edge")[1],
        "dev_captcha": None,
        "tls_cert_file": pki.server_cert,
        "tls_key_file": pki.server_key,
        "tls_ca_file": pki.ca_cert,
        "identity_keys_dir": tmp_path / "identity",
        "identity_key_id": "2026-01",
        "memcached_servers": ("127.0.0.1:11211",),
    }
    migrate_process("account", postgres_url, MIGRATIONS, runtime_tables=True)
    with pytest.raises(FileNotFoundError):
        start_account(
            **production,
            database_url=postgres_url,
            config=FAST_ARGON2.model_copy(update={"pepper_file": pepper}),
        )
    load_pepper(pepper, create=True)  # provisioned by the operator
    account = start_account(
        **production,
        database_url=postgres_url,
        config=FAST_ARGON2.model_copy(update={"pepper_file": pepper}),
    )
    assert error_reason(fails(lambda: account.login("admin", DEV_PASSWORD))) == "CAPTCHA_INVALID"
    with account.runtime.session() as session:
        assert users.by_username(session, "admin") is None
        # The roles are seeded in every profile.
        assert session.get(models.Role, "admin") is not None


def test_create_staff_user_is_idempotent_and_forces_a_password_change(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    request = admin_service_pb.CreateStaffUserRequest(
        user=account_pb.User(username="fieldworker", display_name="Field worker"),
        roles=["roles/inspector"],
        supply_office_coverage=account_pb.SUPPLY_OFFICE_COVERAGE_LISTED,
        supply_offices=["SO07"],
        temporary_password="Temp-pass-01!",
        request_id=str(uuid.uuid4()),
    )
    first = account.admin_stub.CreateStaffUser(request, metadata=admin)
    again = account.admin_stub.CreateStaffUser(request, metadata=admin)
    assert first.name == again.name
    assert first.kind == 2 and first.password_change_required
    assert list(first.supply_offices) == ["SO07"]
    principal = account.authenticate(account.login("fieldworker", "Temp-pass-01!").token).principal
    assert list(principal.supply_offices) == ["SO07"] and not principal.all_supply_offices
    unknown = fails(
        lambda: account.admin_stub.CreateStaffUser(
            admin_service_pb.CreateStaffUserRequest(
                user=account_pb.User(username="nobodyrole"),
                roles=["roles/wizard"],
                temporary_password="Temp-pass-01!",
            ),
            metadata=admin,
        )
    )
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_users_of_a_supply_office_are_listed_in_pages_by_username(
    account_any_db: Account,
) -> None:
    account = account_any_db
    admin = account.signed_in("admin", DEV_PASSWORD)
    for username, offices in (
        ("linesman", ["QJ-ZY", "QJ-QL"]),
        ("nearmiss", ["QJ-Q", "QJ-QLX", "qj-ql"]),  # none is QJ-QL (codes are case-sensitive)
        ("elsewhere", ["QJ-ZY"]),
    ):
        account.admin_stub.CreateStaffUser(
            admin_service_pb.CreateStaffUserRequest(
                user=account_pb.User(username=username),
                roles=["roles/inspector"],
                supply_office_coverage=account_pb.SUPPLY_OFFICE_COVERAGE_LISTED,
                supply_offices=offices,
                temporary_password="Temp-pass-01!",
            ),
            metadata=admin,
        )

    def walk(**filters: object) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            page = account.admin_stub.ListUsers(
                admin_service_pb.ListUsersRequest(page_size=2, page_token=token, **filters),
                metadata=admin,
            )
            assert len(page.users) <= 2
            names += [u.username for u in page.users]
            token = page.next_page_token
            if not token:
                return names

    # The demo staff other than admin list QJ-QL; admin reaches every office.
    reaching = sorted(["linesman", *(s.username for s in DEMO_STAFF)])
    assert walk(kind=2, supply_office="QJ-QL") == reaching
    assert walk(kind=2, supply_office="QJ-ZY") == ["admin", "elsewhere", "linesman"]
    assert walk(kind=2, supply_office="QJ-ZY", role="roles/inspector") == [
        "elsewhere",
        "linesman",
    ]
    everyone = walk(kind=2)
    assert everyone == sorted(everyone) and len(everyone) == len(DEMO_STAFF) + 3


def test_roles_grants_and_scope_reach_the_next_assertion(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.register("climber")
    token = account.login("climber").token
    user = account.authenticate(token).principal.user
    account.admin_stub.GrantRole(
        admin_service_pb.GrantRoleRequest(name=user, role="roles/dispatcher"), metadata=admin
    )
    account.admin_stub.SetSupplyOffices(
        admin_service_pb.SetSupplyOfficesRequest(
            name=user,
            supply_office_coverage=account_pb.SUPPLY_OFFICE_COVERAGE_LISTED,
            supply_offices=["SO03"],
        ),
        metadata=admin,
    )
    principal = account.authenticate(token).principal
    assert list(principal.roles) == ["customer", "dispatcher"]
    assert "outage.outages.create" in principal.permissions
    assert list(principal.supply_offices) == ["SO03"]
    account.admin_stub.RevokeRole(
        admin_service_pb.RevokeRoleRequest(name=user, role="roles/dispatcher"), metadata=admin
    )
    assert "outage.outages.create" not in account.authenticate(token).principal.permissions
    # A role's permissions are data: a change reaches its holders at once.
    account.admin_stub.UpdateRole(
        system_pb.UpdateRoleRequest(
            role=admin_pb.Role(
                name="roles/customer", permissions=[*principal.permissions, "care.articles.search"]
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["permissions"]),
        ),
        metadata=admin,
    )
    assert "care.articles.search" in account.authenticate(token).principal.permissions
    typo = fails(
        lambda: account.admin_stub.UpdateRole(
            system_pb.UpdateRoleRequest(
                role=admin_pb.Role(name="roles/customer", permissions=["care.articles.serch"]),
                update_mask=field_mask_pb2.FieldMask(paths=["permissions"]),
            ),
            metadata=admin,
        )
    )
    assert typo.code() == grpc.StatusCode.INVALID_ARGUMENT
    stale = fails(
        lambda: account.admin_stub.UpdateRole(
            system_pb.UpdateRoleRequest(
                role=admin_pb.Role(name="roles/customer", title="X", etag="stale")
            ),
            metadata=admin,
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED


def test_disable_ends_sessions_and_refuses_login(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.register("troubled")
    token = account.login("troubled").token
    user = account.authenticate(token).principal.user
    reply = account.admin_stub.DisableUser(
        admin_service_pb.DisableUserRequest(name=user, reason="fraud report"), metadata=admin
    )
    assert reply.ended_session_count == 1 and reply.user.state == account_pb.USER_STATE_DISABLED
    assert error_reason(fails(lambda: account.authenticate(token))) == "SESSION_INVALID"
    disabled = fails(lambda: account.login("troubled"))
    assert (
        disabled.code() == grpc.StatusCode.PERMISSION_DENIED
        and error_reason(disabled) == "ACCOUNT_DISABLED"
    )
    # A wrong password still tells nothing.
    assert (
        error_reason(fails(lambda: account.login("troubled", "Wrong-pass-1!")))
        == "INVALID_CREDENTIALS"
    )
    account.admin_stub.EnableUser(admin_service_pb.EnableUserRequest(name=user), metadata=admin)
    assert account.login("troubled").token


def test_unlock_and_reset_password(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.register("forgetful")
    user = user_of(account, "forgetful")
    for _ in range(5):
        fails(lambda: account.login("forgetful", "Wrong-pass-1!"))
    assert error_reason(fails(lambda: account.login("forgetful"))) == "ACCOUNT_LOCKED"
    account.admin_stub.UnlockUser(admin_service_pb.UnlockUserRequest(name=user), metadata=admin)
    assert account.login("forgetful").token
    reset = account.admin_stub.ResetPassword(
        admin_service_pb.ResetPasswordRequest(name=user, temporary_password="Temp-pass-02!"),
        metadata=admin,
    )
    assert reset.user.password_change_required and reset.ended_session_count == 1
    assert account.login("forgetful", "Temp-pass-02!").password_change_required


def test_admin_lists_and_revokes_sessions(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    account.register("watched")
    token = account.login("watched").token
    user = account.authenticate(token).principal.user
    from palmgrid.account.v1 import account_service_pb2

    sessions = account.public.ListSessions(
        account_service_pb2.ListSessionsRequest(user=user), metadata=admin
    ).sessions
    assert len(sessions) == 1
    account.admin_stub.RevokeSession(
        admin_service_pb.RevokeSessionRequest(name=sessions[0].name, reason="lost phone"),
        metadata=admin,
    )
    assert error_reason(fails(lambda: account.authenticate(token))) == "SESSION_INVALID"


def test_system_parameters_read_and_change_with_etag(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    current = account.admin_stub.GetSystemParameters(
        system_pb.GetSystemParametersRequest(name="systemParameters"), metadata=admin
    )
    assert current.session_idle_timeout.seconds == 1800
    assert current.lockout_threshold == 5
    assert current.notification_quiet_hours.start.hours == 22
    change = admin_pb.SystemParameters(
        name="systemParameters", sms_daily_limit=0, etag=current.etag
    )
    updated = account.admin_stub.UpdateSystemParameters(
        system_pb.UpdateSystemParametersRequest(
            system_parameters=change,
            update_mask=field_mask_pb2.FieldMask(
                paths=["sms_daily_limit", "notification_quiet_hours"]
            ),
        ),
        metadata=admin,
    )
    assert updated.sms_daily_limit == 0
    assert not updated.HasField("notification_quiet_hours")
    assert updated.updater.startswith("users/") and updated.etag != current.etag
    stale = fails(
        lambda: account.admin_stub.UpdateSystemParameters(
            system_pb.UpdateSystemParametersRequest(
                system_parameters=change,
                update_mask=field_mask_pb2.FieldMask(paths=["sms_daily_limit"]),
            ),
            metadata=admin,
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    bad_zone = fails(
        lambda: account.admin_stub.UpdateSystemParameters(
            system_pb.UpdateSystemParametersRequest(
                system_parameters=admin_pb.SystemParameters(
                    name="systemParameters", time_zone="Mars/Olympus"
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["time_zone"]),
            ),
            metadata=admin,
        )
    )
    assert bad_zone.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_service_accounts_are_listed(account: Account) -> None:
    admin = account.signed_in("admin", DEV_PASSWORD)
    listed = account.admin_stub.ListServiceAccounts(
        system_pb.ListServiceAccountsRequest(), metadata=admin
    )
    names = [a.name for a in listed.service_accounts]
    assert "serviceAccounts/edge" in names and names == sorted(names)


def test_revocations_stream_reports_ended_sessions_and_changed_users(account: Account) -> None:
    account.register("revoked")
    token = account.login("revoked").token
    user = account.authenticate(token).principal.user
    stream = account.internal("edge").WatchRevocations(
        internal_pb.WatchRevocationsRequest(), timeout=10
    )
    reset = next(stream)
    assert reset.reset
    account.login("revoked")  # displaces the first session
    change = next(stream)
    stream.cancel()
    assert change.generation > reset.generation
    assert len(change.sessions) == 1 and change.users == [user]
    assert (
        account.authenticate(account.login("revoked").token).revocation_generation
        >= change.generation
    )
