"""Run the account service: `python -m servers.account`."""

from servers.account.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
