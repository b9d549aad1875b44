"""`python -m bench [NAME] [ARGS…]`: run one benchmark by name, or all of them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Name → module with a `main(argv) -> int`.
BENCHMARKS = {
    "edge": "bench.edge_transcoding",
    "billing-scale": "bench.billing_scale",
    "edge-cache": "bench.edge_cache",
    "edge-stages": "bench.edge_stages",
    "edge-instructions": "bench.edge_instructions",
    "edge-against": "bench.edge_against",
    "prewarm": "bench.prewarm",
    "outage-servers": "bench.outage_servers",
    "expansion-reminders": "bench.expansion_reminders",
    "ingest": "bench.ingest",
    "forecast-backtest": "bench.forecast_backtest",
    "daily-usage-read": "bench.daily_usage_read",
    "billday": "bench.billday",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="default: all")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    args = parser.parse_args(argv)
    names = [args.name] if args.name else sorted(BENCHMARKS)
    status = 0
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        status |= module.main(args.args)
    return status


if __name__ == "__main__":
    sys.exit(main())
