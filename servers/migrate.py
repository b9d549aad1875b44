"""`python -m servers.migrate [PROCESS…]`: bring the databases of the named services
and the worker (default: all of them) to the head of their migrations, with the URLs
the processes themselves would use (PALMGRID_DATABASE_URL, PALMGRID_<SERVICE>_DATABASE_URL).

The production profile runs migrations only this way, before the new version starts;
its processes refuse a schema that is not current. The dev profile needs no such step
(each process migrates its own database at start)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from servers.runtime.migrations import default_migrations_dir
from servers.runtime.schema import migrate_process
from servers.runtime.settings import SERVICE_NAMES, SettingsError, load_settings

WORKER = "worker"
PROCESSES: tuple[str, ...] = (*SERVICE_NAMES, WORKER)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.migrate", description=__doc__)
    parser.add_argument("process", nargs="*", help=f"default: all of {', '.join(PROCESSES)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.process if name not in PROCESSES]
    if unknown:
        print(
            f"migrate: unknown {', '.join(unknown)}; known: {', '.join(PROCESSES)}",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    for process in args.process or PROCESSES:
        url = settings.database_url_for(process)
        migrate_process(process, url, default_migrations_dir(process), runtime_tables=True)
        print(f"{process}: migrated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
