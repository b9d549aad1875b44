"""`python -m edge serve …`: front any annotated gRPC service from its descriptors.

    python -m edge serve --descriptor-set api.binpb \\
        --upstream library.v1.LibraryService=127.0.0.1:50051 \\
        --listen 127.0.0.1:8443 [--plaintext] [--upstream-plaintext] \\
        [--default-policy public|deny]

Descriptors come from a descriptor set (`protoc --descriptor_set_out --include_imports`,
add `--include_source_info` for OpenAPI descriptions) or from generated modules
(`--proto-module`). HTTPS uses the dev profile's certificate unless `--tls-cert` and
`--tls-key` name others; `--plaintext` serves plain HTTP (loopback testing only).
Upstream calls use TLS with the dev CA and the `edge` client certificate (mTLS) unless
`--upstream-plaintext`.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from edge.config import EdgeConfig
from edge.descriptors import Catalog, DescriptorError
from edge.logs import configure_edge_logging
from edge.security import settings as security
from edge.server import TlsFiles, dev_tls_dir, make_server, upstream_credentials
from palmlib.balancing import TargetError, grpc_target
from palmlib.networks import parse_networks
from palmlib.telemetry import configure_tracing

_DEFAULTS = EdgeConfig()


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _upstream(text: str) -> tuple[str, str]:
    service, sep, address = text.partition("=")
    if not sep or not service or ":" not in address:
        raise argparse.ArgumentTypeError(f"expected PACKAGE.Service=HOST:PORT, got {text!r}")
    try:
        grpc_target(address)  # several replicas: IP:PORT,IP:PORT
    except TargetError as exc:
        raise argparse.ArgumentTypeError(f"{service}: {exc}") from None
    return service, address


def _networks(text: str) -> tuple[str, ...]:
    """CIDRs, comma-separated ("" allows nobody); ValueError names the bad one."""
    networks = tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        parse_networks(networks)
    except ValueError as exc:
        raise ValueError(f"PALMGRID_EDGE_METRICS_ALLOW: {exc}") from None
    return networks


def parser() -> argparse.ArgumentParser:
    tls = dev_tls_dir()
    p = argparse.ArgumentParser(prog="python -m edge", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve JSON/REST for gRPC services")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--descriptor-set", type=Path, help="FileDescriptorSet file")
    source.add_argument(
        "--proto-module", action="append", help="generated _pb2 module (repeatable)"
    )
    serve.add_argument(
        "--upstream",
        action="append",
        type=_upstream,
        required=True,
        metavar="PACKAGE.Service=HOST:PORT",
        help="a service to front and where it listens (repeatable); HOST:PORT,HOST:PORT "
        "for several replicas (IP addresses), balanced round robin",
    )
    serve.add_argument("--listen", type=_address, default=("127.0.0.1", 8443), metavar="HOST:PORT")
    serve.add_argument("--plaintext", action="store_true", help="serve plain HTTP")
    serve.add_argument("--tls-cert", type=Path, default=tls / "server.pem")
    serve.add_argument("--tls-key", type=Path, default=tls / "server.key")
    serve.add_argument("--upstream-plaintext", action="store_true", help="plaintext gRPC")
    serve.add_argument("--upstream-ca", type=Path, default=tls / "ca.pem")
    serve.add_argument("--upstream-cert", type=Path, default=tls / "edge.pem")
    serve.add_argument("--upstream-key", type=Path, default=tls / "edge.key")
    serve.add_argument("--default-policy", choices=["public", "deny"], default="deny")
    serve.add_argument("--max-body-bytes", type=int, default=_DEFAULTS.max_body_bytes)
    serve.add_argument("--default-timeout", type=float, default=_DEFAULTS.default_timeout)
    serve.add_argument("--max-timeout", type=float, default=_DEFAULTS.max_timeout)
    serve.add_argument("--ignore-query-parameter", action="append", default=[], metavar="NAME")
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=0.0,
        help="on SIGTERM, answer /healthz 503 but keep serving this long before stopping",
    )
    serve.add_argument(
        "--shutdown-grace-seconds",
        type=float,
        default=10.0,
        help="then wait this long at most for in-flight requests",
    )
    security.add_arguments(serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_edge_logging(args.log_level.upper())
    configure_tracing("edge")
    try:
        catalog = (
            Catalog.from_descriptor_set(args.descriptor_set)
            if args.descriptor_set
            else Catalog.from_modules(args.proto_module)
        )
        config = EdgeConfig(
            default_policy=args.default_policy,
            max_body_bytes=args.max_body_bytes,
            default_timeout=args.default_timeout,
            max_timeout=args.max_timeout,
            ignored_query_parameters=frozenset(args.ignore_query_parameter),
            metrics_allow=_networks(
                os.environ.get("PALMGRID_EDGE_METRICS_ALLOW", "127.0.0.1/32,::1/128")
            ),
        )
        credentials = None
        if not args.upstream_plaintext:
            client = TlsFiles(args.upstream_cert, args.upstream_key)
            has_client = client.cert.is_file() and client.key.is_file()
            ca = args.upstream_ca if args.upstream_ca.is_file() else None
            credentials = upstream_credentials(ca, client if has_client else None)
        app, secure = security.serve_app(
            args, os.environ, catalog, dict(args.upstream), config, credentials
        )
        tls = None if args.plaintext else TlsFiles(args.tls_cert, args.tls_key)
        host, port = args.listen
        server = make_server(
            app,
            host,
            port,
            tls=tls,
            log_level=args.log_level.lower(),
            drain=args.drain_seconds,
            grace=args.shutdown_grace_seconds,
            edge=secure.edge if secure is not None else None,
        )
    except (DescriptorError, FileNotFoundError, ValueError) as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 2
    scheme = "http" if args.plaintext else "https"
    logging.getLogger("edge").info("edge: serving %s://%s:%d", scheme, host, port)
    # What exists now (modules, descriptors, routes and their encoders) lives as long as
    # the process: frozen out of the collector, which otherwise walks all of it again in
    # every full collection, pauses that set the edge's tail latency (docs/caching.md).
    gc.collect()
    gc.freeze()
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
