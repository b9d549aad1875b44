"""Ports for processes that must be told their address before they listen.

Asking the kernel for port 0 and handing the number on is racy: until the process
binds it, the kernel may give the same number to another `bind(("", 0))` or to an
outgoing connection's source port, both of which come from the ephemeral range. So
ports are picked below that range, where the kernel never hands out numbers on its
own, and a number is never handed out twice by one process. Processes running side by
side (the test suite's workers) each pick from a slice of their own:
`PALMGRID_PORT_SLICE=<index>/<count>`. A slice under 1,000 ports falls back to the
kernel's choice.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

_LOWEST = 10000
_DEFAULT_EPHEMERAL_START = 32768
_handed_out: set[int] = set()
_random = random.SystemRandom()


def _ephemeral_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _slice(low: int, high: int) -> tuple[int, int]:
    """This process's part of [low, high): all of it unless PALMGRID_PORT_SLICE says."""
    text = os.environ.get("PALMGRID_PORT_SLICE", "0/1")
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError(f"PALMGRID_PORT_SLICE={text!r}: want <index>/<count>, index < count")
    width = (high - low) // int(count)
    start = low + int(index) * width
    return start, start + width


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now, outside the kernel's ephemeral range."""
    low, high = _slice(_LOWEST, _ephemeral_start())
    if high - low >= 1000:
        for _ in range(500):
            port = _random.randrange(low, high)
            if port not in _handed_out and _bindable(host, port):
                _handed_out.add(port)
                return port
    # A machine whose ephemeral range starts low: fall back to the kernel's choice.
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = int(probe.getsockname()[1])
    _handed_out.add(port)
    return port
