"""A short coverage-guided run (atheris) over the edge's path-template parser, router
and query decoder, and field-encryption envelope opening: no uncaught exception, no
input slower than the per-input limit. `nox -s fuzz_edge` runs it for longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 5
PER_INPUT_SECONDS = 5


def test_the_edge_parsers_survive_a_bounded_fuzzing_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}"}
    # libFuzzer ends the process without Python's exit handlers: what the targets leave
    # in the temporary directory (the envelope keys) goes with the test's.
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run_atheris",
            "all",
            f"-max_total_time={SECONDS}",
            f"-timeout={PER_INPUT_SECONDS}",
            "-seed=2026",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    tail = done.stderr[-3000:]
    assert done.returncode == 0, tail
    runs = [line for line in done.stderr.splitlines() if line.startswith("Done ")]
    assert runs, tail
    print(runs[0])
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
