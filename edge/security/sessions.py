"""Sessions: `Authorization: Bearer` checked with the account service, cached briefly.

`AccountSessions.authenticate` answers from the session cache when it can (a sealed
record in Memcached, usable until its revocation mark says otherwise, see
cachetags.sessions) and from `AccountInternalService.AuthenticateSession` otherwise —
including whenever Memcached cannot answer. A cached record lives at most:

- `max_cache_seconds` (30 s by default),
- until `assertion_margin` before the forwarded assertion expires (servers refuse
  expired assertions), and
- half the session's idle timeout, so a user who keeps using the app is seen by the
  account service often enough never to look idle, and an idle session is never
  served past its timeout.

`SessionStage` fills the `authenticate` slot: it puts the `Session` in
`exchange.state["session"]`, and after a successful call revokes the cached sessions
the call changed (see edge.security.revocations).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from cachetags import CacheUnavailable, SessionCache, SessionRecord, steps
from cachetags.sessions import mark_key
from cachetags.steps import Batch
from edge.errors import EdgeError, UpstreamFailure
from edge.fieldcrypt.envelope import session_binding
from edge.pipeline import Exchange, Handler, Reply
from edge.security.clientip import TrustedProxies
from edge.security.revocations import LocalRevocations, RevocationWatcher, users_named_by_tags
from palmgrid.account.v1 import account_internal_service_pb2, account_internal_service_pb2_grpc
from palmgrid.type.v1 import identity_pb2

__all__ = [
    "AccountSessions",
    "Session",
    "SessionPolicy",
    "SessionStage",
    "bearer_token",
    "presented_token",
]

log = logging.getLogger(__name__)

_C = grpc.StatusCode
# The Memcached keys a request will read if its caller is the given principal.
Prefetch = Callable[[identity_pb2.Principal], Awaitable[list[str]]]
_ACCOUNT = "palmgrid.account.v1.AccountService."
CREATE_SESSION = _ACCOUNT + "CreateSession"
DELETE_SESSION = _ACCOUNT + "DeleteSession"
CHANGE_PASSWORD = _ACCOUNT + "ChangePassword"
# What AuthenticateSessionRequest.token accepts; anything else never reaches the service.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}\Z")


@dataclass(frozen=True, slots=True)
class AccountAnswer:
    """The account service's answer about a session, with what every request of the
    session asks of it worked out once: the names a revocation may give, and each
    service's assertion as sent (reading protobuf fields builds new objects each time)."""

    answer: account_internal_service_pb2.AuthenticateSessionResponse
    names: tuple[str, ...]
    # Filled by `assertion_for` as services are called (on the edge's one event loop);
    # nothing else changes an answer once made.
    assertions: dict[str, bytes]

    @classmethod
    def of(cls, answer: account_internal_service_pb2.AuthenticateSessionResponse) -> AccountAnswer:
        principal = answer.principal
        names = (principal.user, principal.session, *(f"roles/{r}" for r in principal.roles))
        return cls(answer, names, {})

    def assertion_for(self, service: str) -> bytes:
        found = self.assertions.get(service)
        if found is None:
            chosen = self.answer.service_assertions.get(service, self.answer.assertion)
            found = self.assertions[service] = chosen.SerializeToString()
        return found


@dataclass(frozen=True, slots=True)
class Session:
    """An authenticated session, as the rest of the pipeline needs it."""

    token: str
    checked: AccountAnswer
    # Cache values read together with the session's revocation mark (edge.cache.stage).
    prefetched: Batch | None = None

    @property
    def principal(self) -> identity_pb2.Principal:
        return self.checked.answer.principal

    @property
    def user(self) -> str:
        return self.checked.answer.principal.user

    @property
    def binding(self) -> str:
        """The session part of field-encryption contexts."""
        return session_binding(self.token)

    def assertion_for(self, service: str) -> bytes:
        """The serialized IdentityAssertion forwarded in `palmgrid-identity-bin` to
        `service` ("billing"): the one signed for it (any other service refuses it)."""
        return self.checked.assertion_for(service)

    @property
    def client_public_key(self) -> bytes:
        return self.checked.answer.session.client_public_key

    @property
    def password_change_required(self) -> bool:
        return self.checked.answer.password_change_required


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long the edge may reuse an account service answer, in seconds."""

    max_cache_seconds: float = 30.0
    assertion_margin: float = 10.0
    call_timeout: float = 2.0


def presented_token(exchange: Exchange) -> str | None:
    """The bearer token as sent, without judging it (for field-encryption contexts)."""
    raw = exchange.header(b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def bearer_token(exchange: Exchange) -> str | None:
    """The bearer token, None without an Authorization header; 401 when malformed."""
    raw = exchange.header(b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.match(token):
        raise EdgeError(
            _C.UNAUTHENTICATED,
            "the Authorization header must be `Bearer <token>`",
            "SESSION_INVALID",
        )
    return token


class AccountSessions:
    """Checks tokens with the account service, through the session cache."""

    def __init__(
        self,
        channel: Callable[[], grpc.aio.Channel],
        cache: SessionCache | None,
        *,
        local: LocalRevocations | None = None,
        policy: SessionPolicy | None = None,
        clock: Callable[[], float] = time.time,
        watch: bool = True,
    ) -> None:
        self._channel = channel
        self._stub: Any = None
        self.cache = cache
        self.local = local or LocalRevocations(clock=clock)
        self.watcher = RevocationWatcher(channel, self.local) if watch else None
        self.policy = policy or SessionPolicy()
        self.clock = clock
        self.account_calls = 0
        # Checks on their way, by token: the requests of a session whose held record ran
        # out together (a burst, an app opening several screens) wait for one account
        # call instead of each making its own. The answer is the session's whichever
        # address asked, as a held record is.
        self._checking: dict[str, asyncio.Future[tuple[float, AccountAnswer]]] = {}

    async def authenticate(
        self, token: str, client_ip: str, request_id: str, *, also: Prefetch | None = None
    ) -> Session:
        """The session of `token`; UpstreamFailure (401 …) when the account refuses it.

        `also` names what the request will read from Memcached if the caller is the
        principal of the record this process holds: it is read with the revocation
        mark in one get_many and handed on in `Session.prefetched`.
        """
        if self.watcher is not None:
            self.watcher.ensure_started()
        if self.cache is not None:
            batch = await self._prefetch(token, also)
            record = await self.cache.alookup(token, batch.found if batch else None)
            if record is not None:
                checked = _held_answer(record.payload)
                if not self.local.stale(checked.names, record.checked_at):
                    return Session(token, checked, batch)
        return Session(token, await self._checked_answer(token, client_ip, request_id))

    async def _checked_answer(self, token: str, client_ip: str, request_id: str) -> AccountAnswer:
        """The account service's answer for the token, from the check already on its way
        when nothing says a revocation overtook it, else from one that starts now."""
        running = self._checking.get(token)
        joined = running is not None and not running.done()
        checked_at, fresh = await self._shared_check(token, client_ip, request_id)
        # A check started before this request arrived may predate a logout anywhere:
        # it is used only if the user's revocation mark, read now, is older (the rule
        # session records follow). Otherwise a check that starts now, which every
        # request waiting here shares: it started after all of them arrived.
        if not self.local.stale(fresh.names, checked_at) and (
            not joined or await self._unrevoked(fresh, checked_at)
        ):
            return fresh
        _, fresh = await self._shared_check(token, client_ip, request_id)
        return fresh

    async def _shared_check(
        self, token: str, client_ip: str, request_id: str
    ) -> tuple[float, AccountAnswer]:
        """The check of the token on its way, or a new one (run as part of the request
        that starts it: its request id and trace)."""
        check = self._checking.get(token)
        if check is None or check.done():
            check = self._checking[token] = asyncio.ensure_future(
                self._check(token, client_ip, request_id)
            )
            check.add_done_callback(functools.partial(self._checked, token))
        # Shielded: a caller that goes away does not cancel the check the others wait on.
        return await asyncio.shield(check)

    async def _unrevoked(self, fresh: AccountAnswer, checked_at: float) -> bool:
        """Whether no revocation of the user is known since `checked_at` (False without
        Memcached: then nothing can say)."""
        if self.cache is None:
            return False
        return await self.cache.aunrevoked(fresh.answer.principal.user, checked_at)

    async def _check(
        self, token: str, client_ip: str, request_id: str
    ) -> tuple[float, AccountAnswer]:
        """Ask the account service, and keep a usable answer in the session cache; when
        the answer was worked out, and the answer."""
        checked_at = self.clock()
        answer = await self._ask_account(token, client_ip, request_id)
        fresh = AccountAnswer.of(answer)
        if self.cache is not None and not self.local.stale(fresh.names, checked_at):
            valid_until = self._valid_until(answer, checked_at)
            if valid_until > self.clock():
                user = answer.principal.user
                record = SessionRecord(user, answer.SerializeToString(), checked_at, valid_until)
                await self.cache.astore(token, record)
        return checked_at, fresh

    def _checked(self, token: str, check: asyncio.Future[Any]) -> None:
        if self._checking.get(token) is check:
            del self._checking[token]
        if not check.cancelled():
            check.exception()  # retrieved: every caller may have gone before it ended

    async def _prefetch(self, token: str, also: Prefetch | None) -> Batch | None:
        assert self.cache is not None
        held = self.cache.recalled(token)
        if held is None or also is None:
            return None
        wanted = [mark_key(held.user), *await also(_held_answer(held.payload).answer.principal)]
        if len(wanted) == 1:
            return None
        try:
            found = await steps.run_async(self.cache.pool, steps.get_many(wanted))
        except CacheUnavailable:
            return None
        return Batch(frozenset(wanted), found)

    async def revoke(self, users: list[str]) -> None:
        """Make the users' cached sessions unusable, here at once and everywhere via
        Memcached."""
        if not users:
            return
        self.local.revoke(users)
        if self.cache is not None and not await self.cache.arevoke_users(users):
            log.warning("session revocation not recorded in Memcached", extra={"users": users})

    async def forget(self, token: str) -> None:
        if self.cache is not None:
            await self.cache.aforget(token)

    async def _ask_account(
        self, token: str, client_ip: str, request_id: str
    ) -> account_internal_service_pb2.AuthenticateSessionResponse:
        if self._stub is None:
            self._stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(
                self._channel()
            )
        self.account_calls += 1
        request = account_internal_service_pb2.AuthenticateSessionRequest(
            token=token, client_ip=client_ip
        )
        try:
            answer: account_internal_service_pb2.AuthenticateSessionResponse = (
                await self._stub.AuthenticateSession(
                    request,
                    timeout=self.policy.call_timeout,
                    metadata=(("x-request-id", request_id),),
                )
            )
        except grpc.aio.AioRpcError as exc:
            raise UpstreamFailure.from_rpc_error(exc) from None
        return answer

    def _valid_until(
        self, answer: account_internal_service_pb2.AuthenticateSessionResponse, checked_at: float
    ) -> float:
        limit = checked_at + self.policy.max_cache_seconds
        if answer.HasField("assertion_expire_time"):
            expires = answer.assertion_expire_time.ToNanoseconds() / 1e9
            limit = min(limit, expires - self.policy.assertion_margin)
        idle = answer.session.idle_timeout.ToNanoseconds() / 1e9
        if idle > 0:
            limit = min(limit, checked_at + idle / 2)
        return limit


# A held record's payload is one bytes object (its hash is computed once): every request
# of the session gets the same checked answer, which the pipeline only reads, instead of
# parsing it twice per request. As many as the session cache holds records.
@functools.lru_cache(maxsize=10_000)
def _held_answer(payload: bytes) -> AccountAnswer:
    """The account's answer a session record keeps."""
    return AccountAnswer.of(
        account_internal_service_pb2.AuthenticateSessionResponse.FromString(payload)
    )


class SessionStage:
    """The `authenticate` slot.

    A protected method's session is required later, by `authorize`; here a bearer token
    is checked whenever one is sent. On a public method a token that does not check out
    (or an account service that cannot be asked) leaves the caller anonymous instead of
    failing: logging in with a stale token in the header must work.
    """

    def __init__(
        self,
        sessions: AccountSessions,
        proxies: TrustedProxies,
        prefetch: Callable[[Exchange, identity_pb2.Principal], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.proxies = proxies
        # The cache stage's `prefetch_keys`: its reads, batched with the session check.
        self.prefetch = prefetch

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route = exchange.route
        assert route is not None
        token = bearer_token(exchange)
        session: Session | None = None
        if token is not None:
            ip = self.proxies.client_ip_of(exchange)
            try:
                session = await self.sessions.authenticate(
                    token,
                    ip,
                    exchange.request_id,
                    also=functools.partial(self.prefetch, exchange) if self.prefetch else None,
                )
            except (EdgeError, UpstreamFailure):
                if route.access.kind != "public":
                    raise
                log.info("edge: token on a public method not accepted; caller is anonymous")
        exchange.state["session"] = session
        await call_next(exchange)
        if isinstance(exchange.reply, Reply):
            await self._after_success(exchange, session)

    async def _after_success(self, exchange: Exchange, session: Session | None) -> None:
        assert exchange.route is not None and isinstance(exchange.reply, Reply)
        method = exchange.route.method_name
        # The cache stage leaves the call's rendered `invalidates` tags here.
        users = users_named_by_tags(exchange.state.get("invalidated_tags", ()))
        if method == CREATE_SESSION:
            users.append(exchange.reply.message.session.user)
        elif method in (DELETE_SESSION, CHANGE_PASSWORD) and session is not None:
            users.append(session.user)
            if method == DELETE_SESSION:
                await self.sessions.forget(session.token)
        await self.sessions.revoke(sorted({u for u in users if u}))
