"""Run the sandbox payment provider: `python -m servers.billing.payments.sandbox`.

    python -m servers.billing.payments.sandbox [--port 50060] [--outcome succeed]
        [--confirm-delay 1.0] [--create-delay 0] [--callbacks once]

It reads the same settings as billing (PALMGRID_DATA_DIR, PALMGRID_PAYMENT_*), so the
keys, merchant id and port match; it runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys

from servers.billing.payments.sandbox import Behaviour, start_sandbox
from servers.billing.payments.sandbox.behaviour import CALLBACK_MODES, OUTCOMES
from servers.billing.payments.settings import load_payment_settings
from servers.runtime import SettingsError, load_settings
from servers.runtime.localhttp import wait_for_stop_signal
from servers.runtime.logs import configure_logging

log = logging.getLogger("palmgrid.payments.sandbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.billing.payments.sandbox")
    parser.add_argument("--port", type=int, help="port (default: PALMGRID_PAYMENT_PROVIDER_URL's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--outcome", choices=OUTCOMES, default="succeed")
    parser.add_argument("--confirm-delay", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--create-delay", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--callbacks", choices=CALLBACK_MODES, default="once")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        payment_settings = load_payment_settings(settings)
    except SettingsError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    behaviour = Behaviour(
        outcome=args.outcome,
        confirm_delay_seconds=args.confirm_delay,
        create_delay_seconds=args.create_delay,
        callbacks=args.callbacks,
    )
    try:
        sandbox = start_sandbox(
            settings, payment_settings, port=args.port, behaviour=behaviour, host=args.host
        )
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    log.info("serving", extra={"service": "payment-sandbox", "url": sandbox.url})
    wait_for_stop_signal()
    sandbox.stop()
    log.info("stopped", extra={"service": "payment-sandbox"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
