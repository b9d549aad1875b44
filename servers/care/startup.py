"""What the care service does once at start, before serving: in the dev profile, seed
the demo outlets and articles."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from servers.care import demo
from servers.care.config import CareConfig
from servers.runtime import Clock, Runtime

log = logging.getLogger("palmgrid.care")


def prepare(runtime: Runtime, config: CareConfig, clock: Clock) -> None:
    """Seed the demo data when the config and profile say so. Replicas starting together
    may race to insert the same rows, so a conflict is retried once (the other replica's
    rows are then seen and left alone)."""
    if not config.seeds_demo(runtime.settings):
        return
    for attempt in range(2):
        try:
            with runtime.session(write=True) as session:
                seeded = demo.seed(session, clock.now())
            break
        except IntegrityError:
            if attempt:
                raise
    log.info(
        "demo data ready",
        extra={"outlets_added": seeded.outlets, "articles_added": seeded.articles},
    )
