"""Entries: keys cover everything an answer depends on; sealed values stay sealed."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

import pytest

from cachetags import MAX_LIFETIME, CachePool, EntryStore, TagGenerations, ValueCipher, entry_key
from cachetags.crypto import CipherError


def test_the_key_changes_with_method_request_and_scope() -> None:
    base = entry_key("/m/A", b"req", "customer:customers/1")
    assert base != entry_key("/m/B", b"req", "customer:customers/1")
    assert base != entry_key("/m/A", b"req2", "customer:customers/1")
    assert base != entry_key("/m/A", b"req", "customer:customers/2")
    assert len(base) < 250


def test_an_entry_is_valid_only_under_the_generations_it_was_stored_with(
    pool: CachePool,
) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    key = entry_key("/m", b"r", "global")
    entry, generations = store.lookup(key, ["customer/customers/1", "tariffs"])
    assert entry is None and set(generations) == {"customer/customers/1", "tariffs"}
    store.put(key, b"answer", ttl=10, seal=True, generations=generations)
    found, again = store.lookup(key, ["customer/customers/1", "tariffs"], sealed=True)
    assert found is not None and found.payload == b"answer" and again == generations
    TagGenerations(pool).bump(["tariffs"])
    assert store.lookup(key, ["customer/customers/1", "tariffs"])[0] is None
    assert store.get(key) is not None  # still there, but never served again


def test_a_sealed_entry_round_trips_and_memcached_holds_no_plaintext(pool: CachePool) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    key = entry_key("/m", b"r", "global")
    store.put(key, b"holder 13800000042", ttl=10, stale_for=5, seal=True)
    assert b"13800000042" not in (pool.get(key) or b"")
    entry = store.get(key, sealed=True)
    assert entry is not None and entry.payload == b"holder 13800000042"
    assert entry.stale_until - entry.fresh_until == pytest.approx(5)


def test_a_sealed_value_copied_to_another_key_does_not_open(pool: CachePool) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    store.put("pg1:e:one", b"secret", ttl=10, seal=True)
    pool.set("pg1:e:two", pool.get("pg1:e:one") or b"", 10, wait=True)
    assert store.get("pg1:e:two") is None


def test_a_clear_entry_is_ignored_where_a_sealed_one_is_expected(pool: CachePool) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    store.put("pg1:e:k", b"planted", ttl=10, seal=False)
    assert store.get("pg1:e:k") is not None
    assert store.get("pg1:e:k", sealed=True) is None


def test_another_key_cannot_open_a_sealed_entry(pool: CachePool) -> None:
    EntryStore(pool, ValueCipher.generate()).put("pg1:e:k", b"x", ttl=10, seal=True)
    assert EntryStore(pool, ValueCipher.generate()).get("pg1:e:k") is None
    with pytest.raises(CipherError):
        ValueCipher.generate().open(b"\x01\x01" + bytes(40), b"aad")


def test_lifetimes_are_bounded(pool: CachePool) -> None:
    entry = EntryStore(pool).put("pg1:e:k", b"x", ttl=10**9, stale_for=10**9, seal=False)
    assert entry.stale_until - entry.stored_at == MAX_LIFETIME


def test_cipher_keys_rotate_through_the_key_file(tmp_path: Path) -> None:
    old, new = bytes(range(32)), bytes(range(1, 33))
    path = tmp_path / "cache.key"
    path.write_text(f"1 {base64.b64encode(old).decode()}\n")
    sealed = ValueCipher.from_file(path).seal(b"v", b"k")
    path.write_text(f"2 {base64.b64encode(new).decode()}\n1 {base64.b64encode(old).decode()}\n")
    rotated = ValueCipher.from_file(path)
    assert rotated.open(sealed, b"k") == b"v"
    assert rotated.seal(b"v", b"k")[1] == 2


def test_an_entry_says_whether_it_holds_the_json_body(pool: CachePool) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    store.put("pg1:e:body", b'{"name":"tariffs/t"}', ttl=10, seal=True, json_body=True)
    store.put("pg1:e:wire", b"\x0a\x09tariffs/t", ttl=10, seal=True)
    body, wire = store.get("pg1:e:body", sealed=True), store.get("pg1:e:wire", sealed=True)
    assert body is not None and body.json_body and body.payload == b'{"name":"tariffs/t"}'
    assert wire is not None and not wire.json_body


def test_an_entry_carries_the_sha256_of_its_payload_under_the_seal(pool: CachePool) -> None:
    store = EntryStore(pool, ValueCipher.generate())
    digest = hashlib.sha256(b"answer").digest()
    store.put("pg1:e:sealed", b"answer", ttl=10, seal=True, json_body=True)
    store.put("pg1:e:clear", b"answer", ttl=10, seal=False)
    for key, sealed in (("pg1:e:sealed", True), ("pg1:e:clear", False)):
        entry = store.get(key, sealed=sealed)
        assert entry is not None and entry.payload == b"answer" and entry.digest == digest
    # Sealed, the digest is not in the clear: it would let a reader of Memcached test
    # guesses of the payload.
    assert digest not in (pool.get("pg1:e:sealed") or b"")
    # A clear value too short to hold its digest is unreadable, not a crash.
    raw = pool.get("pg1:e:clear") or b""
    pool.set("pg1:e:clear", raw[: len(raw) - len(b"answer") - 1], 10, wait=True)
    assert store.get("pg1:e:clear") is None


def test_an_entry_of_the_version_before_the_digest_is_still_read(pool: CachePool) -> None:
    # Version 2: the header and the generations, no digest; the payload follows.
    generations = ((b"tariffs", b"g1"),)
    head = struct.pack(">BBdddH", 2, 0x02, 1.0e9, 4.0e9, 4.0e9, len(generations))
    for tag, token in generations:
        head += struct.pack(">H", len(tag)) + tag + struct.pack(">H", len(token)) + token
    pool.set("pg1:e:v2", head + b'{"name":"tariffs/t"}', 10, wait=True)
    entry = EntryStore(pool).get("pg1:e:v2")
    assert entry is not None and entry.payload == b'{"name":"tariffs/t"}'
    assert entry.json_body and entry.digest == b"" and entry.generations == (("tariffs", b"g1"),)
    # And sealed, as most entries are: the header and generations are the associated data.
    cipher = ValueCipher.generate()
    sealed_head = struct.pack(">BBdddH", 2, 0x03, 1.0e9, 4.0e9, 4.0e9, 0)
    body = cipher.seal(b"personal", b"pg1:e:v2s" + sealed_head)
    pool.set("pg1:e:v2s", sealed_head + body, 10, wait=True)
    sealed = EntryStore(pool, cipher).get("pg1:e:v2s", sealed=True)
    assert sealed is not None and sealed.payload == b"personal" and sealed.digest == b""
