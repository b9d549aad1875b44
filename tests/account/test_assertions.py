"""Identity assertions: short-lived, signed with the account service's Ed25519 key and
checked locally by every server; forged, altered and expired ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from palmgrid.account.v1 import account_internal_service_pb2 as internal_pb
from palmgrid.account.v1 import account_service_pb2, account_service_pb2_grpc
from palmgrid.type.v1 import identity_pb2
from servers.runtime import AssertionSigner, SettableClock
from servers.runtime.identity import METADATA_KEY, load_signer
from tests.account.conftest import Account, error_reason, fails


def get_me(
    account: Account, assertion: identity_pb2.IdentityAssertion, caller: str = "cli"
) -> object:
    """GetUser on `caller`'s channel with `assertion`."""
    stub = account_service_pb2_grpc.AccountServiceStub(account.channel(caller))
    return stub.GetUser(
        account_service_pb2.GetUserRequest(name="users/me"),
        metadata=((METADATA_KEY, assertion.SerializeToString()),),
    )


def test_assertion_lives_at_most_sixty_seconds_and_names_the_session(account: Account) -> None:
    account.register("asserted")
    login = account.login("asserted")
    answer = account.authenticate(login.token)
    claims = identity_pb2.AssertionClaims.FromString(answer.assertion.claims)
    lifetime = claims.expire_time.ToDatetime() - claims.issue_time.ToDatetime()
    assert timedelta(0) < lifetime <= timedelta(seconds=60)
    assert claims.principal == answer.principal
    assert answer.principal.session == login.session.name
    assert answer.principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER
    assert answer.assertion_expire_time == claims.expire_time
    assert get_me(account, answer.assertion).username == "asserted"


def test_each_service_gets_its_own_assertion_bound_to_the_caller(account: Account) -> None:
    account.register("asserted")
    answer = account.authenticate(account.login("asserted").token, caller="edge")
    assert set(answer.service_assertions) >= {"account", "billing", "care", "outage"}
    for service, assertion in answer.service_assertions.items():
        claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
        assert (claims.audience, claims.caller) == (service, "edge")
    assert answer.assertion == answer.service_assertions["account"]
    assert get_me(account, answer.assertion, caller="edge").username == "asserted"
    # The account service refuses the one minted for billing.
    error = fails(lambda: get_me(account, answer.service_assertions["billing"], "edge"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "another audience" in (error.details() or "")
    # And the CLI cannot replay the edge's own.
    replayed = fails(
        lambda: account.public.GetUser(
            account_service_pb2.GetUserRequest(name="users/me"),
            metadata=((METADATA_KEY, answer.assertion.SerializeToString()),),
        )
    )
    assert "another caller" in (replayed.details() or "")


def test_altered_assertion_is_refused(account: Account) -> None:
    account.register("asserted")
    assertion = account.authenticate(account.login("asserted").token).assertion
    claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
    claims.principal.permissions.append("account.users.list")
    claims.principal.all_supply_offices = True
    altered = identity_pb2.IdentityAssertion(
        claims=claims.SerializeToString(), signature=assertion.signature, key_id=assertion.key_id
    )
    error = fails(lambda: get_me(account, altered))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == "ASSERTION_INVALID"


def test_assertion_signed_by_another_key_is_refused(account: Account) -> None:
    account.register("asserted")
    principal = account.authenticate(account.login("asserted").token).principal
    forged = AssertionSigner(Ed25519PrivateKey.generate(), "dev").sign(
        principal, audience="account", caller="edge"
    )
    assert error_reason(fails(lambda: get_me(account, forged))) == "ASSERTION_INVALID"
    unknown_key = AssertionSigner(Ed25519PrivateKey.generate(), "nosuchkey").sign(
        principal, audience="account", caller="edge"
    )
    assert error_reason(fails(lambda: get_me(account, unknown_key))) == "ASSERTION_INVALID"


def test_expired_assertion_is_refused(account: Account) -> None:
    account.register("asserted")
    principal = account.authenticate(account.login("asserted").token).principal
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    signer = load_signer(account.settings.identity_dir, "dev", clock=SettableClock(two_minutes_ago))
    stale = signer.sign(principal, audience="account", caller="cli")
    assert error_reason(fails(lambda: get_me(account, stale))) == "ASSERTION_INVALID"


def test_missing_assertion_is_unauthenticated(account: Account) -> None:
    # The CLI's certificate alone grants no account.users.get.
    error = fails(
        lambda: account.public.GetUser(account_service_pb2.GetUserRequest(name="users/me"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    plain = account.internal("cli")
    # AuthenticateSession is allowed for the CLI; without a token it is a bad request.
    assert (
        fails(lambda: plain.AuthenticateSession(internal_pb.AuthenticateSessionRequest())).code()
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_public_keys_are_listed_for_servers_without_the_key_folder(account: Account) -> None:
    keys = account.internal("edge").ListAssertionKeys(internal_pb.ListAssertionKeysRequest()).keys
    assert keys[0].key_id == "dev"
    assert keys[0].state == internal_pb.ASSERTION_KEY_STATE_SIGNING
    assert len(keys[0].public_key) == 32


def test_another_users_resources_are_out_of_scope(account: Account) -> None:
    account.register("someoneone")
    other = account.authenticate(account.login("someoneone").token).principal.user
    metadata = account.customer("someonetwo")
    error = fails(
        lambda: account.public.GetUser(
            account_service_pb2.GetUserRequest(name=other), metadata=metadata
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "OUT_OF_SCOPE"
    # Staff with account.users.list read other users in their supply offices (an
    # unbound customer is in none, so only staff covering every office), not change them.
    agent = account.signed_in("agent", "Palm-dev-2026!")
    assert (
        error_reason(
            fails(
                lambda: account.public.GetUser(
                    account_service_pb2.GetUserRequest(name=other), metadata=agent
                )
            )
        )
        == "OUT_OF_SCOPE"
    )
    admin = account.signed_in("admin", "Palm-dev-2026!")
    assert (
        account.public.GetUser(
            account_service_pb2.GetUserRequest(name=other), metadata=admin
        ).username
        == "someoneone"
    )
    from palmgrid.account.v1 import resources_pb2 as account_pb

    change = fails(
        lambda: account.public.UpdateUser(
            account_service_pb2.UpdateUserRequest(
                user=account_pb.User(name=other, display_name="X")
            ),
            metadata=agent,
        )
    )
    assert error_reason(change) == "OUT_OF_SCOPE"
