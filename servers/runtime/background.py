"""Background work a service starts beside its server (demo data that waits for other
services, first runs): one daemon thread, told to stop and joined when the Runtime
closes, so a stopped server leaves no thread writing to a closed database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servers.runtime.service import Runtime

JOIN_SECONDS = 10.0


def start_background(
    runtime: Runtime, name: str, work: Callable[[threading.Event], None]
) -> threading.Thread:
    """Run `work(stop)` on a daemon thread called `name`; `stop` is set, and the thread
    joined (at most 10 s), when `runtime` closes. `work` should return soon after."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), name=name, daemon=True)

    def stopped() -> None:
        stop.set()
        thread.join(timeout=JOIN_SECONDS)

    runtime.on_close(stopped)
    thread.start()
    return thread
