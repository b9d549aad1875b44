"""The security and caching settings of `python -m edge serve`, from the environment.

The edge never imports `servers`, so it reads the same `PALMGRID_*` variables itself:

`PALMGRID_PROFILE`, `PALMGRID_DATA_DIR`, `PALMGRID_MEMCACHED_SERVERS` (as for the
services) and the edge's own `PALMGRID_EDGE_*` variables; docs/security.md lists them
with their defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import grpc

from edge.app import Edge
from edge.cache.near import NearCacheOptions
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.security.assemble import ACCOUNT_SERVICE, SecureEdge, SecuritySettings, build_secure_edge
from edge.security.clientip import TrustedProxies
from edge.security.sessions import SessionPolicy
from edge.security.transport import TransportPolicy, check_transport

__all__ = ["add_arguments", "serve_app", "settings_from_env"]


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def settings_from_env(env: Mapping[str, str], *, plaintext: bool) -> SecuritySettings:
    profile = env.get("PALMGRID_PROFILE", "dev")
    if profile not in ("dev", "production"):
        raise ValueError(f"PALMGRID_PROFILE must be dev or production, got {profile!r}")
    data_dir = Path(env.get("PALMGRID_DATA_DIR", ".palmgrid"))
    fallback = env.get("PALMGRID_EDGE_REPLAY_FALLBACK", "local")
    if fallback not in ("local", "reject"):
        raise ValueError("PALMGRID_EDGE_REPLAY_FALLBACK must be local or reject")
    servers = env.get("PALMGRID_MEMCACHED_SERVERS", "127.0.0.1:11211")
    # The console's files: the repository's clients/console when the edge runs from it.
    console = Path(env.get("PALMGRID_EDGE_CONSOLE_DIR", "clients/console"))
    return SecuritySettings(
        profile=cast(Literal["dev", "production"], profile),
        fieldcrypt_keys_dir=Path(
            env.get("PALMGRID_EDGE_FIELDCRYPT_KEYS_DIR", data_dir / "edge" / "fieldcrypt")
        ),
        cache_key_file=Path(
            env.get("PALMGRID_EDGE_CACHE_KEY_FILE", data_dir / "edge" / "cache.key")
        ),
        memcached_servers=_list(servers),
        trusted_proxies=_list(env.get("PALMGRID_EDGE_TRUSTED_PROXIES")),
        cors_origins=_list(env.get("PALMGRID_EDGE_CORS_ORIGINS")),
        envelope_window=float(env.get("PALMGRID_EDGE_ENVELOPE_WINDOW_SECONDS", "300")),
        replay_fallback=cast(Literal["local", "reject"], fallback),
        session=SessionPolicy(
            max_cache_seconds=float(env.get("PALMGRID_EDGE_SESSION_CACHE_SECONDS", "30"))
        ),
        near_cache=NearCacheOptions(
            ttl=float(env.get("PALMGRID_EDGE_NEAR_CACHE_SECONDS", "0.5")),
            max_bytes=int(env.get("PALMGRID_EDGE_NEAR_CACHE_MIB", "16")) * 1024 * 1024,
        ),
        # Plain HTTP in dev is loopback testing; in production only a trusted
        # terminator may speak it, and only for requests it received over HTTPS.
        require_https=profile == "production" or not plaintext,
        console_dir=console if (console / "index.html").is_file() else None,
    )


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--security",
        choices=["auto", "on", "off"],
        default="auto",
        help="sessions, access checks, field encryption, rate limits and caching "
        f"(auto: on when {ACCOUNT_SERVICE} is an upstream)",
    )


def serve_app(
    args: argparse.Namespace,
    env: Mapping[str, str],
    catalog: Catalog,
    upstreams: dict[str, str],
    config: EdgeConfig,
    credentials: grpc.ChannelCredentials | None,
) -> tuple[Any, SecureEdge | None]:
    """The ASGI app to serve: the secure edge, or the bare transcoder (`--security off`,
    or `auto` without the account service). Raises ValueError naming what is wrong."""
    enabled = args.security == "on" or (args.security == "auto" and ACCOUNT_SERVICE in upstreams)
    if not enabled:
        return Edge(catalog, upstreams, config=config, channel_credentials=credentials), None
    settings = settings_from_env(env, plaintext=args.plaintext)
    tls_files = None if args.plaintext else (Path(args.tls_cert), Path(args.tls_key))
    problems = check_transport(
        TransportPolicy(
            settings.profile,
            args.plaintext,
            tls_files,
            TrustedProxies.parse(settings.trusted_proxies),
        )
    )
    if problems:
        raise ValueError("; ".join(problems))
    secure = build_secure_edge(
        catalog, upstreams, settings, config=config, channel_credentials=credentials
    )
    return secure.app, secure
