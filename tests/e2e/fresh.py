"""Usernames and client addresses no other test of the process has used.

The counters live here, not in conftest.py: pytest loads the package's conftest under a
name of its own while the test modules import `tests.e2e.conftest`, and the modules of
the package share one running system, so both must draw from the same counters.
"""

from __future__ import annotations

import itertools
import string

_names = itertools.count()
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own (sent as X-Forwarded-For through the trusted proxy)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def fresh_username() -> str:
    n = next(_names)
    letters = string.ascii_lowercase
    return "tester" + "".join(letters[(n // 26**i) % 26] for i in range(4))
