"""Small file helpers for key material: atomic writes and a cross-process lock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write `data` to `path` with permissions `mode`; readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


class LockHeld(RuntimeError):
    """Another process holds the lock and the caller chose not to wait."""


@contextmanager
def directory_lock(directory: Path, *, name: str = ".lock", wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (several processes may start at once),
    through the file `name` in it. With `wait=False`, raise LockHeld at once when
    another process holds it. The lock goes with the process, however it ends."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(f"{directory / name} is held by another process") from None
        yield
