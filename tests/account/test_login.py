"""Login: captcha single use and expiry, identical failures for unknown usernames and
wrong passwords, lockout after consecutive failures and its expiry, disabled users."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import grpc
from grpc_status import rpc_status

from palmgrid.account.v1 import account_service_pb2
from servers.runtime import error_from_rpc
from tests.account.conftest import (
    CAPTCHA,
    GOOD_PASSWORD,
    Account,
    StartAccount,
    error_reason,
    fails,
)


def login_with(
    account: Account, captcha: str, answer: str = CAPTCHA, username: str = "captain"
) -> object:
    return account.public.CreateSession(
        account_service_pb2.CreateSessionRequest(
            username=username, password=GOOD_PASSWORD, captcha=captcha, captcha_answer=answer
        )
    )


def test_captcha_is_an_image_and_expires_in_five_minutes(account: Account) -> None:
    captcha = account.public.CreateCaptcha(account_service_pb2.CreateCaptchaRequest())
    assert captcha.name.startswith("captchas/")
    assert captcha.image_png.startswith(b"\x89PNG\r\n\x1a\n")
    lifetime = captcha.expire_time.ToDatetime() - account.clock.now().replace(tzinfo=None)
    assert lifetime == timedelta(minutes=5)


def test_captcha_is_single_use(account: Account) -> None:
    account.register("captain")
    captcha = account.captcha()
    assert login_with(account, captcha)
    error = fails(lambda: login_with(account, captcha))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "CAPTCHA_INVALID"


def test_a_wrongly_answered_captcha_is_spent_too(account: Account) -> None:
    account.register("captain")
    captcha = account.captcha()
    assert (
        error_reason(fails(lambda: login_with(account, captcha, answer="WRONG")))
        == "CAPTCHA_INVALID"
    )
    assert error_reason(fails(lambda: login_with(account, captcha))) == "CAPTCHA_INVALID"


def test_captcha_expires(account: Account) -> None:
    account.register("captain")
    captcha = account.captcha()
    account.clock.advance(timedelta(minutes=5, seconds=1))
    assert error_reason(fails(lambda: login_with(account, captcha))) == "CAPTCHA_INVALID"
    fresh = account.captcha()
    account.clock.advance(timedelta(minutes=4, seconds=59))
    assert login_with(account, fresh)


def test_unknown_captcha_and_registration_need_a_captcha(account: Account) -> None:
    assert error_reason(fails(lambda: login_with(account, "captchas/nosuch"))) == "CAPTCHA_INVALID"
    error = fails(
        lambda: account.public.CreateUser(
            account_service_pb2.CreateUserRequest(
                user={"username": "nocaptcha"},
                password=GOOD_PASSWORD,
                captcha="captchas/nosuch",
                captcha_answer=CAPTCHA,
            )
        )
    )
    assert error_reason(error) == "CAPTCHA_INVALID"


def test_without_the_dev_captcha_answers_are_random(start_account: StartAccount) -> None:
    account = start_account(dev_captcha=None)
    # The dev answer is no longer accepted, and images differ as their answers do.
    images = {
        account.public.CreateCaptcha(account_service_pb2.CreateCaptchaRequest()).image_png
        for _ in range(3)
    }
    assert len(images) == 3
    captcha = account.captcha()
    assert error_reason(fails(lambda: login_with(account, captcha))) == "CAPTCHA_INVALID"


def test_unknown_username_and_wrong_password_fail_identically(account: Account) -> None:
    account.register("captain")
    unknown = fails(lambda: account.login("nobodyhere"))
    wrong = fails(lambda: account.login("captain", "Wrong-pass-1!"))
    for error in (unknown, wrong):
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_reason(error) == "INVALID_CREDENTIALS"
    assert unknown.details() == wrong.details()
    one, other = rpc_status.from_call(unknown), rpc_status.from_call(wrong)  # type: ignore[arg-type]
    assert one is not None and other is not None
    # The same details apart from the request id.
    assert [d.type_url for d in one.details] == [d.type_url for d in other.details]
    assert error_from_rpc(unknown).metadata == error_from_rpc(wrong).metadata


def test_unknown_username_and_wrong_password_take_similar_time(start_account: StartAccount) -> None:
    from servers.account.config import AccountConfig

    # Realistic hashing cost, so that a skipped verification would show.
    account = start_account(
        config=AccountConfig(argon2_time_cost=2, argon2_memory_kib=16384, argon2_parallelism=1)
    )
    # Four wrong passwords per user, so that no user reaches the lockout (five), whose
    # refusal needs no hashing.
    users = ["captain", "captainb", "captainc"]
    for user in users:
        account.register(user)
    rounds = 4 * len(users)
    captchas = [account.captcha() for _ in range(2 * rounds)]

    def timed(username: str, password: str, captcha: str) -> float:
        started = time.perf_counter()
        fails(
            lambda: account.public.CreateSession(
                account_service_pb2.CreateSessionRequest(
                    username=username, password=password, captcha=captcha, captcha_answer=CAPTCHA
                )
            )
        )
        return time.perf_counter() - started

    # Interleaved, the order alternating each round, so that a burst of load on the
    # machine falls on both kinds alike; medians ignore the odd stalled call.
    unknown: list[float] = []
    wrong: list[float] = []
    for i in range(rounds):
        pair = [
            (unknown, f"ghost{chr(97 + i)}x", captchas[2 * i]),
            (wrong, users[i % len(users)], captchas[2 * i + 1]),
        ]
        for samples, username, captcha in pair[:: 1 if i % 2 else -1]:
            samples.append(timed(username, "Wrong-pass-1!", captcha))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2.0, (unknown, wrong)


def test_five_failures_lock_the_account_even_for_the_right_password(account: Account) -> None:
    account.register("captain")
    for _ in range(5):
        assert (
            error_reason(fails(lambda: account.login("captain", "Wrong-pass-1!")))
            == "INVALID_CREDENTIALS"
        )
    locked = fails(lambda: account.login("captain"))
    assert locked.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(locked) == "ACCOUNT_LOCKED"
    assert error_from_rpc(locked).retry_after == timedelta(minutes=15)  # type: ignore[attr-defined]


def test_lockout_expires_after_fifteen_minutes(account: Account) -> None:
    account.register("captain")
    for _ in range(5):
        fails(lambda: account.login("captain", "Wrong-pass-1!"))
    account.clock.advance(timedelta(minutes=14, seconds=59))
    assert error_reason(fails(lambda: account.login("captain"))) == "ACCOUNT_LOCKED"
    account.clock.advance(timedelta(seconds=2))
    assert account.login("captain").token


def test_a_success_resets_the_count_of_failures(account: Account) -> None:
    account.register("captain")
    for _ in range(4):
        fails(lambda: account.login("captain", "Wrong-pass-1!"))
    assert account.login("captain").token
    for _ in range(4):
        fails(lambda: account.login("captain", "Wrong-pass-1!"))
    assert account.login("captain").token


def test_unknown_usernames_lock_like_real_ones(account: Account) -> None:
    for _ in range(5):
        fails(lambda: account.login("phantom", "Wrong-pass-1!"))
    assert error_reason(fails(lambda: account.login("phantom"))) == "ACCOUNT_LOCKED"


def test_lockout_threshold_and_duration_are_system_parameters(account: Account) -> None:
    from google.protobuf import field_mask_pb2

    from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
    from palmgrid.account.v1 import admin_resources_pb2 as admin_pb

    admin = account.signed_in("admin", "Palm-dev-2026!")
    change = admin_pb.SystemParameters(name="systemParameters", lockout_threshold=2)
    change.lockout_duration.FromTimedelta(timedelta(minutes=2))
    account.admin_stub.UpdateSystemParameters(
        system_pb.UpdateSystemParametersRequest(
            system_parameters=change,
            update_mask=field_mask_pb2.FieldMask(paths=["lockout_threshold", "lockout_duration"]),
        ),
        metadata=admin,
    )
    account.register("captain")
    for _ in range(2):
        fails(lambda: account.login("captain", "Wrong-pass-1!"))
    assert error_reason(fails(lambda: account.login("captain"))) == "ACCOUNT_LOCKED"
    account.clock.advance(timedelta(minutes=2, seconds=1))
    assert account.login("captain").token
