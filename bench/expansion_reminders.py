"""Expansion reminder runs at scale: `python -m bench.expansion_reminders
[--applications N] [--database-url URL]`.

Files N running high-voltage applications (default 5,000) into a fresh expansion
database (SQLite in a temporary folder unless a URL is given), then times the reminder
run (`servers.expansion.reminders.Reminders.run`, the body of RunReminders) by the
service's own clock: the first runs look at every application once (500 a run) and move
each on to its next mark; after that a run with nothing due reads only its index.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.config import ExpansionConfig
from servers.expansion.filing import open_application
from servers.expansion.reminders import Reminders
from servers.expansion.service import make_spec
from servers.runtime import SettableClock, Settings, build_server

BATCH = 500


def _application() -> pb.Application:
    return pb.Application(
        kind=pb.APPLICATION_KIND_HIGH_VOLTAGE,
        applicant=pb.Applicant(
            name="王建国", id_number="53030219800101123X", contact_phone="13800001234"
        ),
        address="曲靖市麒麟区南宁西路8号",
        capacity_kva=630,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.expansion_reminders")
    parser.add_argument("--applications", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        url = args.database_url or f"sqlite:///{data / 'expansion.db'}"
        clock = SettableClock(datetime(2026, 3, 2, tzinfo=UTC))
        config = ExpansionConfig(demo_data=False)
        settings = Settings(
            profile="dev",
            data_dir=data,
            grpc_security="plaintext",
            log_level="WARNING",
            expansion_database_url=url,
        )
        _, _, runtime = build_server(make_spec(clock=clock, config=config), settings)
        started = time.perf_counter()
        for first in range(0, args.applications, BATCH):
            with runtime.session(write=True) as session:
                for _ in range(min(BATCH, args.applications - first)):
                    open_application(
                        session,
                        runtime.calendar,
                        clock.now(),
                        creator="users/bench",
                        sent=_application(),
                        office="QJ-QL",
                        area="A01",
                    )
        print(f"filed {args.applications} applications in {time.perf_counter() - started:.1f} s")
        reminders = Reminders(runtime, clock, config)
        looking = -(-args.applications // 500)
        for run in range(looking + 3):
            started = time.perf_counter()
            reminders.run()
            kind = "looks at 500" if run < looking else "nothing due"
            print(f"run {run + 1} ({kind}): {1000 * (time.perf_counter() - started):.1f} ms")
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
