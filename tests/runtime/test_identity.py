"""Identity assertions: signed by the account service, checked by every server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from palmgrid.type.v1 import identity_pb2
from servers.runtime import (
    AssertionInvalid,
    AssertionSigner,
    AssertionVerifier,
    KeyDirectory,
    SettableClock,
)
from servers.runtime.identity import (
    ensure_key_pair,
    generate_private_key,
    load_signer,
    write_key_pair,
)

ALICE = identity_pb2.Principal(
    user="users/alice",
    username="alicealice",
    kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
    permissions=["probe.identity.get"],
    customers=["customers/3100000001"],
)


START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_signed_assertion_verifies_to_its_principal(
    signer: AssertionSigner, verifier: AssertionVerifier
) -> None:
    data = signer.sign(ALICE, audience="probe").SerializeToString()
    assert verifier.verify(data) == ALICE


def test_assertion_expires_after_its_lifetime() -> None:
    key, clock = generate_private_key(), SettableClock(START)
    signer = AssertionSigner(key, "k", clock=clock)
    verifier = AssertionVerifier({"k": key.public_key()}, audience="probe", clock=clock)
    data = signer.sign(ALICE, audience="probe").SerializeToString()
    clock.advance(timedelta(seconds=60))
    assert verifier.verify(data) == ALICE  # within the clock skew
    clock.advance(timedelta(seconds=5))
    with pytest.raises(AssertionInvalid, match="expired"):
        verifier.verify(data)


def test_assertion_from_the_future_is_refused() -> None:
    key, clock = generate_private_key(), SettableClock(START)
    signer = AssertionSigner(key, "k", clock=clock)
    verifier = AssertionVerifier({"k": key.public_key()}, audience="probe", clock=clock)
    clock.advance(timedelta(seconds=30))
    data = signer.sign(ALICE, audience="probe").SerializeToString()
    clock.set(START)
    with pytest.raises(AssertionInvalid, match="future"):
        verifier.verify(data)


def test_lifetime_longer_than_sixty_seconds_is_refused() -> None:
    with pytest.raises(ValueError):
        AssertionSigner(generate_private_key(), "k", lifetime=timedelta(minutes=5))
    key = generate_private_key()
    claims = identity_pb2.AssertionClaims(principal=ALICE, audience="probe")
    now = datetime.now(UTC)
    claims.issue_time.FromDatetime(now)
    claims.expire_time.FromDatetime(now + timedelta(minutes=5))
    data = claims.SerializeToString()
    assertion = identity_pb2.IdentityAssertion(claims=data, signature=key.sign(data), key_id="k")
    verifier = AssertionVerifier({"k": key.public_key()}, audience="probe")
    with pytest.raises(AssertionInvalid, match="lifetime"):
        verifier.verify(assertion.SerializeToString())


def test_altered_claims_do_not_verify(signer: AssertionSigner, verifier: AssertionVerifier) -> None:
    assertion = signer.sign(ALICE, audience="probe")
    claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
    claims.principal.permissions.append("account.users.delete")
    assertion.claims = claims.SerializeToString()
    with pytest.raises(AssertionInvalid, match="signature"):
        verifier.verify(assertion.SerializeToString())


def test_wrong_key_and_unknown_key_id_are_refused(verifier: AssertionVerifier) -> None:
    impostor = AssertionSigner(generate_private_key(), "k1")
    with pytest.raises(AssertionInvalid, match="signature"):
        verifier.verify(impostor.sign(ALICE, audience="probe").SerializeToString())
    stranger = AssertionSigner(generate_private_key(), "k9")
    with pytest.raises(AssertionInvalid, match="unknown key"):
        verifier.verify(stranger.sign(ALICE, audience="probe").SerializeToString())


def test_an_assertion_for_another_service_and_garbage_are_refused() -> None:
    key = generate_private_key()
    billing = AssertionVerifier({"k": key.public_key()}, audience="billing")
    care = AssertionVerifier({"k": key.public_key()}, audience="care")
    for_billing = AssertionSigner(key, "k").sign(ALICE, audience="billing")
    assert billing.verify(for_billing.SerializeToString()) == ALICE
    with pytest.raises(AssertionInvalid, match="audience"):
        care.verify(for_billing.SerializeToString())
    with pytest.raises(ValueError, match="audience"):
        AssertionSigner(key, "k").sign(ALICE, audience="")
    verifier = billing
    with pytest.raises(AssertionInvalid, match="malformed"):
        verifier.verify(b"\xff\xff\xff")
    with pytest.raises(AssertionInvalid, match="missing"):
        verifier.verify(None)


def test_key_directory_picks_up_a_rotated_key(tmp_path: Path) -> None:
    ensure_key_pair(tmp_path, "2026-01")
    keys = KeyDirectory(tmp_path, reload_interval=0)
    verifier = AssertionVerifier(keys, audience="probe")
    old = load_signer(tmp_path, "2026-01")
    assert verifier.verify(old.sign(ALICE, audience="probe").SerializeToString()) == ALICE
    write_key_pair(tmp_path, "2026-02", generate_private_key())
    new = load_signer(tmp_path, "2026-02")
    assert verifier.verify(new.sign(ALICE, audience="probe").SerializeToString()) == ALICE


def test_ensure_key_pair_keeps_an_existing_key(tmp_path: Path) -> None:
    private = ensure_key_pair(tmp_path, "dev")
    first = private.read_bytes()
    ensure_key_pair(tmp_path, "dev")
    assert private.read_bytes() == first
    assert private.stat().st_mode & 0o777 == 0o600
