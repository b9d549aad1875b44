"""Instructions per warm cache hit on the edge's event-loop thread, counted by callgrind:
a figure that a busy or noisy host does not move, to compare two versions of the edge.

    python -m bench edge-instructions [--requests 1000] [--against REV]

`python -m bench.edge_stages --untimed` (the secure edge as served, its ASGI app called
for cached staff `monthlyUsage` reads one after another) runs under
`valgrind --tool=callgrind` twice: once with the warm-up alone, once with `--requests`
hits more. The difference in instructions executed by the main thread, where the
event loop runs, divided by `--requests`, is the cost of one hit; the services and
Memcached run in processes of their own, and the threads of the gRPC runtime are
counted apart. Instructions are not seconds (a system call or a cache miss costs more
than its count says), but the same code gives the same count within about one per
cent from run to run, whatever else the machine does.

With `--against REV`, the same is measured on a checkout of that revision (a temporary
git worktree, imported ahead of this tree through PYTHONPATH, driven by this tree's
bench.edge_stages) in the same run, and the ratio printed. Both use one database
(bench.billing_scale, 200 customers), made for the run and dropped after. Each
measurement takes a few minutes: valgrind runs Python about fifty times slower.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.billing_scale import customers_database
from bench.processes import ROOT, revision_tree, tree_env

CUSTOMERS = 200
_SUMMARY = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.M)


def loop_thread_instructions(tree: Path, url: str, requests: int, out_dir: Path) -> int:
    """Instructions callgrind counts on the main thread of bench.edge_stages (imported
    from `tree`) doing `requests` warm hits after its warm-up."""
    out = out_dir / f"callgrind.{tree.name}.{requests}"
    # The same hashing, and so the same work, in every run.
    env = tree_env({**os.environ, "PYTHONHASHSEED": "0"}, tree)
    argv = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes",
        f"--callgrind-out-file={out}", sys.executable, "-m", "bench.edge_stages",
        "--untimed", "--customers", str(CUSTOMERS), "--database-url", url,
        "--requests", str(requests),
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
    every_hit = f"answers: 200 HIT {requests:,}\n" in done.stdout or not requests
    if done.returncode != 0 or not every_hit:
        raise RuntimeError(f"the measured run failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    main_thread = out.with_name(out.name + "-01")
    found = _SUMMARY.search(main_thread.read_bytes())
    if found is None:
        raise RuntimeError(f"no instruction count in {main_thread}")
    return int(found.group(1))


def per_hit(tree: Path, url: str, requests: int, out_dir: Path) -> float:
    warm_up_only = loop_thread_instructions(tree, url, 0, out_dir)
    with_hits = loop_thread_instructions(tree, url, requests, out_dir)
    return (with_hits - warm_up_only) / requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--against", metavar="REV", help="a git revision to compare with")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind not found; install it with `apt-get install valgrind`", file=sys.stderr)
        return 2
    name = f"palmgrid_bench_edge_instructions_{os.getpid()}"
    with (
        customers_database(name, CUSTOMERS) as url,
        tempfile.TemporaryDirectory(prefix="palmgrid-bench-instructions-") as scratch,
    ):
        work = Path(scratch)
        figures = {"this tree": per_hit(ROOT, url, args.requests, work)}
        if args.against:
            with revision_tree(args.against, work) as against:
                # Measured by this tree's driver (an older one may lack `--untimed`).
                shutil.copy(ROOT / "bench" / "edge_stages.py", against / "bench")
                figures[args.against] = per_hit(against, url, args.requests, work)
    print(f"instructions per warm staff hit on the event loop's thread ({args.requests:,} hits)")
    for label, figure in figures.items():
        print(f"  {label:<24}{figure:>12,.0f}")
    if args.against:
        ratio = figures["this tree"] / figures[args.against]
        print(f"  this tree / {args.against}: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
