"""Compile the edge's test protos with grpc_tools.protoc, at test time.

The edge is given only the descriptor set (as it would be in production). The test
servers and tests take their message classes from the same descriptor set, loaded into
the default descriptor pool (so `Any` and `json_format` find them as they would
generated modules), and serve through generic gRPC handlers: no generated Python code,
nothing added to `sys.path`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

from tools.codegen import PROTOS, googleapis_include, protobuf_include

TEST_PROTOS = Path(__file__).parent / "protos"


@dataclass(frozen=True)
class Compiled:
    """A descriptor set for one package of test protos, and its message classes."""

    out: Path
    descriptor_set: Path

    def messages(self, package: str) -> SimpleNamespace:
        """The message classes of a package by short name: `messages("edgetest.v1").Book`."""
        files = _load(self.descriptor_set)
        classes = {
            message.name: message_factory.GetMessageClass(message)
            for file in files
            if file.package == package
            for message in file.message_types_by_name.values()
        }
        return SimpleNamespace(**classes)

    def service_handler(self, service: str, implementation: object) -> grpc.GenericRpcHandler:
        """A gRPC handler serving `service` with `implementation`'s methods of the same
        names (unary or server-streaming, as declared); other methods are UNIMPLEMENTED."""
        _load(self.descriptor_set)
        found = descriptor_pool.Default().FindServiceByName(service)
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        for method in found.methods:
            behaviour = getattr(implementation, method.name, None)
            if behaviour is not None:
                handlers[method.name] = _handler(method, behaviour)
        return grpc.method_handlers_generic_handler(service, handlers)


def _handler(method: descriptor.MethodDescriptor, behaviour: Callable[..., Any]) -> Any:
    request = message_factory.GetMessageClass(method.input_type)
    make = (
        grpc.unary_stream_rpc_method_handler
        if method.server_streaming
        else grpc.unary_unary_rpc_method_handler
    )
    return make(
        behaviour,
        request_deserializer=request.FromString,
        response_serializer=lambda message: message.SerializeToString(),
    )


def _load(descriptor_set: Path) -> list[descriptor.FileDescriptor]:
    """The set's files in the default pool (files already there, as google/api's, kept)."""
    pool = descriptor_pool.Default()
    files = []
    for proto in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file:
        try:
            files.append(pool.FindFileByName(proto.name))
        except KeyError:
            files.append(pool.AddSerializedFile(proto.SerializeToString()))
    return files


def compile_protos(package_dir: str, out: Path) -> Compiled:
    """Compile every proto under tests/edge/protos/<package_dir> into a descriptor set."""
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
            f"--descriptor_set_out={descriptor_set}",
            "--include_imports",
            "--include_source_info",
            *files,
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {package_dir}")
    return Compiled(out, descriptor_set)
