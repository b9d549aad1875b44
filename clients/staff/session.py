"""Staff sign-in over gRPC, the stored session token, and the identity it proves.

The CLI's certificate only proves that it is the CLI. A staff member signs in with a
username, password and captcha like everyone else; for each command the CLI exchanges
the session token for a short-lived identity assertion and forwards it, so every server
checks the staff member's own permissions and scope.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc

from clients.staff.channels import open_channel
from clients.staff.config import CliConfig
from clients.staff.errors import AUTHENTICATION, CliError
from palmgrid.account.v1 import (
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
    account_service_pb2,
    account_service_pb2_grpc,
)
from palmgrid.account.v1 import resources_pb2 as account_resources

IDENTITY_METADATA_KEY = "palmgrid-identity-bin"


class NotSignedIn(CliError):
    """No stored session: run `palm login` first."""

    def __init__(self, message: str) -> None:
        super().__init__(message, AUTHENTICATION)


def save_token(path: Path, token: str, username: str) -> None:
    """Store the token readable by the owner only, in a directory only they can enter."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # O_CREAT's mode applies to a new file only
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"token": token, "username": username}, handle)


def load_token(path: Path) -> str:
    try:
        return str(json.loads(path.read_text())["token"])
    except (FileNotFoundError, KeyError, ValueError):
        raise NotSignedIn("not signed in: run `palm login USERNAME`") from None


def new_captcha(config: CliConfig) -> account_resources.Captcha:
    with open_channel(config, "account") as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        captcha: account_resources.Captcha = stub.CreateCaptcha(
            account_service_pb2.CreateCaptchaRequest(), timeout=10
        )
        return captcha


def sign_in(
    config: CliConfig,
    username: str,
    password: str,
    captcha: str,
    answer: str,
    second_factor_code: str = "",
) -> account_service_pb2.CreateSessionResponse:
    """Create a session and store its token; returns the login response."""
    with open_channel(config, "account") as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        reply: account_service_pb2.CreateSessionResponse = stub.CreateSession(
            account_service_pb2.CreateSessionRequest(
                username=username,
                password=password,
                captcha=captcha,
                captcha_answer=answer,
                second_factor_code=second_factor_code,
            ),
            timeout=10,
        )
    save_token(config.session_file, reply.token, username)
    return reply


def identity_metadata(config: CliConfig, service: str = "account") -> list[tuple[str, bytes]]:
    """The metadata that makes a call to `service` ("billing") on behalf of the
    signed-in staff member: the assertion the account service signed for that service
    and this CLI (any other service refuses it)."""
    token = load_token(config.session_file)
    with open_channel(config, "account") as channel:
        stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
        reply = stub.AuthenticateSession(
            account_internal_service_pb2.AuthenticateSessionRequest(token=token), timeout=10
        )
    assertion = reply.service_assertions.get(service, reply.assertion)
    return [(IDENTITY_METADATA_KEY, assertion.SerializeToString())]


def sign_out(config: CliConfig) -> None:
    """End the session on the server (if it still lives) and forget the token."""
    try:
        metadata = identity_metadata(config)
        with open_channel(config, "account") as channel:
            stub = account_service_pb2_grpc.AccountServiceStub(channel)
            stub.DeleteSession(
                account_service_pb2.DeleteSessionRequest(name="sessions/current"),
                metadata=metadata,
                timeout=10,
            )
    except (grpc.RpcError, NotSignedIn):
        pass
    config.session_file.unlink(missing_ok=True)
