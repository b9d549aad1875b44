"""Connection applications' progress from the marketing system, handed to the expansion
service: the one place that will call it.

The expansion service (being built) has no method yet that takes a step recorded in
the marketing system, so `send_application_updates` refuses every batch: the updates
are quarantined as OWNER_UNAVAILABLE, kept with their payload, and staff reprocess
them (ReprocessQuarantinedRecord) once this function calls that method — then the
application's node reached goes to expansion, which notifies the applicant.
"""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.ingest.v1 import resources_pb2
from servers.runtime import FailedPrecondition


def send_application_updates(
    updates: Sequence[resources_pb2.ApplicationUpdate],
) -> tuple[int, int, int]:
    """Hand the updates to the expansion service; (created, updated, unchanged)."""
    raise FailedPrecondition(
        "the expansion service does not take application updates from the marketing "
        "system yet; the update is kept for reprocessing",
        reason="FAILED_PRECONDITION",
    )
