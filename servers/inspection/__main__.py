"""Run the inspection service: `python -m servers.inspection`."""

from servers.inspection.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
