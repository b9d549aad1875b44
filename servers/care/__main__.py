"""Run the care service: `python -m servers.care`."""

from servers.care.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
