"""Compile the edge's test protos with grpc_tools.protoc, at test time.

The edge is given only the descriptor set (as it would be in production); the test
servers import the generated Python modules.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from grpc_tools import protoc

from tools.codegen import PROTOS, googleapis_include, protobuf_include

TEST_PROTOS = Path(__file__).parent / "protos"


@dataclass(frozen=True)
class Compiled:
    """Generated modules and a descriptor set for one package of test protos."""

    out: Path
    descriptor_set: Path

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(name)


def compile_protos(package_dir: str, out: Path) -> Compiled:
    """Compile every proto under tests/edge/protos/<package_dir> into `out`."""
    files = sorted(
        str(p.relative_to(TEST_PROTOS)) for p in (TEST_PROTOS / package_dir).glob("*.proto")
    )
    out.mkdir(parents=True, exist_ok=True)
    descriptor_set = out / (package_dir.replace("/", "_") + ".binpb")
    code = protoc.main(
        [
            "protoc",
            f"-I{TEST_PROTOS}",
            f"-I{PROTOS}",
            f"-I{googleapis_include()}",
            f"-I{protobuf_include()}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--descriptor_set_out={descriptor_set}",
            "--include_imports",
            "--include_source_info",
            *files,
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {package_dir}")
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    return Compiled(out, descriptor_set)
