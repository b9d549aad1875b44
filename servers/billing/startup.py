"""What the billing service does at start: before serving, install the tariff files'
published versions (`prepare`); in the dev profile the runtime then runs `seed_demo`,
which seeds the demo customers (or brings demo data seeded in an earlier month up to
date, in the background)."""

from __future__ import annotations

import logging
import threading
import time

from servers.billing import changes, demo
from servers.billing.config import BillingConfig
from servers.billing.tariff_catalog import install_tariffs, read_tariff_files
from servers.runtime import Clock, Runtime

log = logging.getLogger("palmgrid.billing")


def prepare(runtime: Runtime, clock: Clock) -> None:
    """Install the tariffs (the demo data needs them, so this comes first)."""
    changes.use_cache(runtime.settings.memcached_servers)
    files = read_tariff_files()
    with runtime.session(write=True) as session:
        added = install_tariffs(session, files, clock.now())
    if added:
        log.info("tariff versions installed", extra={"count": added})


def seed_demo(runtime: Runtime, clock: Clock) -> None:
    """The ServiceSpec's demo seeder: the demo customers, or a catch-up of demo data
    seeded in an earlier month."""
    config = runtime.settings_of(BillingConfig)
    started = time.monotonic()
    seeded = demo.seed(runtime.engine, clock.now(), customers=config.demo_customers, config=config)
    log.info(
        "demo data ready",
        extra={"customers_added": seeded, "seconds": round(time.monotonic() - started, 2)},
    )
    if not seeded:
        # Seeded in an earlier month: catch up while the service already serves.
        threading.Thread(
            target=_top_up, args=(runtime, config, clock), name="demo-top-up", daemon=True
        ).start()


def _top_up(runtime: Runtime, config: BillingConfig, clock: Clock) -> None:
    try:
        months = demo.top_up(
            runtime.engine, clock.now(), customers=config.demo_customers, config=config
        )
    except Exception:
        log.exception("demo top-up failed")
        return
    if months:
        log.info("demo data brought up to last month", extra={"months_added": months})
