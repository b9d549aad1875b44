"""Run the expansion service: `python -m servers.expansion`."""

from servers.expansion.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
