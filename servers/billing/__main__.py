"""Run the billing service: `python -m servers.billing`."""

from servers.billing.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
