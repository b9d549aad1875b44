"""Run the sandbox SMS and push gateway: `python -m servers.notification.sandbox`.

    python -m servers.notification.sandbox [--port 50061] [--mode accept] [--delay 0]
        [--journal PATH]

It reads the same settings as the notification service (PALMGRID_DATA_DIR,
PALMGRID_NOTIFICATION_*), so its port matches the gateway URL; it keeps what it
received in `<data dir>/notification-sandbox/journal.jsonl` unless told otherwise, and
runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from servers.notification.config import NotificationConfig
from servers.notification.sandbox import Behaviour, start_sandbox
from servers.notification.sandbox.behaviour import MODES
from servers.runtime import SettingsError, load_settings
from servers.runtime.localhttp import wait_for_stop_signal
from servers.runtime.logs import configure_logging

log = logging.getLogger("palmgrid.notification.sandbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.notification.sandbox")
    parser.add_argument("--port", type=int, help="port (default: the SMS gateway URL's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mode", choices=MODES, default="accept")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--journal", type=Path, help="JSON-lines record of what was received")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        config = NotificationConfig.load()
    except SettingsError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        sandbox = start_sandbox(
            settings,
            config,
            port=args.port,
            behaviour=Behaviour(mode=args.mode, delay_seconds=args.delay),
            host=args.host,
            journal=args.journal,
        )
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    log.info("serving", extra={"service": "notification-sandbox", "url": sandbox.url})
    wait_for_stop_signal()
    sandbox.stop()
    log.info("stopped", extra={"service": "notification-sandbox"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
