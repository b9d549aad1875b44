"""A staff second factor through the real edge: enrolment confirmed by a first code,
sign-in asks for a code, a replayed code is refused, a wrong code counts toward the
login throttle, a recovery code works once, and an administrator's reset."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from tests.e2e.conftest import ClientFactory, fresh_address, refusal
from tests.e2e.second_factor import confirm, enrol, enrolled, fresh_code
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD

ADMIN = "palmgrid.account.v1.AccountAdminService."
# It leaves the demo agent with a second factor, which other modules sign in as.
OWN_SYSTEM = True


def refused(action: Callable[[], object]) -> str:
    with pytest.raises(EdgeApiError) as error:
        action()
    return f"{error.value.status} {error.value.reason}"


def test_enrol_sign_in_replay_wrong_code_recovery_and_reset(
    staff: Callable[[str], EdgeClient], client_for: ClientFactory
) -> None:
    editor = staff("editor")
    editor_name = editor.me()["name"]
    enrolment = enrol(editor)
    assert enrolment["provisioningUri"].startswith("otpauth://totp/PalmGrid:editor?")
    totp = pyotp.TOTP(enrolment["secret"])
    wrong_code = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    assert refused(lambda: confirm(editor, wrong_code)) == "400 SECOND_FACTOR_INVALID"
    first = totp.now()
    recovery = confirm(editor, first)
    assert len(set(recovery)) == 10

    # Sign-in now needs a code; the one spent on confirmation is not accepted again.
    address = fresh_address()
    phone = client_for(address)
    assert refused(lambda: phone.login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)) == (
        "401 SECOND_FACTOR_REQUIRED"
    )
    replayed = lambda: phone.login(  # noqa: E731
        "editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code=first
    )
    assert refused(replayed) == "401 SECOND_FACTOR_INVALID"
    code = fresh_code(totp, first)
    assert phone.login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code=code)
    assert phone.me()["username"] == "editor"
    again = client_for(address)
    assert refused(
        lambda: again.login(
            "editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code=code
        )
    ) == ("401 SECOND_FACTOR_INVALID")

    # Wrong codes count toward the login throttle: five in a row lock the address.
    stranger = client_for(fresh_address())
    outcomes = [
        refused(
            lambda: stranger.login(
                "editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code="000000"
            )
        )
        for _ in range(6)
    ]
    assert outcomes[-1] == "429 ACCOUNT_LOCKED"
    assert set(outcomes[:-1]) <= {"401 SECOND_FACTOR_INVALID", "429 ACCOUNT_LOCKED"}

    # A recovery code signs in once.
    helpdesk = client_for(fresh_address())
    assert helpdesk.login(
        "editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code=recovery[0]
    )
    reused = client_for(fresh_address())
    assert refused(
        lambda: reused.login(
            "editor", STAFF_PASSWORD, captcha_answer=CAPTCHA, second_factor_code=recovery[0]
        )
    ) == ("401 SECOND_FACTOR_INVALID")

    # An administrator resets the factor: the password alone signs in again.
    admin = staff("admin")
    reset = admin.call(
        ADMIN + "ResetSecondFactor", "POST", f"/v1/{editor_name}:resetSecondFactor", {}
    ).json
    assert reset["removed"] is True
    action = "/palmgrid.account.v1.AccountAdminService/ResetSecondFactor"
    audit = admin.send("GET", "/v1/auditRecords", params={"action": action}).json
    assert [(r["resource"], r["details"]) for r in audit["auditRecords"]] == [
        (editor_name, {"removed": "true"})
    ]
    assert client_for(fresh_address()).login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)


def test_a_role_that_requires_a_second_factor_limits_the_session_to_enrolment(
    staff: Callable[[str], EdgeClient], client_for: ClientFactory
) -> None:
    admin = staff("admin")
    parameters = "/v1/systemParameters"
    update = ADMIN + "UpdateSystemParameters"

    def require(roles: list[str]) -> None:
        admin.call(
            update,
            "PATCH",
            parameters,
            {"name": "systemParameters", "secondFactorRoles": roles},
            params={"updateMask": "secondFactorRoles"},
        )

    require(["roles/agent"])
    try:
        agent = client_for(fresh_address())
        signed = agent.login("agent", STAFF_PASSWORD, captcha_answer=CAPTCHA)
        assert signed["secondFactorEnrollmentRequired"] is True
        assert refusal(agent, "/v1/feedback") == "403 PERMISSION_DENIED"
        enrolled(agent)
        # The same session now has the role's permissions.
        assert refusal(agent, "/v1/feedback") == "200"
        other = client_for(fresh_address())
        assert refused(lambda: other.login("agent", STAFF_PASSWORD, captcha_answer=CAPTCHA)) == (
            "401 SECOND_FACTOR_REQUIRED"
        )
        # An editor, whose role is not listed, signs in with the password alone.
        editor = client_for(fresh_address()).login("editor", STAFF_PASSWORD, captcha_answer=CAPTCHA)
        assert editor.get("secondFactorEnrollmentRequired", False) is False
    finally:
        require([])
