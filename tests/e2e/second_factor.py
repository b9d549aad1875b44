"""Enrolling a staff member's TOTP second factor over the edge, as the console does,
with the codes an authenticator app would show computed by pyotp."""

from __future__ import annotations

import time

import pyotp

from clients.edge_client import ACCOUNT, EdgeClient


def enrol(client: EdgeClient) -> dict[str, str]:
    """Start the enrolment of `client`'s user: the secret and its otpauth URI."""
    path = "/v1/users/me:enrollSecondFactor"
    answer: dict[str, str] = client.call(ACCOUNT + "EnrollSecondFactor", "POST", path, {}).json
    return answer


def confirm(client: EdgeClient, code: str) -> list[str]:
    """Confirm the enrolment with `code`; the recovery codes."""
    path = "/v1/users/me:confirmSecondFactor"
    reply = client.call(ACCOUNT + "ConfirmSecondFactor", "POST", path, {"code": code}).json
    return list(reply["recoveryCodes"])


def enrolled(client: EdgeClient) -> tuple[pyotp.TOTP, str]:
    """Enrol and confirm `client`'s user: its authenticator and the code spent."""
    totp = pyotp.TOTP(enrol(client)["secret"])
    spent = totp.now()
    confirm(client, spent)
    return totp, spent


def fresh_code(totp: pyotp.TOTP, spent: str) -> str:
    """A code of a later time step than `spent`'s: the next step's, which the service
    accepts as clock drift, so no test waits for the 30 s step to pass; only when
    `spent` is itself the next step's code does this wait for the clock to move on."""
    while (code := totp.at(time.time() + totp.interval)) == spent:
        time.sleep(1)
    return code
