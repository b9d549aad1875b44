"""The account pepper from the environment (PALMGRID_ACCOUNT_PEPPER, base64) instead of
a file: used as given, never together with a file, refused when malformed or short."""

from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import SecretStr

from servers.account.config import AccountConfig
from servers.account.passwords import PasswordHasher, decode_pepper
from servers.account.service import build_hasher
from servers.runtime.settings import SettingsError
from tests.account.conftest import FAST_ARGON2, Account


def test_a_pepper_from_the_environment_is_the_one_hashes_use(account: Account) -> None:
    pepper = secrets.token_bytes(32)
    config = FAST_ARGON2.model_copy(update={"pepper": SecretStr(base64.b64encode(pepper).decode())})
    hashed = build_hasher(account.runtime, config).hash("Correct-horse-1")
    assert PasswordHasher.from_config(pepper, config).verify(hashed, "Correct-horse-1")
    other = PasswordHasher.from_config(secrets.token_bytes(32), config)
    assert not other.verify(hashed, "Correct-horse-1")


def test_the_environment_reads_it_and_refuses_both_sources() -> None:
    text = base64.b64encode(bytes(range(32))).decode()
    config = AccountConfig.load(environ={"PALMGRID_ACCOUNT_PEPPER": text})
    assert config.pepper is not None
    assert decode_pepper(config.pepper.get_secret_value()) == bytes(range(32))
    assert text not in repr(config)  # a secret, never logged
    with pytest.raises(
        SettingsError, match="PALMGRID_ACCOUNT_PEPPER or PALMGRID_ACCOUNT_PEPPER_FILE"
    ):
        AccountConfig.load(
            environ={"PALMGRID_ACCOUNT_PEPPER": text, "PALMGRID_ACCOUNT_PEPPER_FILE": "/p"}
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64!", "PALMGRID_ACCOUNT_PEPPER: not base64"),
        (
            base64.b64encode(b"short").decode(),
            "PALMGRID_ACCOUNT_PEPPER: the password pepper must be at least 32 bytes",
        ),
    ],
)
def test_a_bad_pepper_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_pepper(text)
