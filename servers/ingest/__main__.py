"""Run the ingest service: `python -m servers.ingest`."""

from servers.ingest.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
