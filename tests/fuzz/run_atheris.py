"""Coverage-guided fuzzing (atheris, libFuzzer) of the edge's parsers of untrusted text.

    python -m tests.fuzz.run_atheris TARGET [libFuzzer options]
    python -m tests.fuzz.run_atheris all -max_total_time=600 -timeout=5

TARGET is one of tests.fuzz.targets.TARGETS, or `all` (the first input byte picks one).
libFuzzer stops with a non-zero status and writes a `crash-…` / `timeout-…` file with
the input on the first uncaught exception, or an input taking longer than `-timeout`
seconds (a hang).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import atheris

# Instrumented for coverage: the parsers the targets exercise (instrumenting the whole
# edge costs most of a short run's time at start-up).
PARSERS = [
    "edge.path_template",
    "edge.router",
    "edge.query",
    "edge.protojson",
    "edge.fieldcrypt.envelope",
    "edge.fieldcrypt.requests",
    "edge.fieldcrypt.fields",
]
with atheris.instrument_imports(include=PARSERS):
    from tests.fuzz import targets


def choose(name: str) -> Callable[[bytes], Any]:
    if name != "all":
        return targets.TARGETS[name]
    chosen = list(targets.TARGETS.values())

    def every(data: bytes) -> None:
        if data:
            chosen[data[0] % len(chosen)](data[1:])

    return every


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in (*targets.TARGETS, "all"):
        sys.exit(f"usage: python -m tests.fuzz.run_atheris {{{','.join(targets.TARGETS)},all}} …")
    target = choose(sys.argv[1])
    # Build what the targets share (the router, the key ring) before the clock starts.
    targets.router()
    targets.opener()
    print(f"fuzzing {sys.argv[1]}: {' '.join(sys.argv[2:])}", flush=True)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
