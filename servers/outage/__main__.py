"""Run the outage service: `python -m servers.outage`."""

from servers.outage.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
