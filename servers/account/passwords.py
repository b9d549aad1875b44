"""Password policy and hashing.

Policy: every rule is a row of `RULES`; `policy_violations` checks them all and names
each failure, so a 400 lists everything wrong at once. The common-password rule reads
`common_passwords.txt` (shipped with the project) and also catches the usual
disguises: case, digits or symbols around a common word, and look-alike characters
("P@ssw0rd!" is "password").

Hashing: Argon2id (argon2-cffi) over HMAC-SHA256(pepper, password). The pepper is a
server-side secret kept in a file outside the database, so a stolen database alone
does not allow offline guessing. `needs_rehash` tells when a stored hash was made with
other Argon2 parameters, so that a successful login can upgrade it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from servers.account.config import AccountConfig
from servers.runtime import FieldViolation
from servers.runtime.files import directory_lock, write_atomically

MIN_LENGTH = 8
MAX_LENGTH = 128
PEPPER_BYTES = 32

_LOOK_ALIKES = str.maketrans(
    {
        "@": "a",
        "4": "a",
        "3": "e",
        "1": "i",
        "!": "i",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
    }
)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords and words, lower-cased."""
    text = resources.files("servers.account").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _core(password: str) -> str:
    """The password without leading and trailing digits and symbols, look-alikes undone."""
    lowered = password.lower()
    start, end = 0, len(lowered)
    while start < end and not lowered[start].isalpha():
        start += 1
    while end > start and not lowered[end - 1].isalpha():
        end -= 1
    return lowered[start:end].translate(_LOOK_ALIKES)


def is_common(password: str) -> bool:
    """Whether the password is, or thinly disguises, a common password."""
    known = common_passwords()
    lowered = password.lower()
    return lowered in known or lowered.translate(_LOOK_ALIKES) in known or _core(password) in known


@dataclass(frozen=True)
class Rule:
    """One rule of the password policy: its reason code, what it asks, and the check
    (password, username) -> whether the password passes."""

    reason: str
    description: str
    passes: Callable[[str, str], bool]


RULES: tuple[Rule, ...] = (
    Rule(
        "PASSWORD_TOO_SHORT",
        f"must be at least {MIN_LENGTH} characters",
        lambda p, u: len(p) >= MIN_LENGTH,
    ),
    Rule(
        "PASSWORD_TOO_LONG",
        f"must be at most {MAX_LENGTH} characters",
        lambda p, u: len(p) <= MAX_LENGTH,
    ),
    Rule("PASSWORD_NO_LETTER", "must contain a letter", lambda p, u: any(c.isalpha() for c in p)),
    Rule("PASSWORD_NO_DIGIT", "must contain a digit", lambda p, u: any(c.isdecimal() for c in p)),
    Rule(
        "PASSWORD_NO_SPECIAL",
        "must contain a special character (neither letter nor digit)",
        lambda p, u: any(not c.isalnum() for c in p),
    ),
    Rule(
        "PASSWORD_CONTAINS_USERNAME",
        "must not contain the username",
        lambda p, u: not u or u.lower() not in p.lower(),
    ),
    Rule("PASSWORD_COMMON", "must not be a common password", lambda p, u: not is_common(p)),
)

REUSED_REASON = "PASSWORD_REUSED"


def policy_violations(field: str, password: str, username: str) -> list[FieldViolation]:
    """One violation on `field` (lowerCamelCase request path) per broken rule."""
    return [
        FieldViolation(field, rule.description, rule.reason)
        for rule in RULES
        if not rule.passes(password, username)
    ]


def reused_violation(field: str, history: int) -> FieldViolation:
    return FieldViolation(
        field, f"must differ from the current and the last {history} passwords", REUSED_REASON
    )


# --- hashing ----------------------------------------------------------------------------


class PasswordHasher:
    """Argon2id over the peppered password."""

    def __init__(self, pepper: bytes, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        if len(pepper) < PEPPER_BYTES:
            raise ValueError(f"the password pepper must be at least {PEPPER_BYTES} bytes")
        self._pepper = pepper
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified against when the username is unknown, so that the answer takes as
        # long as for a wrong password.
        self._decoy = self.hash(secrets.token_urlsafe(24))

    @classmethod
    def from_config(cls, pepper: bytes, config: AccountConfig) -> PasswordHasher:
        return cls(
            pepper,
            time_cost=config.argon2_time_cost,
            memory_kib=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
        )

    def _peppered(self, password: str) -> bytes:
        return hmac.new(self._pepper, password.encode("utf-8"), hashlib.sha256).digest()

    def keyed_digest(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 over the pepper of `value` for `purpose` (hex): a number that
        must be recognisable later but never kept, such as an identity document's.
        Without the pepper, which lives outside the database, it cannot be guessed
        back from the small space of such numbers."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()

    def hash(self, password: str) -> str:
        """The encoded Argon2id hash (salt and parameters included)."""
        return self._argon2.hash(self._peppered(password))

    def verify(self, encoded: str | None, password: str) -> bool:
        """Whether `password` matches `encoded`; with None (unknown user) it spends the
        same time on a decoy hash and returns False."""
        try:
            return self._argon2.verify(encoded or self._decoy, self._peppered(password)) and (
                encoded is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Whether `encoded` was made with other parameters than the current ones."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


def load_pepper(path: Path, *, create: bool) -> bytes:
    """The pepper in `path`; with `create` (dev profile) a new random one is written
    first when the file is missing. Raises FileNotFoundError otherwise."""
    if create:
        with directory_lock(path.parent):
            if not path.exists():
                write_atomically(path, secrets.token_bytes(PEPPER_BYTES), mode=0o600)
    return _long_enough(path.read_bytes(), str(path))


def decode_pepper(text: str) -> bytes:
    """The pepper given as base64 in PALMGRID_ACCOUNT_PEPPER."""
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("PALMGRID_ACCOUNT_PEPPER: not base64") from None
    return _long_enough(data, "PALMGRID_ACCOUNT_PEPPER")


def _long_enough(pepper: bytes, source: str) -> bytes:
    if len(pepper) < PEPPER_BYTES:
        raise ValueError(f"{source}: the password pepper must be at least {PEPPER_BYTES} bytes")
    return pepper
