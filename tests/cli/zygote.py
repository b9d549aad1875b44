"""`palm` runs without paying its imports each time.

A fresh `palm` process spends most of its time importing grpc, protobuf, rich and the
generated code (about 0.6 s here, several seconds on a loaded machine), and the CLI tests
run it hundreds of times. This process imports `palm` once, then forks a child per
command: the child is still a process of its own — its environment, stdin, stdout,
stderr and exit code are the command's, as they are for the console script — but it
starts with everything imported. No channel exists before the fork, so grpc is safe to
use in the child. Tests that check the installed script itself (at a terminal) still
run it directly.

Protocol, one JSON object per line on stdin and stdout: the parent sends
`{"argv", "env", "stdin", "stdout", "stderr", "timeout"}` (the last three are file
paths) and gets `{"code": N}` back once the child has exited.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from clients.staff.app import main


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _child(request: dict[str, Any]) -> None:
    """Become the command: its streams, environment and arguments, then exit with its
    code (never returns)."""
    signal.alarm(int(request["timeout"]))  # the default action ends a hung command
    for fd, (path, flags) in enumerate(
        [
            (request["stdin"], os.O_RDONLY),
            (request["stdout"], os.O_WRONLY | os.O_TRUNC),
            (request["stderr"], os.O_WRONLY | os.O_TRUNC),
        ]
    ):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["palm", *request["argv"]]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
