"""Access over the wire: assertions in `palmgrid-identity-bin`, method permissions from
`(palmgrid.options.v1.method)`, the principal handed to servicers."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from palmgrid.type.v1 import identity_pb2
from runtime.statuses import error_info
from servers.runtime import AssertionSigner, SettableClock
from servers.runtime.identity import METADATA_KEY, generate_private_key

CUSTOMER = identity_pb2.Principal(
    user="users/alice",
    kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
    permissions=["probe.identity.get"],
)
NO_PERMISSIONS = identity_pb2.Principal(user="users/bob", kind=identity_pb2.PRINCIPAL_KIND_STAFF)


def _who(stub: Any, probe: types.ModuleType, assertion: bytes | None) -> Any:
    metadata = [(METADATA_KEY, assertion)] if assertion is not None else []
    return stub.WhoAmI(probe.pb2.WhoAmIRequest(), metadata=metadata, timeout=5)


def _refused(stub: Any, probe: types.ModuleType, assertion: bytes | None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _who(stub, probe, assertion)
    return caught.value


def _unauthenticated(error: grpc.RpcError) -> None:
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "ASSERTION_INVALID"


def test_valid_assertion_is_accepted_and_principal_exposed(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    reply = _who(stub, probe, signer.sign(CUSTOMER, audience="probe").SerializeToString())
    assert (reply.user, reply.kind) == ("users/alice", "PRINCIPAL_KIND_CUSTOMER")
    # The assertion is for this service only: downstream calls go as the service itself.
    assert not reply.forwards_identity


def test_missing_assertion_is_unauthenticated(stub: Any, probe: types.ModuleType) -> None:
    _unauthenticated(_refused(stub, probe, None))


def test_expired_assertion_is_unauthenticated(
    stub: Any, probe: types.ModuleType, identity_key: Ed25519PrivateKey
) -> None:
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    stale = AssertionSigner(identity_key, "k1", clock=SettableClock(two_minutes_ago))
    _unauthenticated(
        _refused(stub, probe, stale.sign(CUSTOMER, audience="probe").SerializeToString())
    )


def test_altered_assertion_is_unauthenticated(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    assertion = signer.sign(CUSTOMER, audience="probe")
    claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
    claims.principal.user = "users/mallory"
    assertion.claims = claims.SerializeToString()
    _unauthenticated(_refused(stub, probe, assertion.SerializeToString()))


def test_assertion_signed_by_a_wrong_key_is_unauthenticated(
    stub: Any, probe: types.ModuleType
) -> None:
    wrong = AssertionSigner(generate_private_key(), "k1")
    _unauthenticated(
        _refused(stub, probe, wrong.sign(CUSTOMER, audience="probe").SerializeToString())
    )
    unknown = AssertionSigner(generate_private_key(), "unknown")
    _unauthenticated(
        _refused(stub, probe, unknown.sign(CUSTOMER, audience="probe").SerializeToString())
    )


def test_an_assertion_for_another_service_is_unauthenticated(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    for_billing = signer.sign(CUSTOMER, audience="billing").SerializeToString()
    error = _refused(stub, probe, for_billing)
    _unauthenticated(error)
    assert "audience" in (error.details() or "")


def test_missing_permission_is_permission_denied(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    error = _refused(stub, probe, signer.sign(NO_PERMISSIONS, audience="probe").SerializeToString())
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(error).reason == "PERMISSION_DENIED"
    assert "probe.identity.get" in error.details()


def test_public_method_needs_no_assertion(stub: Any, probe: types.ModuleType) -> None:
    assert stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg")).user_name == "abcdefg"


def test_public_method_with_a_bad_assertion_is_served_anonymously(
    stub: Any, probe: types.ModuleType
) -> None:
    wrong = AssertionSigner(generate_private_key(), "k1")
    reply = stub.Echo(
        probe.pb2.EchoRequest(user_name="abcdefg"),
        metadata=[(METADATA_KEY, wrong.sign(CUSTOMER, audience="probe").SerializeToString())],
    )
    assert reply.user_name == "abcdefg"
