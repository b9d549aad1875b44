"""Run the notification service: `python -m servers.notification`."""

from servers.notification.service import SPEC
from servers.runtime import serve

raise SystemExit(serve(SPEC))
