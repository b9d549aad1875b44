"""Where the edge learns about services: a descriptor-set file or generated modules.

Both sources end up as a `Catalog`: the `FileDescriptorProto`s (with comments when the
set was built with `--include_source_info`), a descriptor pool to make message classes
from, and the options of each method parsed with our extensions known.

Options are re-parsed from the file protos rather than read through the pool because a
pool parses options once, with whatever extensions were imported at that moment; parsing
them here, after importing `google.api.annotations` and `palmgrid.options.v1`, always
sees `google.api.http` and `(palmgrid.options.v1.method)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, field_behavior_pb2  # noqa: F401  (registers extensions)
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory

from palmgrid.options.v1 import options_pb2

__all__ = ["Catalog", "DescriptorError"]

# Field numbers inside FileDescriptorProto / DescriptorProto / ServiceDescriptorProto /
# EnumDescriptorProto, used to read SourceCodeInfo paths.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_SERVICE_METHOD = 2
_ENUM_VALUE = 2


class DescriptorError(ValueError):
    """Descriptors that cannot be loaded or do not contain what was asked for."""


@dataclass
class Catalog:
    """Descriptors of the services the edge may front, and everything they reference."""

    files: dict[str, descriptor_pb2.FileDescriptorProto]
    pool: descriptor_pool.DescriptorPool
    _comments: dict[str, str] = field(default_factory=dict)
    _classes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_descriptor_set(cls, path: str | Path) -> Catalog:
        """Load a `protoc --descriptor_set_out --include_imports` file into a fresh pool."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise DescriptorError(f"cannot read descriptor set {path}: {exc}") from exc
        fds = descriptor_pb2.FileDescriptorSet.FromString(data)
        return cls.from_file_protos(fds.file)

    @classmethod
    def from_file_protos(cls, protos: Iterable[descriptor_pb2.FileDescriptorProto]) -> Catalog:
        files = {p.name: p for p in protos}
        pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()

        def add(name: str, trail: tuple[str, ...] = ()) -> None:
            if name in added:
                return
            if name in trail:
                raise DescriptorError(f"import cycle through {name}")
            proto = files.get(name)
            if proto is None:
                raise DescriptorError(
                    f"{name} is imported but not in the descriptor set "
                    "(build it with --include_imports)"
                )
            for dep in proto.dependency:
                add(dep, (*trail, name))
            pool.Add(proto)
            added.add(name)

        for name in files:
            add(name)
        return cls(files, pool)

    @classmethod
    def from_modules(cls, module_names: Sequence[str]) -> Catalog:
        """Use generated `_pb2` modules (and what they import) from the default pool."""
        files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

        def collect(fd: descriptor.FileDescriptor) -> None:
            if fd.name in files:
                return
            for dep in fd.dependencies:
                collect(dep)
            proto = descriptor_pb2.FileDescriptorProto()
            fd.CopyToProto(proto)
            files[fd.name] = proto

        for name in module_names:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise DescriptorError(f"cannot import {name}: {exc}") from exc
            collect(module.DESCRIPTOR)
        # Re-parse so that options are read with our extensions registered.
        reparsed = {
            n: descriptor_pb2.FileDescriptorProto.FromString(p.SerializeToString())
            for n, p in files.items()
        }
        return cls(reparsed, descriptor_pool.Default())

    def services(self) -> list[descriptor.ServiceDescriptor]:
        """Every service declared in the catalog's files, in file order."""
        out: list[descriptor.ServiceDescriptor] = []
        for proto in self.files.values():
            prefix = f"{proto.package}." if proto.package else ""
            out.extend(self.pool.FindServiceByName(prefix + s.name) for s in proto.service)
        return out

    def service(self, full_name: str) -> descriptor.ServiceDescriptor:
        try:
            return self.pool.FindServiceByName(full_name)
        except KeyError as exc:
            raise DescriptorError(f"service {full_name} is not in the descriptors") from exc

    def message_class(self, desc: descriptor.Descriptor) -> Any:
        """The Python class of a message type (generated, or made from the pool)."""
        cls = self._classes.get(desc.full_name)
        if cls is None:
            cls = message_factory.GetMessageClass(desc)
            self._classes[desc.full_name] = cls
        return cls

    def method_options(self, method: descriptor.MethodDescriptor) -> descriptor_pb2.MethodOptions:
        service = self._service_proto(method.containing_service)
        for m in service.method:
            if m.name == method.name:
                return m.options
        raise DescriptorError(f"method {method.full_name} not found")  # pragma: no cover

    def service_options(
        self, service: descriptor.ServiceDescriptor
    ) -> descriptor_pb2.ServiceOptions:
        return self._service_proto(service).options

    def method_rules(self, method: descriptor.MethodDescriptor) -> options_pb2.MethodRules | None:
        """`(palmgrid.options.v1.method)` of a method, or None when it carries none."""
        opts = self.method_options(method)
        if not opts.HasExtension(options_pb2.method):
            return None
        return opts.Extensions[options_pb2.method]

    def service_is_internal(self, service: descriptor.ServiceDescriptor) -> bool:
        opts = self.service_options(service)
        return (
            opts.HasExtension(options_pb2.service) and opts.Extensions[options_pb2.service].internal
        )

    def comment(self, full_name: str) -> str:
        """The leading `//` comment of a service, method, message, field, enum or value.

        Enum values are named under their enum: `pkg.Color.COLOR_RED`.

        Empty when the descriptors carry no source info (generated modules never do).
        """
        if not self._comments:
            self._comments = _index_comments(self.files.values())
        return self._comments.get(full_name, "")

    def _service_proto(
        self, service: descriptor.ServiceDescriptor
    ) -> descriptor_pb2.ServiceDescriptorProto:
        proto = self.files[service.file.name]
        for s in proto.service:
            if s.name == service.name:
                return s
        raise DescriptorError(f"service {service.full_name} not found")  # pragma: no cover


def _index_comments(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    comments: dict[str, str] = {}
    for proto in files:
        _FileComments(proto, comments).walk()
    return comments


class _FileComments:
    """Maps SourceCodeInfo locations of one file to the full names they describe."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto, out: dict[str, str]) -> None:
        self.proto = proto
        self.out = out
        self.by_path = {
            tuple(loc.path): loc.leading_comments.strip()
            for loc in proto.source_code_info.location
            if loc.leading_comments.strip()
        }

    def walk(self) -> None:
        if not self.by_path:
            return
        proto = self.proto
        prefix = f"{proto.package}." if proto.package else ""
        for i, m in enumerate(proto.message_type):
            self.message(m, prefix + m.name, (_FILE_MESSAGE, i))
        for i, e in enumerate(proto.enum_type):
            self.enum(e, prefix + e.name, (_FILE_ENUM, i))
        for i, s in enumerate(proto.service):
            self.put(prefix + s.name, (_FILE_SERVICE, i))
            for j, meth in enumerate(s.method):
                self.put(f"{prefix}{s.name}.{meth.name}", (_FILE_SERVICE, i, _SERVICE_METHOD, j))

    def put(self, name: str, path: tuple[int, ...]) -> None:
        text = self.by_path.get(path)
        if text:
            self.out[name] = _tidy(text)

    def enum(self, e: descriptor_pb2.EnumDescriptorProto, name: str, path: tuple[int, ...]) -> None:
        self.put(name, path)
        for i, v in enumerate(e.value):
            self.put(f"{name}.{v.name}", (*path, _ENUM_VALUE, i))

    def message(self, m: descriptor_pb2.DescriptorProto, name: str, path: tuple[int, ...]) -> None:
        self.put(name, path)
        for i, f in enumerate(m.field):
            self.put(f"{name}.{f.name}", (*path, _MESSAGE_FIELD, i))
        for i, nested in enumerate(m.nested_type):
            self.message(nested, f"{name}.{nested.name}", (*path, _MESSAGE_NESTED, i))
        for i, e in enumerate(m.enum_type):
            self.enum(e, f"{name}.{e.name}", (*path, _MESSAGE_ENUM, i))


def _tidy(text: str) -> str:
    # protoc keeps the space after `//` on every line; drop it, keep paragraphs.
    return "\n".join(line[1:] if line.startswith(" ") else line for line in text.splitlines())
