"""Processes the benchmarks start: a child pinned to CPUs with its output in a log
file, and a proxy in front of bench.upstream on the CPU the edge gets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.load import free_port, wait_listening

__all__ = ["BASELINE_PATH", "ROOT", "Child", "before_upstream", "revision_tree", "tree_env"]

ROOT = Path(__file__).resolve().parent.parent
BASELINE_PATH = "/v1/customers/3100000001/monthlyUsage"  # what bench.upstream answers


class Child:
    """A child process pinned to some CPUs, its output in a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cpus: set[int] | None,
        log_file: Path,
        cwd: Path = ROOT,
    ) -> None:
        self._log = log_file.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@contextmanager
def before_upstream(
    data_dir: Path, name: str, argv: Callable[[int, int], list[str]]
) -> Iterator[str]:
    """A proxy, `argv(its port, the upstream's port)`, on the secure edge's CPU, in
    front of bench.upstream on the other; the URL of the baseline route."""
    two_cpus = (os.cpu_count() or 1) >= 2
    upstream_port, port = free_port(), free_port()
    env = {**os.environ, "PALMGRID_DATA_DIR": str(data_dir)}
    upstream = Child(
        [sys.executable, "-m", "bench.upstream", str(upstream_port)],
        env,
        {1} if two_cpus else None,
        data_dir / f"{name}-upstream.log",
    )
    try:
        # Up before the proxy: grpc-gateway dials once at start and backs off a second.
        wait_listening(upstream_port, upstream.proc)
        cpus = {0} if two_cpus else None
        proxy = Child(argv(port, upstream_port), env, cpus, data_dir / f"{name}.log")
        try:
            wait_listening(port, proxy.proc)
            yield f"https://127.0.0.1:{port}{BASELINE_PATH}"
        finally:
            proxy.stop()
    finally:
        upstream.stop()


@contextmanager
def revision_tree(revision: str, parent: Path) -> Iterator[Path]:
    """A checkout of `revision`: a temporary git worktree under `parent`, removed after."""
    tree = parent / "against"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
            check=False,
            capture_output=True,
        )


def tree_env(env: dict[str, str], tree: Path) -> dict[str, str]:
    """`env` for a Python child that imports `tree`'s code (run it with `cwd=tree`: the
    working directory comes first on `python -m`'s path)."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "generated")])}
