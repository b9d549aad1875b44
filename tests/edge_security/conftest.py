"""Fixtures for the edge security tests: Memcached (shared with the cache tests) and
field-encryption keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.fieldcrypt import KeyRing, ensure_key
from tests.cache.conftest import node, pool, start_memcached

__all__ = ["edge_keys", "node", "pool", "start_memcached"]


@pytest.fixture
def edge_keys(tmp_path: Path) -> KeyRing:
    return ensure_key(tmp_path / "fieldcrypt")
