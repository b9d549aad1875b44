"""The codegen check keeps generated/ honest: it passes when generated/ is what protos/
produce and fails the moment a proto changes without regeneration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import codegen


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of protos/ and generated/, so the test can edit protos freely."""
    root = tmp_path_factory.mktemp("codegen")
    shutil.copytree(codegen.PROTOS, root / "protos")
    for package in codegen.GENERATED_PACKAGES:
        shutil.copytree(
            codegen.GENERATED / package,
            root / "generated" / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return root


def test_committed_generated_code_matches_protos() -> None:
    assert codegen.check() == []


def test_check_fails_when_a_proto_changes_without_regeneration(tree_copy: Path) -> None:
    options = tree_copy / "protos" / "palmgrid" / "options" / "v1" / "options.proto"
    options.write_text(
        options.read_text().replace(
            "message RateLimit {", "message RateLimit {\n  // Burst allowance.\n  int32 burst = 9;"
        )
    )
    problems = codegen.check(tree_copy / "generated", tree_copy / "protos")
    assert "differs: palmgrid/options/v1/options_pb2.py" in problems


def test_check_fails_when_a_generated_file_is_edited_or_missing(tree_copy: Path) -> None:
    fresh = tree_copy / "fresh"
    codegen.generate_into(fresh, codegen.PROTOS)
    (fresh / "palmgrid" / "type" / "v1" / "errors_pb2.pyi").write_text("# edited\n")
    (fresh / "palmgrid" / "type" / "v1" / "identity_pb2.py").unlink()
    problems = codegen.check(fresh, codegen.PROTOS)
    assert "differs: palmgrid/type/v1/errors_pb2.pyi" in problems
    assert "missing: palmgrid/type/v1/identity_pb2.py" in problems


def test_generated_modules_carry_the_do_not_edit_header() -> None:
    for path in (codegen.GENERATED / "palmgrid").rglob("*.py"):
        assert path.read_text().startswith(codegen.HEADER), path
