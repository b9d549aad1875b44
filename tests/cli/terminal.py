"""Running `palm` at a pseudo-terminal, as staff do: prompts read with echo off,
pictures and progress bars drawn as a terminal shows them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

# The child makes the pseudo-terminal its controlling terminal (as a login shell
# would), then becomes the program.
ON_TTY = "import os, sys; os.login_tty(int(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])"


def start_at_terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """`args` (the executable first) started on a new pseudo-terminal; the process and
    the terminal's side to read and write."""
    terminal, tty = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", ON_TTY, str(tty), *args], env=env, pass_fds=(tty,)
    )
    os.close(tty)
    return child, terminal


def read_until(terminal: int, text: str, seconds: float = 30) -> str:
    """What the pseudo-terminal shows until `text` appears ("" : until it closes)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if text and text in seen.decode(errors="replace"):
            break
    return seen.decode(errors="replace")
