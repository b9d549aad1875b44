"""Check the audit log's hash chain from the command line:

    python -m servers.account.verify_audit [--start N] [--end N]

Reads the account database named by the settings (PALMGRID_ACCOUNT_DATABASE_URL, ...),
prints the outcome and exits 0 when the chain is intact, 1 when a record does not match.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from servers.account import audit
from servers.runtime import create_engine, load_settings, session_scope


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.account.verify_audit")
    parser.add_argument("--start", type=int, default=0, help="first sequence (default: 1)")
    parser.add_argument("--end", type=int, default=0, help="last sequence (default: newest)")
    parser.add_argument("--database-url", help="instead of the settings' account database")
    args = parser.parse_args(argv)
    url = args.database_url or load_settings().database_url_for("account")
    engine = create_engine(url)
    try:
        with session_scope(engine) as session:
            result = audit.verify(session, args.start, args.end)
    finally:
        engine.dispose()
    if result.valid:
        print(
            f"audit chain intact: records {result.start_sequence}..{result.end_sequence}, "
            f"{result.verified_count} checked, head {result.head_hash.hex()}"
        )
        return 0
    print(
        f"audit chain BROKEN at auditRecords/{result.first_invalid_sequence}: {result.problem} "
        f"({result.verified_count} records verified before it)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
