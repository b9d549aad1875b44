"""Connection applications' progress from the marketing system, handed to the expansion
service (`ExpansionInternalService.RecordApplicationStep`): the application reached a
node, or completed. Expansion keys each step by the application and its source time, so
an update sent again changes nothing there either; it tells the applicant."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as expansion_pb
from palmgrid.ingest.v1 import resources_pb2
from servers.ingest.upstream import Upstream


def send_application_updates(
    upstream: Upstream, updates: Sequence[resources_pb2.ApplicationUpdate]
) -> tuple[int, int, int]:
    """Hand the updates to the expansion service; (created, updated, unchanged)."""
    updated = unchanged = 0
    for update in updates:
        reply = upstream.record_application_step(
            expansion_pb.RecordApplicationStepRequest(
                application=update.application,
                node=update.node,
                note=update.note,
                source_update_time=update.source_update_time,
            )
        )
        if reply.changed:
            updated += 1
        else:
            unchanged += 1
    return 0, updated, unchanged
