"""Password policy (each rule named in the 400), Argon2id with a pepper kept outside the
database, hash upgrades at login, password history, staff password expiry."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from argon2 import PasswordHasher as PlainArgon2
from argon2.exceptions import VerifyMismatchError
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlmodel import select

from palmgrid.account.v1 import account_service_pb2
from servers.account import models
from servers.account.config import AccountConfig
from servers.account.passwords import MAX_LENGTH
from tests.account.conftest import GOOD_PASSWORD, Account, StartAccount, fails


def violations(error: grpc.RpcError) -> dict[str, tuple[str, ...]]:
    """BadRequest field -> the rule reasons named for it."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, list[str]] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                found.setdefault(v.field, []).append(v.reason)
    return {k: tuple(sorted(v)) for k, v in found.items()}


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        # The contract's own length rule catches it before the server's policy.
        ("Ab1!", {"STRING_MIN_LEN"}),
        ("Ab1!" + "x" * MAX_LENGTH, {"PASSWORD_TOO_LONG"}),
        ("12345678!", {"PASSWORD_NO_LETTER"}),
        ("Tidepool-!", {"PASSWORD_NO_DIGIT"}),
        ("Tidepool88", {"PASSWORD_NO_SPECIAL"}),
        ("x-Marisol-1", {"PASSWORD_CONTAINS_USERNAME"}),
        ("P@ssw0rd!", {"PASSWORD_COMMON"}),
        ("Welcome@2024", {"PASSWORD_COMMON"}),
        ("abcdefgh", {"PASSWORD_NO_DIGIT", "PASSWORD_NO_SPECIAL"}),
    ],
)
def test_registration_names_every_broken_password_rule(
    account: Account, password: str, broken: set[str]
) -> None:
    error = fails(lambda: account.register("marisol", password))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == {"password": tuple(sorted(broken))}


def test_any_character_up_to_128_is_accepted(account: Account) -> None:
    password = "密码-Ω9" + "x" * (MAX_LENGTH - 5)
    assert len(password) == MAX_LENGTH
    account.register("unicodeuser", password)
    assert account.login("unicodeuser", password).token


def test_usernames_are_letters_at_least_six_and_unique_regardless_of_case(account: Account) -> None:
    assert fails(lambda: account.register("short")).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fails(lambda: account.register("with1digit")).code() == grpc.StatusCode.INVALID_ARGUMENT
    account.register("Lucinda")
    assert fails(lambda: account.register("LUCINDA")).code() == grpc.StatusCode.ALREADY_EXISTS
    # The login name matches regardless of case too.
    assert account.login("lucinda").token


def test_hashes_are_argon2id_and_useless_without_the_pepper(account: Account) -> None:
    account.register("pepperus")
    with account.runtime.session() as session:
        user = session.exec(select(models.User).where(models.User.username == "pepperus")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert GOOD_PASSWORD not in user.password_hash
    # The stored hash is over HMAC(pepper, password): the password alone does not verify.
    with pytest.raises(VerifyMismatchError):
        PlainArgon2().verify(user.password_hash, GOOD_PASSWORD)


def test_hash_is_upgraded_at_login_when_parameters_change(start_account: StartAccount) -> None:
    first = start_account()
    first.register("upgrader")
    with first.runtime.session() as session:
        before = session.exec(select(models.User).where(models.User.username == "upgrader")).one()
    assert "t=1," in before.password_hash
    url = first.settings.account_database_url
    first.close()
    stronger = AccountConfig(argon2_time_cost=2, argon2_memory_kib=2048, argon2_parallelism=1)
    second = start_account(database_url=url, config=stronger)
    assert second.login("upgrader").token
    with second.runtime.session() as session:
        after = session.exec(select(models.User).where(models.User.username == "upgrader")).one()
    assert after.password_hash != before.password_hash
    assert "m=2048,t=2," in after.password_hash
    assert second.login("upgrader").token


def change(account: Account, metadata: object, old: str, new: str) -> object:
    return account.public.ChangePassword(
        account_service_pb2.ChangePasswordRequest(name="users/me", password=old, new_password=new),
        metadata=metadata,
    )


def test_change_password_checks_the_policy_and_recent_passwords(account: Account) -> None:
    metadata = account.customer("historia")
    error = fails(lambda: change(account, metadata, GOOD_PASSWORD, "historia-1!"))
    assert violations(error) == {"newPassword": ("PASSWORD_CONTAINS_USERNAME",)}
    error = fails(lambda: change(account, metadata, GOOD_PASSWORD, GOOD_PASSWORD))
    assert violations(error) == {"newPassword": ("PASSWORD_REUSED",)}
    wrong = fails(lambda: change(account, metadata, "Not-the-one-1", "Fresh-tide-42!"))
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    change(account, metadata, GOOD_PASSWORD, "Fresh-tide-42!")
    assert account.login("historia", "Fresh-tide-42!").token


def test_staff_passwords_expire_and_customer_passwords_do_not(account: Account) -> None:
    account.register("customerx")
    admin = account.signed_in("admin", "Palm-dev-2026!")
    from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
    from palmgrid.account.v1 import resources_pb2 as account_pb

    staff = account.admin_stub.CreateStaffUser(
        admin_pb.CreateStaffUserRequest(
            user=account_pb.User(username="staffer"),
            roles=["roles/agent"],
            temporary_password="Temp-pass-01!",
        ),
        metadata=admin,
    )
    assert staff.HasField("password_expire_time")
    first = account.login("staffer", "Temp-pass-01!")
    assert first.password_change_required
    change(account, account.metadata(first.token), "Temp-pass-01!", GOOD_PASSWORD)
    assert not account.login("staffer").password_change_required
    account.clock.advance(timedelta(days=181))
    assert account.login("staffer").password_change_required
    assert not account.login("customerx").password_change_required
