"""The care service's demo seeder: in the dev profile the runtime runs it at start (see
`ServiceSpec.seed_demo`) to add the demo outlets and articles that are missing."""

from __future__ import annotations

import logging

from servers.care import demo
from servers.runtime import Clock, Runtime

log = logging.getLogger("palmgrid.care")


def seed_demo(runtime: Runtime, clock: Clock) -> None:
    """Seed the demo outlets and articles that do not exist yet, dated by `clock`."""
    with runtime.session(write=True) as session:
        seeded = demo.seed(session, clock.now())
    log.info(
        "demo data ready",
        extra={"outlets_added": seeded.outlets, "articles_added": seeded.articles},
    )
