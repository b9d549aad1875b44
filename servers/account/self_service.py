"""AccountService methods about the caller's own user and sessions: captchas,
registration, login and logout, sessions, profile and password."""

from __future__ import annotations

from datetime import datetime

import grpc
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from palmgrid.account.v1 import account_service_pb2 as service_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import (
    captchas,
    login,
    models,
    passwords,
    revocations,
    second_factor,
    sessions,
    throttle,
    users,
)
from servers.account.core import AccountCore
from servers.account.scope import own_user_id, readable_user_id
from servers.runtime import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    audit_note,
    callmeta,
    paging,
    require_principal,
)
from servers.runtime.etags import check_content_etag
from servers.runtime.idempotency import IdempotentRequest

_SESSION_FIELDS = {"push_token"}
_USER_FIELDS = {"display_name", "phone"}
# Not part of a registration's fingerprint: secrets (never kept, not even hashed) and the
# captcha, which a retry may bring anew.
_NOT_FINGERPRINTED = ("password", "captcha", "captcha_answer", "user.phone")


def check_password(field: str, password: str, username: str) -> None:
    """INVALID_ARGUMENT naming every rule of the password policy `password` breaks."""
    violations = passwords.policy_violations(field, password, username)
    if violations:
        raise InvalidArgument(
            f"the password breaks the password policy: {violations[0].description}",
            field_violations=violations,
        )


class SelfServiceMethods:
    core: AccountCore

    # --- public ---------------------------------------------------------------------

    def CreateCaptcha(
        self, request: service_pb.CreateCaptchaRequest, context: grpc.ServicerContext
    ) -> account_pb.Captcha:
        now = self.core.now()
        with self.core.runtime.session(write=True) as session:
            lifetime = self.core.params(session).captcha_lifetime
            return captchas.create(
                session, now=now, lifetime=lifetime, fixed_answer=self.core.settings.dev_captcha
            )

    def CreateUser(
        self, request: service_pb.CreateUserRequest, context: grpc.ServicerContext
    ) -> account_pb.User:
        now = self.core.now()
        recorded = audit_note()
        recorded.actor_username = request.user.username
        # A retry (same request_id) gets the user made first, before its captcha is
        # checked again: the first attempt spent it.
        key = IdempotentRequest.of(
            self.core.runtime,
            request,
            ignore=_NOT_FINGERPRINTED,
            clock=self.core.clock,
            anonymous_life=self.core.config.anonymous_request_key_life,
        )
        earlier = self._earlier_user(key, now)
        if earlier is not None:
            return earlier
        captchas.spend(self.core.runtime, request.captcha, request.captcha_answer, now=now)
        check_password("password", request.password, request.user.username)
        phone = users.plain_phone(request.user.phone, "user.phone") if request.user.phone else None
        try:
            return self._create_user(request, key, phone, now)
        except (AlreadyExists, IntegrityError):
            earlier = self._earlier_user(key, now)  # a concurrent retry made it
            if earlier is None:
                raise
            return earlier

    def _earlier_user(self, key: IdempotentRequest | None, now: datetime) -> account_pb.User | None:
        def load(session: Session, name: str) -> account_pb.User:
            audit_note().actor = audit_note().resource = name
            return users.to_proto(session, users.get(session, users.id_from(name)), now)

        return None if key is None else key.replay(self.core.runtime, load)

    def _create_user(
        self,
        request: service_pb.CreateUserRequest,
        key: IdempotentRequest | None,
        phone: str | None,
        now: datetime,
    ) -> account_pb.User:
        recorded = audit_note()
        with self.core.runtime.session(write=True) as session:
            user = users.create(
                session,
                username=request.user.username,
                password=request.password,
                kind=users.CUSTOMER,
                roles=["customer"],
                hasher=self.core.hasher,
                now=now,
                display_name=request.user.display_name,
                phone=phone,
            )
            recorded.actor = recorded.resource = users.name_of(user)
            if key is not None:
                key.remember(session, users.name_of(user), now)
            return users.to_proto(session, user, now)

    def CreateSession(
        self, request: service_pb.CreateSessionRequest, context: grpc.ServicerContext
    ) -> service_pb.CreateSessionResponse:
        client = login.Client(
            ip=callmeta.client_ip(context),
            user_agent=callmeta.user_agent(context),
            public_key=request.client_public_key,
        )
        return login.log_in(self.core, request, client)

    # --- sessions ---------------------------------------------------------------------

    def _session_row(self, name: str, *, write: bool) -> models.Session:
        """The session `name` names ("sessions/current" or an id) if the caller may
        reach it: their own, or for reading, one in the caller's scope (scope.py)."""
        principal = require_principal()
        session_id = (principal.session if name == "sessions/current" else name).removeprefix(
            "sessions/"
        )
        with self.core.runtime.session() as session:
            row = session.get(models.Session, session_id) if session_id else None
        if row is None:
            raise NotFound(f"{name} not found")
        if write:
            own_user_id(f"users/{row.user_id}")
        else:
            readable_user_id(f"users/{row.user_id}", self.core.runtime)
        return row

    def GetSession(
        self, request: service_pb.GetSessionRequest, context: grpc.ServicerContext
    ) -> account_pb.Session:
        row = self._session_row(request.name, write=False)
        return sessions.to_proto(row, f"users/{row.user_id}")

    def ListSessions(
        self, request: service_pb.ListSessionsRequest, context: grpc.ServicerContext
    ) -> service_pb.ListSessionsResponse:
        user_id = readable_user_id(request.user, self.core.runtime)
        filters = (user_id, request.state)
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        size = paging.page_size(request.page_size, 50)
        query = select(models.Session).where(models.Session.user_id == user_id)
        if request.state:
            query = query.where(models.Session.state == request.state)
        # Newest first; sessions of the same instant by id.
        created, session_id = col(models.Session.create_time), col(models.Session.id)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(
                paging.keyset_after((created, session_id), key, descending=(True, False))
            )
        query = query.order_by(created.desc(), session_id)
        with self.core.runtime.session() as session:
            rows = session.exec(query.limit(size + 1)).all()
        return service_pb.ListSessionsResponse(
            sessions=[sessions.to_proto(row, f"users/{user_id}") for row in rows[:size]],
            next_page_token=paging.next_page_token(
                rows, size, lambda row: [paging.time_key(row.create_time), row.id], filters
            ),
        )

    def UpdateSession(
        self, request: service_pb.UpdateSessionRequest, context: grpc.ServicerContext
    ) -> account_pb.Session:
        row = self._session_row(request.session.name, write=True)
        paths = set(request.update_mask.paths) or {
            f for f in _SESSION_FIELDS if getattr(request.session, f)
        }
        with self.core.runtime.session(write=True) as session:
            row = session.get(models.Session, row.id) or row
            if "push_token" in paths:
                row.push_token = request.session.push_token or None
            session.add(row)
            return sessions.to_proto(row, f"users/{row.user_id}")

    def DeleteSession(
        self, request: service_pb.DeleteSessionRequest, context: grpc.ServicerContext
    ) -> service_pb.DeleteSessionResponse:
        row = self._session_row(request.name, write=True)
        audit_note().resource = sessions.name_of(row)
        with self.core.runtime.session(write=True) as session:
            row = session.get(models.Session, row.id) or row
            if row.state == sessions.ACTIVE:
                sessions.end(session, [row], sessions.LOGGED_OUT, self.core.now())
        return service_pb.DeleteSessionResponse()

    # --- the user ---------------------------------------------------------------------

    def GetUser(
        self, request: service_pb.GetUserRequest, context: grpc.ServicerContext
    ) -> account_pb.User:
        user_id = readable_user_id(request.name, self.core.runtime)
        with self.core.runtime.session() as session:
            user = users.to_proto(session, users.get(session, user_id), self.core.now())
        principal = require_principal()
        if principal.user == user.name:
            user.permissions.extend(sorted(principal.permissions))
        return user

    def UpdateUser(
        self, request: service_pb.UpdateUserRequest, context: grpc.ServicerContext
    ) -> account_pb.User:
        user_id = own_user_id(request.user.name)
        paths = set(request.update_mask.paths) or {
            f for f in _USER_FIELDS if getattr(request.user, f)
        }
        now = self.core.now()
        phone = (
            users.plain_phone(request.user.phone, "user.phone")
            if "phone" in paths and request.user.phone
            else None
        )
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, user_id)
            session.refresh(user, with_for_update=True)  # held while the etag is checked
            check_content_etag(request.user.etag, users.to_proto(session, user, now))
            if "display_name" in paths:
                user.display_name = request.user.display_name or user.username
            if "phone" in paths:
                user.phone = phone
            user.update_time = now
            session.add(user)
            audit_note().details = {"fields": ",".join(sorted(paths))}
            return users.to_proto(session, user, now)

    def EnrollSecondFactor(
        self, request: service_pb.EnrollSecondFactorRequest, context: grpc.ServicerContext
    ) -> service_pb.SecondFactorEnrollment:
        user_id = own_user_id(request.name)
        now = self.core.now()
        secret = second_factor.new_secret()
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, user_id)
            if user.kind != users.STAFF:
                raise FailedPrecondition("only staff enrol a second factor")
            if second_factor.confirmed(session, user_id) is not None:
                raise FailedPrecondition(
                    "a second factor is enrolled; an administrator resets it first"
                )
            second_factor.remove(session, user_id)
            session.flush()
            session.add(
                models.SecondFactor(
                    user_id=user_id,
                    sealed_secret=second_factor.seal(self.core.hasher, user_id, secret),
                    create_time=now,
                )
            )
            username = user.username
        return service_pb.SecondFactorEnrollment(
            secret=secret, provisioning_uri=second_factor.provisioning_uri(secret, username)
        )

    def ConfirmSecondFactor(
        self, request: service_pb.ConfirmSecondFactorRequest, context: grpc.ServicerContext
    ) -> service_pb.ConfirmSecondFactorResponse:
        user_id = own_user_id(request.name)
        now = self.core.now()
        with self.core.runtime.session(write=True) as session:
            factor = session.get(models.SecondFactor, user_id)
            if factor is None or factor.confirm_time is not None:
                raise FailedPrecondition("no second factor waits for confirmation")
            if not second_factor.accept_code(self.core.hasher, session, factor, request.code, now):
                raise InvalidArgument(
                    "the code does not match the enrolled secret now",
                    reason="SECOND_FACTOR_INVALID",
                    field_violations=[
                        FieldViolation("code", "wrong or expired", "SECOND_FACTOR_INVALID")
                    ],
                )
            factor.confirm_time = now
            session.add(factor)
            codes = second_factor.new_recovery_codes(self.core.hasher, session, user_id)
            # A session limited to enrolment gets its full principal at its next check.
            revocations.revoke(session, revocations.USER, [f"users/{user_id}"], now)
        return service_pb.ConfirmSecondFactorResponse(recovery_codes=codes)

    def ChangePassword(
        self, request: service_pb.ChangePasswordRequest, context: grpc.ServicerContext
    ) -> service_pb.ChangePasswordResponse:
        user_id = own_user_id(request.name)
        principal = require_principal()
        now = self.core.now()
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, user_id)
            params = self.core.params(session)
            # A wrong current password counts as a failed login from the caller's source.
            attempt = throttle.reserve(
                session,
                user.username,
                callmeta.client_ip(context),
                login.limits(self.core, params),
                now,
            )
            history = session.exec(
                select(models.PasswordHistory.password_hash)
                .where(models.PasswordHistory.user_id == user_id)
                .order_by(col(models.PasswordHistory.id).desc())
                .limit(params.password_history + 1)
            ).all()
        if not self.core.hasher.verify(user.password_hash, request.password):
            login.fail_login(self.core, user.username, user, attempt, params, now)
        with self.core.runtime.session(write=True) as session:
            throttle.succeeded(session, attempt, now)
        check_password("newPassword", request.new_password, user.username)
        if any(self.core.hasher.verify(old, request.new_password) for old in history):
            raise InvalidArgument(
                "the new password was used recently",
                field_violations=[
                    passwords.reused_violation("newPassword", params.password_history)
                ],
            )
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, user_id)
            encoded = self.core.hasher.hash(request.new_password)
            user.password_hash = encoded
            user.password_changed_time = now
            user.password_change_required = False
            user.password_expire_time = (
                now + params.password_expiry
                if user.kind == users.STAFF and params.password_expiry
                else None
            )
            user.update_time = now
            session.add(user)
            session.add(
                models.PasswordHistory(user_id=user_id, password_hash=encoded, create_time=now)
            )
            others = [
                row
                for row in sessions.active_rows(session, user_id, now)
                if sessions.name_of(row) != principal.session
            ]
            ended = sessions.end(session, others, sessions.REVOKED, now)
            revocations.revoke(session, revocations.USER, [users.name_of(user)], now)
            response = service_pb.ChangePasswordResponse(ended_session_count=len(ended))
            if user.password_expire_time is not None:
                response.password_expire_time.FromDatetime(user.password_expire_time)
        audit_note().details = {"endedSessions": str(len(ended))}
        return response
