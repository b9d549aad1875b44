"""The edge with its security and caching stages in place, and the ASGI app to serve.

    secure = build_secure_edge(catalog, upstreams, settings, config=..., channel_credentials=...)
    server = make_server(secure.app, host, port, tls=...)

Slots filled (see edge.pipeline.STAGE_ORDER): authenticate (sessions), authorize
(access), rate_limit, decrypt, metadata (the identity assertion added, the bearer
token removed), encrypt, cache. Around the edge, as ASGI middleware from the outside
in: HTTPS only (production), security headers, the console's files, CORS, and
`GET /v1/keys`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import grpc

from cachetags import (
    AsyncCachePool,
    EntryStore,
    FlightOptions,
    PoolOptions,
    ReadThrough,
    SessionCache,
    ValueCipher,
    ensure_key_file,
)
from cachetags.health import node_states
from edge.app import Edge
from edge.cache.near import NearCache, NearCacheOptions
from edge.cache.stage import CacheStage
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.fieldcrypt.keys import KeyRing, ensure_key
from edge.fieldcrypt.replay import ReplayGuard
from edge.fieldcrypt.requests import RequestOpener
from edge.fieldcrypt.responses import ResponseSealer
from edge.fieldcrypt.stages import DecryptStage, EncryptStage, KeysEndpoint
from edge.metadata import HeaderRules
from edge.pipeline import Stage
from edge.ratelimit import RateLimiter, RateLimitStage
from edge.security.access import AccessStage
from edge.security.audit import AccountAuditor
from edge.security.clientip import TrustedProxies
from edge.security.console import ConsoleFiles
from edge.security.cors import Cors, CorsPolicy
from edge.security.headers import App, Receive, Scope, SecurityHeaders, Send
from edge.security.identity import CallerIdentity
from edge.security.sessions import AccountSessions, SessionPolicy, SessionStage
from edge.security.transport import HttpsOnly
from edge.stages import MetadataStage

__all__ = ["ACCOUNT_SERVICE", "SecureEdge", "SecuritySettings", "build_secure_edge"]

ACCOUNT_SERVICE = "palmgrid.account.v1.AccountService"


class _WatchRevocations:
    """Runs the revocation watcher for the app's lifetime (ASGI lifespan): started once
    the edge's channels are open, so its first reset comes before the first request,
    and stopped at shutdown."""

    def __init__(self, app: App, sessions: AccountSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = self.sessions.watcher
        if scope["type"] != "lifespan" or watcher is None:
            await self.app(scope, receive, send)
            return

        async def receive_then_stop() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await watcher.stop()
            return message

        async def start_then_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                watcher.ensure_started()
            await send(message)

        await self.app(scope, receive_then_stop, start_then_send)


@dataclass(frozen=True)
class SecuritySettings:
    """Everything the security and caching stages need, passed in explicitly."""

    # Where field-encryption keys live (`<kid>.pem`); the dev profile creates one.
    fieldcrypt_keys_dir: Path
    # AES key file for values at rest in Memcached; the dev profile creates it.
    cache_key_file: Path
    profile: Literal["dev", "production"] = "dev"
    # Memcached pool; empty disables caching (sessions then always ask the account).
    memcached_servers: tuple[str, ...] = ()
    pool_options: PoolOptions = field(default_factory=PoolOptions)
    flight: FlightOptions = field(default_factory=FlightOptions)
    # In-process copies of hot global entries (edge/cache/near.py).
    near_cache: NearCacheOptions = field(default_factory=NearCacheOptions)
    session: SessionPolicy = field(default_factory=SessionPolicy)
    # Networks of load balancers / TLS terminators whose X-Forwarded-* are believed.
    trusted_proxies: tuple[str, ...] = ()
    # Origins of the web console allowed by CORS.
    cors_origins: tuple[str, ...] = ()
    # How old a request envelope may be, in seconds; replays are remembered twice as long.
    envelope_window: float = 300.0
    replay_fallback: Literal["local", "reject"] = "local"
    # Refuse requests that did not arrive over HTTPS (always on in production).
    require_https: bool = True
    hsts_max_age: int = 31_536_000
    # The web console's static files, served at /console/ (docs/console.md); None: none.
    console_dir: Path | None = None


@dataclass
class SecureEdge:
    edge: Edge
    app: App
    pool: AsyncCachePool | None
    sessions: AccountSessions
    cache: CacheStage
    keys: KeyRing
    auditor: AccountAuditor
    limiter: RateLimiter

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def build_secure_edge(
    catalog: Catalog,
    upstreams: Mapping[str, str],
    settings: SecuritySettings,
    *,
    config: EdgeConfig | None = None,
    channel_credentials: grpc.ChannelCredentials | None = None,
) -> SecureEdge:
    if ACCOUNT_SERVICE not in upstreams:
        raise ValueError(
            f"sessions need the account service among the upstreams ({ACCOUNT_SERVICE})"
        )
    config = config or EdgeConfig()
    production = settings.profile == "production"
    proxies = TrustedProxies.parse(settings.trusted_proxies)
    keys = (
        KeyRing(settings.fieldcrypt_keys_dir)
        if production
        else ensure_key(settings.fieldcrypt_keys_dir)
    )
    if not production:
        ensure_key_file(settings.cache_key_file)
    cipher = ValueCipher.from_file(settings.cache_key_file)
    pool = (
        AsyncCachePool(settings.memcached_servers, settings.pool_options)
        if settings.memcached_servers
        else None
    )
    holder: dict[str, Edge] = {}

    def account_channel() -> grpc.aio.Channel:
        return holder["edge"].upstreams.channel(ACCOUNT_SERVICE)

    sessions = AccountSessions(
        account_channel,
        SessionCache(pool, cipher) if pool is not None else None,
        policy=settings.session,
    )
    auditor = AccountAuditor(account_channel)
    limiter = RateLimiter(pool)
    reader = ReadThrough(EntryStore(pool, cipher), settings.flight) if pool is not None else None
    cache = CacheStage(pool, reader, (), NearCache(settings.near_cache))
    rules = HeaderRules(
        internal_prefixes=config.internal_prefixes,
        default_timeout=config.default_timeout,
        max_timeout=config.max_timeout,
    )
    opener = RequestOpener(
        keys,
        ReplayGuard(pool, window=settings.envelope_window, fallback=settings.replay_fallback),
        window=settings.envelope_window,
    )
    stages: dict[str, Stage | None] = {
        "authenticate": SessionStage(sessions, proxies, cache.prefetch_keys),
        "authorize": AccessStage(),
        "rate_limit": RateLimitStage(limiter, proxies),
        "decrypt": DecryptStage(opener, auditor, proxies),
        "metadata": MetadataStage(
            rules, config.stream_timeout, amend=CallerIdentity(proxies).add_to
        ),
        "encrypt": EncryptStage(ResponseSealer()),
        "cache": cache,
    }
    edge = Edge(
        catalog,
        upstreams,
        config=config,
        channel_credentials=channel_credentials,
        stages=stages,
        # Reported by /healthz, not required: a cache that is down costs misses, not answers.
        dependencies={"memcached": functools.partial(node_states, pool)} if pool else None,
    )
    holder["edge"] = edge
    edge.extra_paths.update(KeysEndpoint.openapi_paths())
    app: App = _WatchRevocations(KeysEndpoint(edge, keys), sessions)
    if settings.cors_origins:
        app = Cors(app, CorsPolicy.from_origins(settings.cors_origins))
    if settings.console_dir is not None:
        app = ConsoleFiles(app, settings.console_dir)
    app = SecurityHeaders(app, proxies=proxies, hsts_max_age=settings.hsts_max_age)
    if settings.require_https or production:
        app = HttpsOnly(app, proxies)
    return SecureEdge(edge, app, pool, sessions, cache, keys, auditor, limiter)
