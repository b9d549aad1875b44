"""Field encryption: the app side (clients.fieldcrypt) and the edge side interoperate,
and the edge refuses plaintext, replays, tampering, swapped fields and stale envelopes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from google.protobuf import json_format

from cachetags import CachePool
from clients.fieldcrypt import (
    AppKey,
    EdgePublicKey,
    open_response_fields,
    seal_request_fields,
    seal_value,
    session_binding,
)
from edge.fieldcrypt import (
    ClientKey,
    EnvelopeRejected,
    KeyRing,
    ReplayCheckUnavailable,
    ReplayGuard,
    RequestOpener,
    ResponseSealer,
    create_key,
    retire_key,
)
from palmgrid.account.v1 import (
    account_internal_service_pb2,
    account_service_customer_requests_pb2,
    account_service_pb2,
    resources_pb2,
)
from palmgrid.billing.v1 import resources_pb2 as billing_resources_pb2
from tests.cache.conftest import FAST, kill
from tools import memcached

CREATE_USER = "palmgrid.account.v1.AccountService.CreateUser"
UPDATE_USER = "palmgrid.account.v1.AccountService.UpdateUser"
GET_USER = "palmgrid.account.v1.AccountService.GetUser"
SESSION = session_binding("a-bearer-token-of-some-length")


def opener(keys: KeyRing, pool: CachePool | None, **kwargs: Any) -> RequestOpener:
    return RequestOpener(keys, ReplayGuard(pool, window=300, **kwargs))


def sealed_create_user(keys: KeyRing, session: str = "", **overrides: Any) -> dict[str, Any]:
    body = {
        "user": {"username": "alicewong", "phone": "13800000042"},
        "password": "Pa55-word!",
        "captcha": "captchas/c1",
        "captchaAnswer": "ABCD",
    }
    edge = EdgePublicKey.from_listing(keys.describe())
    descriptor = account_service_pb2.CreateUserRequest.DESCRIPTOR
    return seal_request_fields(
        body, descriptor, edge, method=CREATE_USER, session=session, **overrides
    )


def parse_create_user(body: dict[str, Any]) -> Any:
    return json_format.ParseDict(body, account_service_pb2.CreateUserRequest())


def rejected(call: Callable[[], object]) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        call()
    return caught.value


def test_fields_sealed_by_the_app_open_at_the_edge(edge_keys: KeyRing, pool: CachePool) -> None:
    body = sealed_create_user(edge_keys)
    assert body["user"]["phone"].startswith("pgfe1.") and body["password"].startswith("pgfe1.")
    request = parse_create_user(body)
    assert opener(edge_keys, pool).open(CREATE_USER, request, "") == 2
    assert (request.user.phone, request.password) == ("13800000042", "Pa55-word!")


def test_plaintext_in_a_sensitive_field_is_refused(edge_keys: KeyRing, pool: CachePool) -> None:
    body = sealed_create_user(edge_keys)
    body["user"]["phone"] = "13800000042"
    request = parse_create_user(body)
    error = rejected(lambda: opener(edge_keys, pool).open(CREATE_USER, request, ""))
    assert (error.field, error.problem) == ("user.phone", "plaintext")
    assert request.password.startswith("pgfe1.")  # nothing was changed


def test_a_replayed_envelope_is_refused_by_every_replica(
    edge_keys: KeyRing, node: memcached.MemcachedProcess
) -> None:
    body = sealed_create_user(edge_keys)
    with CachePool([node.address], FAST) as one, CachePool([node.address], FAST) as two:
        opener(edge_keys, one).open(CREATE_USER, parse_create_user(body), "")
        same = rejected(
            lambda: opener(edge_keys, one).open(CREATE_USER, parse_create_user(body), "")
        )
        other = rejected(
            lambda: opener(edge_keys, two).open(CREATE_USER, parse_create_user(body), "")
        )
    assert same.problem == other.problem == "replayed"


def test_without_memcached_replays_to_the_same_edge_are_still_refused(
    edge_keys: KeyRing, node: memcached.MemcachedProcess
) -> None:
    with CachePool([node.address], FAST) as down:
        kill(node)
        edge = opener(edge_keys, down)
        body = sealed_create_user(edge_keys)
        edge.open(CREATE_USER, parse_create_user(body), "")
        error = rejected(lambda: edge.open(CREATE_USER, parse_create_user(body), ""))
        assert error.problem == "replayed"
        strict = opener(edge_keys, down, fallback="reject")
        with pytest.raises(ReplayCheckUnavailable):
            strict.open(CREATE_USER, parse_create_user(sealed_create_user(edge_keys)), "")


def test_a_tampered_ciphertext_is_refused(edge_keys: KeyRing, pool: CachePool) -> None:
    body = sealed_create_user(edge_keys)
    head, ct = body["password"].rsplit(".", 1)
    body["password"] = f"{head}.{('A' if ct[0] != 'A' else 'B')}{ct[1:]}"
    error = rejected(lambda: opener(edge_keys, pool).open(CREATE_USER, parse_create_user(body), ""))
    assert (error.field, error.problem) == ("password", "not_authentic")


def test_a_tampered_timestamp_is_refused(edge_keys: KeyRing, pool: CachePool) -> None:
    body = sealed_create_user(edge_keys)
    prefix, kid, ts, enc, ct = body["password"].split(".")
    body["password"] = ".".join([prefix, kid, str(int(ts) - 1), enc, ct])
    error = rejected(lambda: opener(edge_keys, pool).open(CREATE_USER, parse_create_user(body), ""))
    assert error.problem == "not_authentic"


def test_swapped_fields_are_refused(edge_keys: KeyRing, pool: CachePool) -> None:
    body = sealed_create_user(edge_keys)
    body["password"], body["user"]["phone"] = body["user"]["phone"], body["password"]
    error = rejected(lambda: opener(edge_keys, pool).open(CREATE_USER, parse_create_user(body), ""))
    assert error.problem == "not_authentic"


def test_an_envelope_moved_to_another_method_or_session_is_refused(
    edge_keys: KeyRing, pool: CachePool
) -> None:
    edge = EdgePublicKey.from_listing(edge_keys.describe())
    phone = seal_value("13800000042", edge, method=CREATE_USER, field="user.phone", session=SESSION)
    update = account_service_pb2.UpdateUserRequest(user=resources_pb2.User(phone=phone))
    error = rejected(lambda: opener(edge_keys, pool).open(UPDATE_USER, update, SESSION))
    assert (error.field, error.problem) == ("user.phone", "not_authentic")
    body = sealed_create_user(edge_keys, session=SESSION)
    other = session_binding("another-bearer-token-entirely")
    error = rejected(
        lambda: opener(edge_keys, pool).open(CREATE_USER, parse_create_user(body), other)
    )
    assert error.problem == "not_authentic"


@pytest.mark.parametrize("age", [301, -31])
def test_stale_and_future_timestamps_are_refused(
    edge_keys: KeyRing, pool: CachePool, age: int
) -> None:
    edge = EdgePublicKey.from_listing(edge_keys.describe())
    ts = int(time.time()) - age
    request = account_service_pb2.CreateUserRequest(
        password=seal_value(
            "Pa55-word!", edge, method=CREATE_USER, field="password", session="", ts=ts
        )
    )
    error = rejected(lambda: opener(edge_keys, pool).open(CREATE_USER, request, ""))
    assert error.problem == "stale"


def test_malformed_envelopes_are_refused(edge_keys: KeyRing, pool: CachePool) -> None:
    for bad in [
        "pgfe1.",
        "pgfe1.k.1.2.3",
        "pgfe1.k.x.AAAA.AAAA",
        "pgfe1.k!.1." + "A" * 87 + ".AAAA",
        # Unicode digits in the timestamp (found by fuzzing: int() refused "²", a 500).
        "pgfe1.k.\u00b2." + "A" * 87 + "." + "A" * 22,
        "pgfe1.k.\u0661\u0662." + "A" * 87 + "." + "A" * 22,
    ]:
        request = account_service_pb2.CreateUserRequest(password=bad)
        error = rejected(lambda r=request: opener(edge_keys, pool).open(CREATE_USER, r, ""))  # type: ignore[misc]
        assert error.problem == "malformed"


def test_rotation_keeps_old_envelopes_opening_until_the_key_is_retired(
    tmp_path: Path, pool: CachePool
) -> None:
    directory = tmp_path / "keys"
    old = create_key(directory)
    keys = KeyRing(directory, reload_interval=0)
    sealed_with_old = sealed_create_user(keys)
    new = create_key(directory)
    listing = keys.describe()
    assert [k["kid"] for k in listing["keys"]] == [new, old]
    assert [k["state"] for k in listing["keys"]] == ["CURRENT", "RETIRING"]
    assert opener(keys, pool).open(CREATE_USER, parse_create_user(sealed_with_old), "") == 2
    again = sealed_create_user(KeyRing(directory))
    retire_key(directory, new)
    keys = KeyRing(directory, reload_interval=0)
    error = rejected(lambda: opener(keys, pool).open(CREATE_USER, parse_create_user(again), ""))
    assert error.problem == "unknown_key"


def test_the_key_listing_is_a_jwk_set(edge_keys: KeyRing) -> None:
    (key,) = edge_keys.describe()["keys"]
    assert {key["kty"], key["crv"], key["use"], key["alg"]} == {
        "EC",
        "P-256",
        "enc",
        "HPKE-Base-P256-SHA256-AES256GCM",
    }
    assert len(key["x"]) == len(key["y"]) == 43


def test_response_fields_are_sealed_to_the_app_key_and_open_in_the_app() -> None:
    app = AppKey()
    reply = account_internal_service_pb2.LookupRecipientsResponse(
        recipients=[
            account_internal_service_pb2.Recipient(user="users/a", phone="13800000042"),
            account_internal_service_pb2.Recipient(
                user="users/b", phone="13900000043", push_tokens=["tok-1", "tok-2"]
            ),
        ]
    )
    method = "palmgrid.account.v1.AccountInternalService.LookupRecipients"
    assert ResponseSealer().protect(method, reply, ClientKey(app.public_bytes), SESSION) == 4
    body = json_format.MessageToDict(reply)
    assert "13800000042" not in str(body) and "tok-1" not in str(body)
    opened = open_response_fields(body, reply.DESCRIPTOR, app, method=method, session=SESSION)
    assert [r["phone"] for r in opened["recipients"]] == ["13800000042", "13900000043"]
    assert opened["recipients"][1]["pushTokens"] == ["tok-1", "tok-2"]


def test_a_response_envelope_opens_only_in_its_place() -> None:
    app = AppKey()
    user = resources_pb2.User(name="users/a", phone="13800000042")
    ResponseSealer().protect(GET_USER, user, ClientKey(app.public_bytes), SESSION)
    body = json_format.MessageToDict(user)
    with pytest.raises(InvalidTag):
        open_response_fields(dict(body), user.DESCRIPTOR, app, method=UPDATE_USER, session=SESSION)
    stranger = AppKey()
    with pytest.raises(ValueError, match="not an envelope for this app key"):
        open_response_fields(
            dict(body), user.DESCRIPTOR, stranger, method=GET_USER, session=SESSION
        )


def test_without_an_app_key_response_fields_are_masked() -> None:
    customer = billing_resources_pb2.Customer(
        holder_name="王小明",
        holder_id_number="110101199001011234",
        registered_phone="13800000042",
        debit_account="6222021234567890123",
    )
    ResponseSealer().protect("m", customer, None, "")
    assert (
        customer.holder_name,
        customer.holder_id_number,
        customer.registered_phone,
        customer.debit_account,
    ) == ("王*明", "110101********1234", "138****0042", "***************0123")


def test_sealed_binding_verification_uses_the_request_path(
    edge_keys: KeyRing, pool: CachePool
) -> None:
    # The route's body is `customer_binding`: paths start from the request message.
    edge = EdgePublicKey.from_listing(edge_keys.describe())
    body = {"customer": "customers/3100000001", "verification": "0001"}
    seal_request_fields(
        body,
        resources_pb2.CustomerBinding.DESCRIPTOR,
        edge,
        method="palmgrid.account.v1.AccountService.CreateCustomerBinding",
        session=SESSION,
        prefix="customerBinding",
    )
    request = account_service_customer_requests_pb2.CreateCustomerBindingRequest(
        parent="users/me",
        customer_binding=json_format.ParseDict(body, resources_pb2.CustomerBinding()),
    )
    method = "palmgrid.account.v1.AccountService.CreateCustomerBinding"
    assert opener(edge_keys, pool).open(method, request, SESSION) == 1
    assert request.customer_binding.verification == "0001"


def test_the_documented_test_vector_opens() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from edge.fieldcrypt.envelope import Envelope, context_info

    scalar = 0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA98765432100112233445566
    private_key = ec.derive_private_key(scalar, ec.SECP256R1())
    session = session_binding("P5ZYryKP1R0e5l9o0-20tNRXugLwHu1lTkM5FzE_0Ao")
    assert session == "3Yqa4lSy3VwrNMhF65-UwrPxcuHaS6bsblhBjwfFqOM"
    kid, ts = "20261126060102123456-3fa9c1", 1795674359
    info = context_info("request", kid, ts, CREATE_USER, "user.phone", session)
    assert info.hex() == (
        "70616c6d677269642d6669656c6463727970742d763100726571756573740032303236313132363036303130"
        "323132333435362d33666139633100313739353637343335390070616c6d677269642e6163636f756e742e76"
        "312e4163636f756e74536572766963652e4372656174655573657200757365722e70686f6e65003359716134"
        "6c5379335677724e4d684636352d55777250786375486153366273626c68426a776646714f4d"
    )
    envelope = Envelope.parse(
        "pgfe1.20261126060102123456-3fa9c1.1795674359."
        "BHxDfAuPAnSNyMRQhU_BE-6UD1SQ5y7GMz-7sJNPscOyjD-hrQaLr9arNOsBvu7vOUHy7jlzCInzBgSwzpwPUco."
        "VdwDWtxtPpLeqJ2jmadX3IGTcKhU1AKPOtEm"
    )
    opened = envelope.open(private_key, "request", CREATE_USER, "user.phone", session)
    assert opened == b"13800000042"
