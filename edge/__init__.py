"""The edge: JSON/REST ⇄ gRPC transcoding for any `google.api.http`-annotated service.

The public surface: build a `Catalog` from descriptors, an `Edge` (an ASGI app) from it
and the upstream addresses, and serve it with `make_server`. Later pipeline stages
implement `Stage` and work on the `Exchange`. See docs/edge.md.
"""

from __future__ import annotations

from edge.app import Edge
from edge.config import EdgeConfig
from edge.descriptors import Catalog, DescriptorError
from edge.errors import EdgeError, UpstreamFailure, http_status
from edge.pipeline import STAGE_ORDER, Exchange, HttpResponse, Reply, Stage, StreamReply
from edge.server import TlsFiles, make_server, upstream_credentials

__all__ = [
    "STAGE_ORDER",
    "Catalog",
    "DescriptorError",
    "Edge",
    "EdgeConfig",
    "EdgeError",
    "Exchange",
    "HttpResponse",
    "Reply",
    "Stage",
    "StreamReply",
    "TlsFiles",
    "UpstreamFailure",
    "http_status",
    "make_server",
    "upstream_credentials",
]
