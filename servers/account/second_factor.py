"""Staff second factor: TOTP (RFC 6238, pyotp) with single-use recovery codes.

The secret is sealed with AES-256-GCM under a key derived from the password pepper
(a file outside the database), bound to the user's id: a stolen database alone gives
neither the secrets nor a way to guess recovery codes, which are kept as keyed digests
(HMAC over the pepper; they are random, so no slow hash is needed). A code is
accepted for its 30-second step and one step either side (clock drift), and only for
a step later than the last accepted one: a code seen once is refused after.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session, select

from servers.account import models
from servers.account.parameters import Parameters
from servers.account.passwords import PasswordHasher
from servers.account.roles import grants_writes, permissions_of, role_name, roles_of
from servers.account.users import STAFF

ISSUER = "PalmGrid"
RECOVERY_CODE_COUNT = 10
_STEP_SECONDS = 30
_DRIFT_STEPS = 1
_NONCE_BYTES = 12


def _key(hasher: PasswordHasher) -> bytes:
    return bytes.fromhex(hasher.keyed_digest("second-factor-secret-key", ""))


def seal(hasher: PasswordHasher, user_id: str, secret: str) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(_key(hasher)).encrypt(nonce, secret.encode(), user_id.encode())


def unseal(hasher: PasswordHasher, user_id: str, sealed: bytes) -> str:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return AESGCM(_key(hasher)).decrypt(nonce, ciphertext, user_id.encode()).decode()


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within the drift window whose code is `code`; None when none is."""
    totp = pyotp.TOTP(secret, interval=_STEP_SECONDS)
    step = int(now.timestamp()) // _STEP_SECONDS
    for candidate in range(step - _DRIFT_STEPS, step + _DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.at(candidate * _STEP_SECONDS), code):
            return candidate
    return None


def confirmed(session: Session, user_id: str) -> models.SecondFactor | None:
    factor = session.get(models.SecondFactor, user_id)
    return factor if factor is not None and factor.confirm_time is not None else None


# What a session may do while its user must enrol a second factor first.
ENROLMENT_PERMISSIONS = (
    "account.secondFactors.enroll",
    "account.users.get",
    "account.sessions.delete",
)


def enrollment_required(session: Session, user: models.User, params: Parameters) -> bool:
    """Whether `user` is staff who must have a second factor — holding a role of
    `second_factor_roles`, or (production) any permission that changes something — and
    has no confirmed one yet."""
    if user.kind != STAFF or not (params.second_factor_roles or params.writers_need_second_factor):
        return False
    role_ids = roles_of(session, user.id)
    listed = bool({role_name(role_id) for role_id in role_ids} & params.second_factor_roles)
    writer = params.writers_need_second_factor and grants_writes(permissions_of(session, role_ids))
    return (listed or writer) and confirmed(session, user.id) is None


def accept_code(
    hasher: PasswordHasher, session: Session, factor: models.SecondFactor, code: str, now: datetime
) -> bool:
    """Whether `code` (a TOTP code or a recovery code) is good for `factor` now; a good
    one is spent. Call in a write transaction: the row is locked while it is checked."""
    session.refresh(factor, with_for_update=True)
    if code.isdecimal() and len(code) == 6:
        secret = unseal(hasher, factor.user_id, factor.sealed_secret)
        step = matching_step(secret, code, now)
        if step is None or step <= factor.last_used_step:
            return False
        factor.last_used_step = step
        session.add(factor)
        return True
    recovery = session.get(
        models.RecoveryCode, (factor.user_id, recovery_digest(hasher, code)), with_for_update=True
    )
    if recovery is None or recovery.used_time is not None:
        return False
    recovery.used_time = now
    session.add(recovery)
    return True


def recovery_digest(hasher: PasswordHasher, code: str) -> str:
    return hasher.keyed_digest("second-factor-recovery-code", code.strip().lower())


def new_recovery_codes(hasher: PasswordHasher, session: Session, user_id: str) -> list[str]:
    """Replace the user's recovery codes with ten new ones: xxxxx-xxxxx, hex."""
    for old in session.exec(
        select(models.RecoveryCode).where(models.RecoveryCode.user_id == user_id)
    ):
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)  # 40 bits, and every guess counts toward the throttle
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(models.RecoveryCode(user_id=user_id, code_digest=recovery_digest(hasher, code)))
    return codes


def remove(session: Session, user_id: str) -> bool:
    """Remove the user's factor and recovery codes; whether there was a factor."""
    factor = session.get(models.SecondFactor, user_id)
    for code in session.exec(
        select(models.RecoveryCode).where(models.RecoveryCode.user_id == user_id)
    ):
        session.delete(code)
    if factor is None:
        return False
    session.delete(factor)
    return True
