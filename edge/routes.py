"""A route: one HTTP binding of one RPC, with everything per-request work needs compiled.

Built once at load time, so that a request only looks things up: the message classes,
the path-variable setters, the body and query decoders, the response encoder, whether
to derive `update_mask`, and which access rule applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import descriptor

from edge.bindings import Access, HttpBinding, MethodSpec, field_by_path
from edge.descriptors import Catalog
from edge.protojson import Decoder, Encoder
from edge.query import QueryDecoder, text_converter

__all__ = ["Route", "RouteBuilder"]

HTTP_BODY = "google.api.HttpBody"
FIELD_MASK = "google.protobuf.FieldMask"

BodyKind = Literal["none", "json", "json_field", "raw", "raw_field"]


@dataclass(slots=True, eq=False)
class PathSetter:
    """Sets one path variable's field (through singular message fields)."""

    name: str
    parents: tuple[str, ...]
    field: str
    convert: Callable[[str], Any]

    def apply(self, message: Any, value: str) -> None:
        for parent in self.parents:
            message = getattr(message, parent)
        setattr(message, self.field, self.convert(value))


@dataclass(slots=True, eq=False)
class Route:
    """One HTTP binding of one method."""

    spec: MethodSpec
    binding: HttpBinding
    request_class: Any
    response_class: Any
    path_setters: tuple[PathSetter, ...]
    body_kind: BodyKind
    # json: decode(json_value, message); json_field: decode(message, json_value)
    decode_body: Callable[[Any, Any], None] | None
    # For raw (HttpBody) bodies: the proto names leading to the HttpBody message.
    raw_body_path: tuple[str, ...]
    query: QueryDecoder
    # PATCH with a named body and an `update_mask` FieldMask: derive it when not given.
    derive_update_mask: bool
    # POST of a request with a string `request_id` (AIP-155): the `Idempotency-Key`
    # header fills it when the body and query leave it empty.
    idempotency_key: bool
    body_message: descriptor.Descriptor | None
    encode: Callable[[Any], Any]
    # The response (or its response_body field) is a google.api.HttpBody: sent raw.
    raw_response: bool
    response_field: str
    streaming: bool
    # Set when the edge starts: the gRPC multicallable for this method.
    call: Any = field(default=None)

    @property
    def access(self) -> Access:
        return self.spec.access

    @property
    def method_name(self) -> str:
        return self.spec.method.full_name


class RouteBuilder:
    """Compiles routes; shares encoders and decoders between the routes of one edge."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        ignored_query_parameters: frozenset[str],
        reject_unknown_query_parameters: bool,
    ) -> None:
        self._catalog = catalog
        self._encoder = Encoder(catalog.pool)
        self._decoder = Decoder(catalog.pool)
        self._ignored = ignored_query_parameters
        self._reject_unknown = reject_unknown_query_parameters

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    def build(self, spec: MethodSpec, binding: HttpBinding) -> Route:
        method = spec.method
        request, response = method.input_type, method.output_type
        body = binding.body
        body_kind: BodyKind = "none"
        decode_body: Callable[[Any, Any], None] | None = None
        raw_body_path: tuple[str, ...] = ()
        body_message: descriptor.Descriptor | None = None
        if body == "*":
            if request.full_name == HTTP_BODY:
                body_kind = "raw"
            else:
                body_kind, decode_body = "json", self._decoder.for_message(request)
        elif body:
            path = tuple(body.split("."))
            target = field_by_path(request, path)
            assert target is not None  # checked by bindings
            if target.message_type is not None and target.message_type.full_name == HTTP_BODY:
                body_kind, raw_body_path = "raw_field", path
            else:
                if len(path) > 1:
                    parent = field_by_path(request, path[:-1])
                    assert parent is not None and parent.message_type is not None
                    owner = parent.message_type
                else:
                    owner = request
                body_kind = "json_field"
                decode_body = self._decoder.for_field(owner, path[-1])
                raw_body_path = path[:-1]
                body_message = target.message_type
        mask = request.fields_by_name.get("update_mask")
        derive_mask = (
            binding.http_method == "PATCH"
            and body not in ("", "*")
            and mask is not None
            and mask.message_type is not None
            and mask.message_type.full_name == FIELD_MASK
            and body_message is not None
        )
        request_id = request.fields_by_name.get("request_id")
        idempotency_key = (
            binding.http_method == "POST"
            and request_id is not None
            and request_id.type == descriptor.FieldDescriptor.TYPE_STRING
            and not request_id.is_repeated
        )
        if binding.response_body:
            out_field = response.fields_by_name[binding.response_body]
            raw_response = (
                out_field.message_type is not None and out_field.message_type.full_name == HTTP_BODY
            )
            encode = self._encoder.for_field(response, binding.response_body)
        else:
            raw_response = response.full_name == HTTP_BODY
            encode = self._encoder.for_message(response)
        setters = tuple(
            self._path_setter(request, v.field_path) for v in binding.template.variables
        )
        query = QueryDecoder(
            request,
            from_path=[v.field_path for v in binding.template.variables],
            body=body,
            ignored=self._ignored,
            reject_unknown=self._reject_unknown,
        )
        return Route(
            spec=spec,
            binding=binding,
            request_class=self._catalog.message_class(request),
            response_class=self._catalog.message_class(response),
            path_setters=setters,
            body_kind=body_kind,
            decode_body=decode_body,
            raw_body_path=raw_body_path,
            query=query,
            derive_update_mask=derive_mask,
            idempotency_key=idempotency_key,
            body_message=body_message,
            encode=encode,
            raw_response=raw_response,
            response_field=binding.response_body,
            streaming=method.server_streaming,
        )

    def _path_setter(self, request: descriptor.Descriptor, path: tuple[str, ...]) -> PathSetter:
        target = field_by_path(request, path)
        assert target is not None  # checked by bindings
        return PathSetter(".".join(path), path[:-1], path[-1], text_converter(target))
