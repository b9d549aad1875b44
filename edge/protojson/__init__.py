"""Proto3 JSON for the edge: compiled encoders (message → JSON) and decoders (JSON → message)."""

from __future__ import annotations

from edge.protojson.decoder import Decoder, JsonError, scalar_converter
from edge.protojson.encoder import EncodeError, Encoder

__all__ = ["Decoder", "EncodeError", "Encoder", "JsonError", "scalar_converter"]
