"""The console's vendored library is the one the npm lock names, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "clients" / "console" / "vendor" / "uqr.mjs"
INSTALLED = ROOT / "node_modules" / "uqr"


def test_the_vendored_qr_encoder_is_the_locked_package() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/uqr"]
    assert (
        json.loads((ROOT / "package.json").read_text())["dependencies"]["uqr"] == locked["version"]
    )
    if not INSTALLED.exists():
        pytest.skip("node_modules not installed (npm ci, run by nox -s system)")
    installed = json.loads((INSTALLED / "package.json").read_text())
    assert installed["version"] == locked["version"]
    assert VENDORED.read_bytes() == (INSTALLED / "dist" / "index.mjs").read_bytes()
