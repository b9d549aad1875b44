"""OpenAPI 3.1 for everything the edge routes, generated from the same descriptors.

Choices that make the document usable by client generators:
- A path variable spanning several segments (`{name=customers/*/bills/*}`) becomes one
  path parameter per `*`, named after the collection before it
  (`/v1/customers/{customer}/bills/{bill}`): generators percent-encode parameters, so a
  single `{name}` holding `customers/1/bills/2` would arrive as one segment and miss.
  Each parameter says which request field it is part of.
- Schemas are JSON Schema 2020-12 as OpenAPI 3.1 allows: 64-bit integers are strings
  (as proto3 JSON writes them), Timestamp is `date-time`, wrappers may be null, maps are
  objects with `additionalProperties`, enums list their names (and take numbers, as
  proto3 JSON does).
- Comments in the protos become descriptions (descriptor sets built with
  `--include_source_info`); `google.api.field_behavior` becomes `required`, `readOnly`
  and `writeOnly`.
- Every operation has a `default` response of `google.rpc.Status`; methods that need a
  session declare the bearer scheme, public ones `security: []`.
- A sensitive field (`(palmgrid.options.v1.field).sensitive`) is a string of format
  `pgfe1` (the field-encryption envelope, docs/field-encryption.md) and carries
  `x-palmgrid-sensitive` with its mask style: an app generated from the document knows
  which fields to seal in requests and to open (or show masked) in responses.
- Endpoints served around the routes (`GET /v1/keys` of field encryption) are listed
  from `extra_paths`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import descriptor

from edge.bindings import field_by_path
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.fieldcrypt.envelope import PREFIX
from edge.fieldcrypt.fields import field_rules
from edge.path_template import ANY_SEGMENT, ANY_SEGMENTS, PathTemplate
from edge.routes import HTTP_BODY, Route
from palmgrid.options.v1 import options_pb2

__all__ = ["RoutedApi", "build_document"]


class RoutedApi(Protocol):
    """What the document is built from. `edge.app.Edge` is one; it serves the document,
    so it imports this module, and this module names it by shape only."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def routes(self) -> Sequence[Route]: ...

    @property
    def config(self) -> EdgeConfig: ...

    @property
    def extra_paths(self) -> dict[str, dict[str, Any]]:
        """Path items of endpoints served around the routes, by ASGI middleware."""
        ...


_FD = descriptor.FieldDescriptor
_OPENAPI_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_REF = "#/components/schemas/"
_STATUS = "google.rpc.Status"
_INT32 = {_FD.TYPE_INT32, _FD.TYPE_SINT32, _FD.TYPE_SFIXED32}
_UINT32 = {_FD.TYPE_UINT32, _FD.TYPE_FIXED32}
_INT64 = {_FD.TYPE_INT64, _FD.TYPE_SINT64, _FD.TYPE_SFIXED64}
_UINT64 = {_FD.TYPE_UINT64, _FD.TYPE_FIXED64}
_WRAPPER_INNER: dict[str, dict[str, Any]] = {
    "google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    "google.protobuf.FloatValue": {"type": "number", "format": "float"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "minimum": 0, "maximum": 4294967295},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "contentEncoding": "base64"},
}
_WKT: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339 time in UTC, such as 2024-05-01T08:00:00Z.",
    },
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": "Seconds with up to nine decimals and an `s`, such as 1800s.",
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated lowerCamelCase field paths, such as title,details.edition.",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    HTTP_BODY: {"type": "string", "contentMediaType": "application/octet-stream"},
}
_STATUS_SCHEMA = {
    "type": "object",
    "description": (
        "An error (google.rpc.Status). `details` carries a google.rpc.ErrorInfo with an "
        "UPPER_SNAKE `reason` and, for bad input, a google.rpc.BadRequest naming each field."
    ),
    "properties": {
        "code": {"type": "integer", "format": "int32", "description": "The gRPC status code."},
        "message": {"type": "string", "description": "A developer-facing message."},
        "details": {"type": "array", "items": {"$ref": _REF + "google.protobuf.Any"}},
    },
    "required": ["code", "message", "details"],
}


def build_document(edge: RoutedApi) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an edge's routes and of its own endpoints."""
    return _Builder(edge).build()


class _Builder:
    def __init__(self, edge: RoutedApi) -> None:
        self.edge = edge
        self.catalog = edge.catalog
        self.schemas: dict[str, Any] = {
            _STATUS: _STATUS_SCHEMA,
            "google.protobuf.Any": _WKT["google.protobuf.Any"],
        }
        self.operation_ids: set[str] = set()

    def build(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        tags: dict[str, str] = {}
        names = resource_variable_names(self.catalog)
        for route in self.edge.routes:
            method = route.binding.http_method.lower()
            if method not in _OPENAPI_METHODS:
                continue  # custom kinds (SEARCH …) have no place in an OpenAPI 3.1 path item
            service = route.spec.method.containing_service
            tags.setdefault(service.name, self.catalog.comment(service.full_name))
            path, params = _openapi_path(route.binding.template, names)
            operation = self._operation(route, service.name, params)
            paths.setdefault(path, {})[method] = operation
        paths.update(_own_endpoints())
        paths.update(self.edge.extra_paths)
        config = self.edge.config
        return {
            "openapi": "3.1.0",
            "info": {
                "title": config.api_title,
                "version": config.api_version,
                "description": (
                    "JSON/REST transcoding of the gRPC services. Bodies are proto3 JSON: "
                    "lowerCamelCase names, 64-bit integers as strings, enums by name, "
                    "unpopulated fields included."
                ),
            },
            "tags": [
                {"name": name, "description": text} if text else {"name": name}
                for name, text in sorted(tags.items())
            ]
            + [{"name": "edge", "description": "The edge's own endpoints."}],
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": dict(sorted(self.schemas.items())),
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "The session token from POST /v1/sessions.",
                    }
                },
                "responses": {
                    "Error": {
                        "description": "An error, as google.rpc.Status.",
                        "content": {"application/json": {"schema": {"$ref": _REF + _STATUS}}},
                    }
                },
            },
        }

    def _operation(
        self, route: Route, tag: str, params: list[tuple[str, tuple[str, ...], str]]
    ) -> dict[str, Any]:
        method = route.spec.method
        op: dict[str, Any] = {
            "operationId": self._operation_id(f"{method.containing_service.name}_{method.name}"),
            "tags": [tag],
        }
        text = self.catalog.comment(method.full_name)
        if text:
            op["summary"] = text.split("\n")[0].rstrip(".")
            op["description"] = text
        parameters = [self._path_parameter(route, *p) for p in params]
        parameters.extend(self._query_parameters(route))
        if parameters:
            op["parameters"] = parameters
        body = self._request_body(route)
        if body is not None:
            op["requestBody"] = body
        op["responses"] = {
            "200": self._success(route),
            "default": {"$ref": "#/components/responses/Error"},
        }
        access = route.access
        if access.kind == "public":
            op["security"] = []
        else:
            op["security"] = [{"bearer": []}]
            if access.permission:
                op["x-permission"] = access.permission
        if access.kind == "denied":
            op["description"] = (
                op.get("description", "") + "\n\nNot open through the edge."
            ).strip()
        return op

    def _operation_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self.operation_ids:
            n += 1
            candidate = f"{base}_{n}"
        self.operation_ids.add(candidate)
        return candidate

    def _path_parameter(
        self, route: Route, name: str, field_path: tuple[str, ...], pattern: str
    ) -> dict[str, Any]:
        request = route.spec.method.input_type
        field = field_by_path(request, field_path)
        assert field is not None
        dotted = ".".join(field_path)
        if pattern:
            description = f"Part of `{dotted}`, which is `{pattern}`."
            schema: dict[str, Any] = {"type": "string"}
        else:
            description = self.catalog.comment(field.full_name) or f"The `{dotted}` field."
            schema = self._scalar(field)
        return {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": schema,
        }

    def _query_parameters(self, route: Route) -> list[dict[str, Any]]:
        binding = route.binding
        if binding.body == "*":
            return []
        request = route.spec.method.input_type
        skip = {v.field_path for v in binding.template.variables}
        if binding.body:
            skip.add(tuple(binding.body.split(".")))
        out: list[dict[str, Any]] = []
        self._collect_query(request, (), "", skip, {request.full_name}, out)
        return out

    def _collect_query(
        self,
        message: descriptor.Descriptor,
        proto_prefix: tuple[str, ...],
        json_prefix: str,
        skip: set[tuple[str, ...]],
        visiting: set[str],
        out: list[dict[str, Any]],
    ) -> None:
        for field in message.fields:
            path = (*proto_prefix, field.name)
            if path in skip:
                continue
            name = json_prefix + field.json_name
            nested = field.message_type
            param: dict[str, Any] = {"name": name, "in": "query"}
            text = self.catalog.comment(field.full_name)
            if text:
                param["description"] = text
            if nested is not None and nested.GetOptions().map_entry:
                value = nested.fields_by_name["value"]
                if value.message_type is not None:
                    continue
                param["style"] = "deepObject"
                param["explode"] = True
                param["schema"] = {"type": "object", "additionalProperties": self._scalar(value)}
            elif field.is_repeated:
                if nested is not None:
                    continue
                param["schema"] = {"type": "array", "items": self._scalar(field)}
                param["explode"] = True
            elif nested is not None:
                full = nested.full_name
                if full in _WRAPPER_INNER:
                    param["schema"] = dict(_WRAPPER_INNER[full])
                elif full in (
                    "google.protobuf.Timestamp",
                    "google.protobuf.Duration",
                    "google.protobuf.FieldMask",
                ):
                    param["schema"] = dict(_WKT[full])
                elif not full.startswith("google.protobuf.") and full not in visiting:
                    self._collect_query(nested, path, name + ".", skip, visiting | {full}, out)
                    continue
                else:
                    continue
            else:
                param["schema"] = self._scalar(field)
            out.append(param)

    def _request_body(self, route: Route) -> dict[str, Any] | None:
        binding = route.binding
        request = route.spec.method.input_type
        if not binding.body:
            return None
        if route.body_kind in ("raw", "raw_field"):
            return {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        if binding.body == "*":
            bound = {v.field_path[0] for v in binding.template.variables if len(v.field_path) == 1}
            schema = self._message_schema(request, exclude=bound)
        else:
            field = field_by_path(request, tuple(binding.body.split(".")))
            assert field is not None
            schema = self._field_schema(field)
        # An absent JSON body reads as `{}` (as grpc-gateway's does): the method's own
        # checks then name each required field that is missing.
        return {"required": False, "content": {"application/json": {"schema": schema}}}

    def _success(self, route: Route) -> dict[str, Any]:
        method = route.spec.method
        response = method.output_type
        if route.raw_response:
            content: dict[str, Any] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
            return {"description": "The raw response body.", "content": content}
        if route.response_field:
            field = response.fields_by_name[route.response_field]
            schema = self._field_schema(field)
        else:
            schema = self._ref(response)
        if route.streaming:
            return {
                "description": (
                    'A stream: one `{"result": …}` JSON line per message and a last '
                    '`{"error": Status}` line if the stream fails; or, with '
                    "`Accept: text/event-stream`, one `data:` event per message and an "
                    "`error` event."
                ),
                "content": {
                    "application/x-ndjson": {
                        "schema": {
                            "type": "object",
                            "properties": {"result": schema, "error": {"$ref": _REF + _STATUS}},
                        }
                    },
                    "text/event-stream": {"schema": {"type": "string"}},
                },
            }
        return {
            "description": self.catalog.comment(response.full_name) or "OK",
            "content": {"application/json": {"schema": schema}},
        }

    # --- schemas ---------------------------------------------------------------------

    def _ref(self, message: descriptor.Descriptor) -> dict[str, Any]:
        full = message.full_name
        if full in _WRAPPER_INNER:
            inner = dict(_WRAPPER_INNER[full])
            inner["type"] = [inner["type"], "null"]
            return inner
        if full in _WKT:
            return dict(_WKT[full])
        if full not in self.schemas:
            self.schemas[full] = {}  # placeholder: recursive types refer to it
            self.schemas[full] = self._message_schema(message)
        return {"$ref": _REF + full}

    def _message_schema(
        self, message: descriptor.Descriptor, exclude: set[str] | None = None
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in message.fields:
            if exclude and field.name in exclude:
                continue
            schema = self._field_schema(field)
            behaviors = set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {**schema, "readOnly": True}
            if field_behavior_pb2.INPUT_ONLY in behaviors:
                schema = {**schema, "writeOnly": True}
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(field.json_name)
            else:
                schema = _nullable(schema)
            properties[field.json_name] = schema
        out: dict[str, Any] = {"type": "object", "properties": properties}
        text = self.catalog.comment(message.full_name)
        if text:
            out["description"] = text
        if required:
            out["required"] = required
        return out

    def _field_schema(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        nested = field.message_type
        if nested is not None and nested.GetOptions().map_entry:
            value = nested.fields_by_name["value"]
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": self._single(value),
            }
        elif field.is_repeated:
            schema = {"type": "array", "items": self._single(field)}
        else:
            schema = self._single(field)
        text = self.catalog.comment(field.full_name)
        if text:
            # Next to a $ref too: OpenAPI 3.1 honours a $ref's sibling keywords.
            schema = {**schema, "description": text}
        rules = field_rules(field)
        if rules is not None and rules.sensitive:
            schema = _sensitive(schema, rules.mask)
        return schema

    def _single(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None:
            return self._ref(field.message_type)
        return self._scalar(field)

    def _scalar(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        t = field.type
        if t in _INT32:
            return {"type": "integer", "format": "int32"}
        if t in _UINT32:
            return {"type": "integer", "minimum": 0, "maximum": 4294967295}
        # 64-bit integers are answered as decimal strings; proto3 JSON also reads a
        # JSON number, so requests may send either.
        if t in _INT64:
            return {"type": ["string", "integer"], "format": "int64", "pattern": "^-?[0-9]+$"}
        if t in _UINT64:
            return {
                "type": ["string", "integer"],
                "format": "uint64",
                "pattern": "^[0-9]+$",
                "minimum": 0,
            }
        if t == _FD.TYPE_FLOAT:
            return {"type": "number", "format": "float"}
        if t == _FD.TYPE_DOUBLE:
            return {"type": "number", "format": "double"}
        if t == _FD.TYPE_BOOL:
            return {"type": "boolean"}
        if t == _FD.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        enum = field.enum_type
        if enum is not None:
            if enum.full_name == "google.protobuf.NullValue":
                return {"type": "null"}
            return self._enum(enum)
        return {"type": "string"}

    def _enum(self, enum: descriptor.EnumDescriptor) -> dict[str, Any]:
        full = enum.full_name
        if full not in self.schemas:
            lines = []
            for value in enum.values:
                text = self.catalog.comment(f"{full}.{value.name}")
                lines.append(f"- `{value.name}`: {text}" if text else f"- `{value.name}`")
            intro = self.catalog.comment(full)
            # Proto3 JSON (and the edge, in bodies and queries) takes an enum's number
            # as well as its name; an open enum takes any int32, and answers one the
            # edge does not know by its number.
            numbers: dict[str, Any] = (
                {"type": "integer", "enum": [v.number for v in enum.values]}
                if enum.is_closed
                else {"type": "integer", "format": "int32"}
            )
            self.schemas[full] = {
                "anyOf": [{"type": "string", "enum": [v.name for v in enum.values]}, numbers],
                "description": "\n".join(([intro, ""] if intro else []) + lines),
            }
        return {"$ref": _REF + full}


ResourceNames = dict[tuple[str, ...], tuple[str, ...]]


def resource_variable_names(catalog: Catalog) -> ResourceNames:
    """Resource patterns (`google.api.resource`) by shape: `customers/*/bills/*` →
    (`customer`, `bill`), and every leading part of each (`customers/*` → `customer`)."""
    out: ResourceNames = {}
    for proto in catalog.files.values():
        patterns: list[str] = []
        for definition in proto.options.Extensions[resource_pb2.resource_definition]:
            patterns.extend(definition.pattern)
        stack = list(proto.message_type)
        while stack:
            message = stack.pop()
            stack.extend(message.nested_type)
            if message.options.HasExtension(resource_pb2.resource):
                patterns.extend(message.options.Extensions[resource_pb2.resource].pattern)
        for pattern in patterns:
            shape: list[str] = []
            names: list[str] = []
            for segment in pattern.split("/"):
                if segment.startswith("{") and segment.endswith("}"):
                    shape.append(ANY_SEGMENT)
                    names.append(segment[1:-1])
                    out.setdefault(tuple(shape), tuple(names))
                else:
                    shape.append(segment)
    return out


def _openapi_path(
    template: PathTemplate, names: ResourceNames | None = None
) -> tuple[str, list[tuple[str, tuple[str, ...], str]]]:
    """The OpenAPI path of a template and its parameters: (name, field path, pattern).

    `pattern` is the variable's template when a parameter is only part of its field.
    Parameters take their names from a matching resource pattern, else from the
    collection before them (`customers` → `customer`).
    """
    out: list[str] = []
    params: list[tuple[str, tuple[str, ...], str]] = []
    used: set[str] = set()
    by_start = {v.start: v for v in template.variables}
    i = 0
    segments = template.segments
    while i < len(segments):
        var = by_start.get(i)
        if var is None:
            out.append(segments[i])
            i += 1
            continue
        end = len(segments) if var.end is None else var.end
        if var.single_segment or ANY_SEGMENTS in segments[var.start : end]:
            name = _unique(var.name, used)
            out.append("{" + name + "}")
            params.append(
                (
                    name,
                    var.field_path,
                    "" if var.single_segment else _pattern(template, var.start, end),
                )
            )
        else:
            pattern = _pattern(template, var.start, end)
            known = list((names or {}).get(segments[var.start : end], ()))
            for j in range(var.start, end):
                if segments[j] == ANY_SEGMENT:
                    previous = segments[j - 1] if j > var.start else var.field_path[-1]
                    name = _unique(known.pop(0) if known else _singular(previous), used)
                    out.append("{" + name + "}")
                    params.append((name, var.field_path, pattern))
                else:
                    out.append(segments[j])
        i = end
    path = "/" + "/".join(out)
    return (path + ":" + template.verb if template.verb else path), params


def _pattern(template: PathTemplate, start: int, end: int) -> str:
    return "/".join(template.segments[start:end])


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}{n}"
    used.add(candidate)
    return candidate


_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _singular(collection: str) -> str:
    """`customers` → `customer`, `categories` → `category`; other words unchanged."""
    word = _IDENT.sub("_", collection)
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# The string format of a field-encryption envelope (edge.fieldcrypt.envelope).
ENVELOPE_FORMAT = PREFIX


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` also allowing `null`: the proto3 JSON mapping reads `null` for a field as
    the field left unset, and the edge decodes bodies by it, so the document says so for
    every field that is not required (a required field sent as `null` is refused as
    missing)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    if "$ref" in schema:
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return {**rest, "anyOf": [{"$ref": schema["$ref"]}, {"type": "null"}]}
    return schema


def _sensitive(schema: dict[str, Any], mask: options_pb2.MaskStyle.ValueType) -> dict[str, Any]:
    style = options_pb2.MaskStyle.Name(mask)
    marked = {"x-palmgrid-sensitive": {"envelope": ENVELOPE_FORMAT, "mask": style}}
    note = (
        f"Sensitive: in requests a `{ENVELOPE_FORMAT}` envelope sealed to a key of "
        f"GET /v1/keys; in responses an envelope sealed to the session's client key, "
        f"or masked ({style}) without one."
    )
    description = f"{schema['description']}\n\n{note}" if "description" in schema else note
    if schema.get("type") == "array":
        items = {**schema["items"], "format": ENVELOPE_FORMAT}
        return {**schema, "items": items, "description": description, **marked}
    return {**schema, "format": ENVELOPE_FORMAT, "description": description, **marked}


def _own_endpoints() -> dict[str, dict[str, Any]]:
    health = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["SERVING", "NOT_SERVING"]},
            "services": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Each upstream service's grpc.health.v1 status.",
            },
        },
        "required": ["status", "services"],
    }
    return {
        "/healthz": {
            "get": {
                "operationId": "edge_Healthz",
                "tags": ["edge"],
                "summary": "Health of every upstream service",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Every upstream service is SERVING.",
                        "content": {"application/json": {"schema": health}},
                    },
                    "503": {
                        "description": "Some upstream service is not SERVING.",
                        "content": {"application/json": {"schema": health}},
                    },
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "edge_OpenApi",
                "tags": ["edge"],
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
