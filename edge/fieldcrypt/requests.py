"""Opening the sealed fields of a request before it goes upstream.

Every non-empty sensitive field must hold an envelope sealed to one of the edge's keys
for this method, this field and this session, not older than the window and not seen
before. Anything else rejects the whole request with `EnvelopeRejected`, which the
edge answers with 400 (reason ENVELOPE_INVALID) and audits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag

from cachetags import steps
from edge.fieldcrypt.envelope import Envelope, EnvelopeFormatError, looks_like_envelope
from edge.fieldcrypt.fields import SensitiveValue, visit
from edge.fieldcrypt.keys import KeyRing
from edge.fieldcrypt.replay import ReplayGuard

__all__ = ["EnvelopeRejected", "RequestOpener"]


class EnvelopeRejected(Exception):
    """A sensitive request field is not an acceptable envelope."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        # One of: plaintext, malformed, unknown_key, stale, not_authentic, replayed.
        self.problem = problem


@dataclass(slots=True)
class _Opened:
    path: str
    plaintext: str
    nonce: bytes


class RequestOpener:
    def __init__(
        self,
        keys: KeyRing,
        replays: ReplayGuard,
        *,
        window: float = 300.0,
        future_skew: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.replays = replays
        self.window = window
        self.future_skew = future_skew
        self.clock = clock

    def open(self, method: str, message: Any, session: str) -> int:
        """Replace every sealed field of `message` by its plaintext; how many were opened.

        `method` is the RPC's full name, `session` the session binding ('' without a
        bearer token). Raises EnvelopeRejected (and changes nothing) on any problem.
        Blocking, with the replay guard on a `CachePool`.
        """
        return steps.run(self.replays.pool, self._open(method, message, session))

    async def aopen(self, method: str, message: Any, session: str) -> int:
        """`open` with the replay guard on the edge's asynchronous pool."""
        return await steps.run_async(self.replays.pool, self._open(method, message, session))

    def _open(self, method: str, message: Any, session: str) -> steps.Steps[int]:
        opened: list[_Opened] = []

        def check(found: SensitiveValue) -> None:
            opened.append(self._open_one(method, found, session))

        visit(message, lambda found: check(found))
        for item in opened:
            if not (yield from self.replays.first_use_steps(item.nonce)):
                raise EnvelopeRejected(item.path, "replayed")
        plain = {item.path: item.plaintext for item in opened}
        visit(message, lambda found: plain[found.path])
        return len(opened)

    def _open_one(self, method: str, found: SensitiveValue, session: str) -> _Opened:
        if not looks_like_envelope(found.value):
            raise EnvelopeRejected(found.path, "plaintext")
        try:
            envelope = Envelope.parse(found.value)
        except EnvelopeFormatError:
            raise EnvelopeRejected(found.path, "malformed") from None
        now = self.clock()
        if envelope.ts < now - self.window or envelope.ts > now + self.future_skew:
            raise EnvelopeRejected(found.path, "stale")
        key = self.keys.get(envelope.kid)
        if key is None:
            raise EnvelopeRejected(found.path, "unknown_key")
        try:
            plaintext = envelope.open(key.private_key, "request", method, found.path, session)
            text = plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise EnvelopeRejected(found.path, "not_authentic") from None
        return _Opened(found.path, text, envelope.enc)
