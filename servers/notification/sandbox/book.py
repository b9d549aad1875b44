"""What the sandbox gateway received and delivered, kept in memory and, when given a
journal file, appended to it as JSON lines and read back at start: a sandbox that is
stopped and started again (a gateway down, then up) still knows every idempotency key
it delivered, and its counts span both runs.

Every send is `received` (whatever came of it); a send whose key is new and that the
behaviour lets through is also `delivered`, once per key: a repeated key is
acknowledged with the first send's message id and `duplicate: true`.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["delivered", "duplicate", "rejected", "failed"]


@dataclass(frozen=True)
class Entry:
    """One send as the gateway saw it."""

    channel: str  # "sms" or "push"
    key: str
    to: list[str]  # the phone number, or the push tokens
    title: str
    text: str
    outcome: Outcome
    message_id: str = ""


class Book:
    """The received and delivered sends, thread-safe."""

    def __init__(self, journal: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._journal = journal
        self.received: list[Entry] = []
        self.delivered: dict[str, Entry] = {}
        if journal is not None and journal.is_file():
            for line in journal.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._remember(Entry(**json.loads(line)))

    def _remember(self, entry: Entry) -> None:
        self.received.append(entry)
        if entry.outcome == "delivered":
            self.delivered[entry.key] = entry

    def take(
        self,
        channel: str,
        key: str,
        to: list[str],
        title: str,
        text: str,
        *,
        refuse: Outcome | None,
    ) -> Entry:
        """Record a send. `refuse` ("rejected" or "failed") records it undelivered;
        otherwise it is delivered unless its key already was (then "duplicate", with
        the first delivery's message id)."""
        with self._lock:
            first = self.delivered.get(key)
            if refuse is not None:
                entry = Entry(channel, key, to, title, text, refuse)
            elif first is not None:
                entry = Entry(channel, key, to, title, text, "duplicate", first.message_id)
            else:
                message_id = f"{channel}-{uuid.uuid4().hex[:20]}"
                entry = Entry(channel, key, to, title, text, "delivered", message_id)
            self._remember(entry)
            if self._journal is not None:
                with self._journal.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
            return entry

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Everything received, and each delivered message once, in order."""
        with self._lock:
            return {
                "received": [asdict(entry) for entry in self.received],
                "delivered": [asdict(entry) for entry in self.delivered.values()],
            }

    def reset(self) -> None:
        """Forget everything (the journal too)."""
        with self._lock:
            self.received.clear()
            self.delivered.clear()
            if self._journal is not None:
                self._journal.write_text("", encoding="utf-8")
