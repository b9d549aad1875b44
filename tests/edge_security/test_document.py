"""The secure edge's OpenAPI document: the field-encryption key listing is part of it."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import validate

from edge.descriptors import Catalog
from edge.openapi import build_document
from edge.security.assemble import SecuritySettings, build_secure_edge

PALMGRID_DESCRIPTORS = Path(__file__).parents[2] / "generated" / "palmgrid" / "descriptors.binpb"


def test_the_document_lists_the_key_endpoint(tmp_path: Path) -> None:
    catalog = Catalog.from_descriptor_set(PALMGRID_DESCRIPTORS)
    upstreams = {s.full_name: "127.0.0.1:1" for s in catalog.services()}
    settings = SecuritySettings(tmp_path / "fieldcrypt", tmp_path / "cache.key")
    secure = build_secure_edge(catalog, upstreams, settings)
    document = build_document(secure.edge)
    validate(document)
    keys = document["paths"]["/v1/keys"]["get"]
    assert keys["security"] == []
    listing = keys["responses"]["200"]["content"]["application/json"]["schema"]
    assert "publicKey" in listing["properties"]["keys"]["items"]["required"]
