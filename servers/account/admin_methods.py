"""AccountAdminService: staff users, roles, supply-office scope, sessions, system
parameters, the audit log and the service accounts, for administrators."""

from __future__ import annotations

import grpc
from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from palmgrid.account.v1 import account_admin_service_pb2 as admin_service_pb
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1 import account_service_pb2  # noqa: F401 - registers User requests
from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import (
    audit,
    cache_tags,
    models,
    parameters,
    revocations,
    scope,
    second_factor,
    sessions,
    throttle,
    users,
)
from servers.account.catalog import declared_permissions
from servers.account.core import AccountCore
from servers.account.roles import role_etag, role_name
from servers.account.self_service import check_password
from servers.runtime import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    audit_note,
    paging,
    require_principal,
)


def _role_id(name: str) -> str:
    return name.removeprefix("roles/")


def _get_role(session: Session, name: str) -> models.Role:
    role = session.get(models.Role, _role_id(name))
    if role is None:
        raise NotFound(f"{name} not found")
    return role


def role_proto(session: Session, role: models.Role) -> admin_pb.Role:
    holders = session.exec(
        select(func.count()).select_from(models.UserRole).where(models.UserRole.role_id == role.id)
    ).one()
    message = admin_pb.Role(
        name=role_name(role.id),
        title=role.title,
        description=role.description,
        permissions=role.permissions,
        user_count=int(holders),
        etag=role_etag(role),
    )
    message.update_time.FromDatetime(role.update_time)
    return message


def _reaches_supply_office(office: str) -> ColumnElement[bool]:
    """Users who may reach `office`: every office, or it among those listed."""
    return or_(
        col(models.User.coverage) == users.COVERAGE_ALL,
        and_(col(models.User.coverage) == users.COVERAGE_LISTED, scope.lists_office(office)),
    )


def _unknown_permissions(permissions: list[str]) -> list[str]:
    declared = declared_permissions()
    return [p for p in permissions if not p.endswith("*") and p not in declared]


class AdminMethods:
    core: AccountCore

    # --- users ----------------------------------------------------------------------

    def _changed_user(self, session: Session, user: models.User) -> None:
        """The user's principal changed: end their cached sessions' checks and drop the
        entries the edge cached for them, once this transaction commits."""
        user.update_time = self.core.now()
        session.add(user)
        revocations.revoke(session, revocations.USER, [users.name_of(user)], self.core.now())
        cache_tags.bump_users_after_commit(session, self.core.cache, [users.name_of(user)])

    def _end_sessions(self, session: Session, user: models.User) -> int:
        rows = sessions.active_rows(session, user.id, self.core.now())
        return len(sessions.end(session, rows, sessions.REVOKED, self.core.now()))

    def CreateStaffUser(
        self, request: admin_service_pb.CreateStaffUserRequest, context: grpc.ServicerContext
    ) -> account_pb.User:
        now = self.core.now()
        with self.core.runtime.session() as session:
            if request.request_id:
                existing = session.exec(
                    select(models.User).where(models.User.create_request_id == request.request_id)
                ).first()
                if existing is not None:
                    audit_note().resource = users.name_of(existing)
                    return users.to_proto(session, existing, now)
            params = self.core.params(session)
            missing = [r for r in request.roles if session.get(models.Role, _role_id(r)) is None]
        if missing:
            raise InvalidArgument(
                f"unknown role {missing[0]}",
                field_violations=[FieldViolation("roles", f"{r} does not exist") for r in missing],
            )
        check_password("temporaryPassword", request.temporary_password, request.user.username)
        phone = users.plain_phone(request.user.phone, "user.phone") if request.user.phone else None
        with self.core.runtime.session(write=True) as session:
            user = users.create(
                session,
                username=request.user.username,
                password=request.temporary_password,
                kind=users.STAFF,
                roles=[_role_id(r) for r in request.roles],
                hasher=self.core.hasher,
                now=now,
                display_name=request.user.display_name,
                phone=phone,
                coverage=request.supply_office_coverage or users.COVERAGE_NONE,
                supply_offices=request.supply_offices,
                password_change_required=True,
                password_expire_time=now + params.password_expiry
                if params.password_expiry
                else None,
                create_request_id=request.request_id or None,
            )
            audit_note().resource = users.name_of(user)
            audit_note().details = {"roles": ",".join(request.roles)}
            return users.to_proto(session, user, now)

    def ListUsers(
        self, request: admin_service_pb.ListUsersRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.ListUsersResponse:
        filters = (
            request.kind,
            request.state,
            request.role,
            request.supply_office,
            request.username_prefix,
        )
        after = paging.decode_token(request.page_token, filters, types=(str,))
        size = paging.page_size(request.page_size, 50)
        query = select(models.User)
        if request.kind:
            query = query.where(models.User.kind == request.kind)
        if request.state:
            query = query.where(models.User.state == request.state)
        if request.username_prefix:
            query = query.where(
                col(models.User.username_key).startswith(request.username_prefix.lower())
            )
        if request.role:
            query = query.join(
                models.UserRole, col(models.UserRole.user_id) == col(models.User.id)
            ).where(models.UserRole.role_id == _role_id(request.role))
        if request.supply_office:
            query = query.where(_reaches_supply_office(request.supply_office))
        visible = scope.users_visible_to(require_principal())
        if visible is not None:
            query = query.where(visible)
        if after is not None:
            query = query.where(col(models.User.username_key) > after[0])
        query = query.order_by(col(models.User.username_key)).limit(size + 1)
        now = self.core.now()
        with self.core.runtime.session() as session:
            rows = session.exec(query).all()
            return admin_service_pb.ListUsersResponse(
                users=[users.to_proto(session, user, now) for user in rows[:size]],
                next_page_token=paging.next_page_token(
                    rows, size, lambda user: [user.username_key], filters
                ),
            )

    def DisableUser(
        self, request: admin_service_pb.DisableUserRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.DisableUserResponse:
        if request.name == require_principal().user:
            raise FailedPrecondition("administrators cannot disable themselves")
        audit_note().details = {"reason": request.reason}
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            user.state = users.DISABLED
            user.state_reason = request.reason
            ended = self._end_sessions(session, user)
            self._changed_user(session, user)
            return admin_service_pb.DisableUserResponse(
                user=users.to_proto(session, user, self.core.now()), ended_session_count=ended
            )

    def EnableUser(
        self, request: admin_service_pb.EnableUserRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.EnableUserResponse:
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            user.state = users.ACTIVE
            user.state_reason = ""
            self._changed_user(session, user)
            return admin_service_pb.EnableUserResponse(
                user=users.to_proto(session, user, self.core.now())
            )

    def UnlockUser(
        self, request: admin_service_pb.UnlockUserRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.UnlockUserResponse:
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            throttle.clear(session, user.username)
            session.flush()
            return admin_service_pb.UnlockUserResponse(
                user=users.to_proto(session, user, self.core.now())
            )

    def ResetPassword(
        self, request: admin_service_pb.ResetPasswordRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.ResetPasswordResponse:
        now = self.core.now()
        with self.core.runtime.session() as session:
            username = users.get(session, users.id_from(request.name)).username
        check_password("temporaryPassword", request.temporary_password, username)
        encoded = self.core.hasher.hash(request.temporary_password)
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            user.password_hash = encoded
            user.password_changed_time = now
            user.password_change_required = True
            session.add(
                models.PasswordHistory(user_id=user.id, password_hash=encoded, create_time=now)
            )
            ended = self._end_sessions(session, user)
            self._changed_user(session, user)
            audit_note().details = {"endedSessions": str(ended)}
            return admin_service_pb.ResetPasswordResponse(
                user=users.to_proto(session, user, now), ended_session_count=ended
            )

    def ResetSecondFactor(
        self, request: admin_service_pb.ResetSecondFactorRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.ResetSecondFactorResponse:
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            removed = second_factor.remove(session, user.id)
            if removed:  # a role may require a factor: sessions are checked afresh
                self._changed_user(session, user)
        audit_note().details = {"removed": str(removed).lower()}
        return admin_service_pb.ResetSecondFactorResponse(removed=removed)

    def GrantRole(
        self, request: admin_service_pb.GrantRoleRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.GrantRoleResponse:
        audit_note().details = {"role": request.role}
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            role = _get_role(session, request.role)
            if session.get(models.UserRole, (user.id, role.id)) is None:
                session.add(models.UserRole(user_id=user.id, role_id=role.id))
                self._changed_user(session, user)
            session.flush()
            return admin_service_pb.GrantRoleResponse(
                user=users.to_proto(session, user, self.core.now())
            )

    def RevokeRole(
        self, request: admin_service_pb.RevokeRoleRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.RevokeRoleResponse:
        audit_note().details = {"role": request.role}
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            held = session.get(models.UserRole, (user.id, _role_id(request.role)))
            if held is not None:
                session.delete(held)
                self._changed_user(session, user)
            session.flush()
            return admin_service_pb.RevokeRoleResponse(
                user=users.to_proto(session, user, self.core.now())
            )

    def SetSupplyOffices(
        self, request: admin_service_pb.SetSupplyOfficesRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.SetSupplyOfficesResponse:
        audit_note().details = {
            "supplyOfficeCoverage": account_pb.SupplyOfficeCoverage.Name(
                request.supply_office_coverage
            ),
            "supplyOffices": ",".join(request.supply_offices),
        }
        with self.core.runtime.session(write=True) as session:
            user = users.get(session, users.id_from(request.name))
            user.coverage = request.supply_office_coverage
            user.supply_offices = list(request.supply_offices)
            self._changed_user(session, user)
            return admin_service_pb.SetSupplyOfficesResponse(
                user=users.to_proto(session, user, self.core.now())
            )

    def RevokeSession(
        self, request: admin_service_pb.RevokeSessionRequest, context: grpc.ServicerContext
    ) -> admin_service_pb.RevokeSessionResponse:
        audit_note().details = {"reason": request.reason}
        with self.core.runtime.session(write=True) as session:
            row = session.get(models.Session, request.name.removeprefix("sessions/"))
            if row is None:
                raise NotFound(f"{request.name} not found")
            if row.state == sessions.ACTIVE:
                sessions.end(session, [row], sessions.REVOKED, self.core.now())
            return admin_service_pb.RevokeSessionResponse(
                session=sessions.to_proto(row, f"users/{row.user_id}")
            )

    # --- roles ------------------------------------------------------------------------

    def ListRoles(
        self, request: system_pb.ListRolesRequest, context: grpc.ServicerContext
    ) -> system_pb.ListRolesResponse:
        after = paging.decode_token(request.page_token, types=(str,))
        # 0 means all of them: there are a few dozen roles at most.
        size = paging.page_size(request.page_size, paging.MAX_PAGE_SIZE)
        query = select(models.Role)
        if after is not None:
            query = query.where(col(models.Role.id) > after[0])
        with self.core.runtime.session() as session:
            rows = session.exec(query.order_by(col(models.Role.id)).limit(size + 1)).all()
            return system_pb.ListRolesResponse(
                roles=[role_proto(session, row) for row in rows[:size]],
                next_page_token=paging.next_page_token(rows, size, lambda row: [row.id]),
            )

    def GetRole(
        self, request: system_pb.GetRoleRequest, context: grpc.ServicerContext
    ) -> admin_pb.Role:
        with self.core.runtime.session() as session:
            return role_proto(session, _get_role(session, request.name))

    def UpdateRole(
        self, request: system_pb.UpdateRoleRequest, context: grpc.ServicerContext
    ) -> admin_pb.Role:
        change = request.role
        paths = set(request.update_mask.paths) or {
            p for p in ("title", "description", "permissions") if getattr(change, p)
        }
        unknown = _unknown_permissions(list(change.permissions)) if "permissions" in paths else []
        if unknown:
            raise InvalidArgument(
                f"unknown permission {unknown[0]}",
                field_violations=[
                    FieldViolation("role.permissions", f"{p} is declared by no method")
                    for p in unknown
                ],
            )
        now = self.core.now()
        with self.core.runtime.session(write=True) as session:
            role = _get_role(session, change.name)
            if change.etag and change.etag != role_etag(role):
                raise Aborted("the role changed since it was read", reason="FAILED_PRECONDITION")
            if "title" in paths:
                role.title = change.title
            if "description" in paths:
                role.description = change.description
            if "permissions" in paths:
                audit_note().details = {
                    "added": ",".join(sorted(set(change.permissions) - set(role.permissions))),
                    "removed": ",".join(sorted(set(role.permissions) - set(change.permissions))),
                }
                role.permissions = sorted(set(change.permissions))
            role.version += 1
            role.update_time = now
            session.add(role)
            revocations.revoke(session, revocations.ROLE, [role_name(role.id)], now)
            holders = session.exec(
                select(models.UserRole.user_id).where(models.UserRole.role_id == role.id)
            ).all()
            cache_tags.bump_users_after_commit(
                session, self.core.cache, [f"users/{holder}" for holder in holders]
            )
            session.flush()
            return role_proto(session, role)

    # --- system parameters --------------------------------------------------------------

    def GetSystemParameters(
        self, request: system_pb.GetSystemParametersRequest, context: grpc.ServicerContext
    ) -> admin_pb.SystemParameters:
        with self.core.runtime.session(write=True) as session:
            return parameters.resource(session, self.core.now())

    def UpdateSystemParameters(
        self, request: system_pb.UpdateSystemParametersRequest, context: grpc.ServicerContext
    ) -> admin_pb.SystemParameters:
        audit_note().resource = parameters.NAME
        audit_note().details = {"fields": ",".join(sorted(request.update_mask.paths))}
        with self.core.runtime.session(write=True) as session:
            return parameters.update(
                session,
                request.system_parameters,
                request.update_mask,
                updater=require_principal().user,
                now=self.core.now(),
            )

    # --- audit ------------------------------------------------------------------------

    def ListAuditRecords(
        self, request: system_pb.ListAuditRecordsRequest, context: grpc.ServicerContext
    ) -> system_pb.ListAuditRecordsResponse:
        filters = (
            request.actor,
            request.action,
            request.resource,
            str(request.start_time),
            str(request.end_time),
        )
        after = paging.decode_token(request.page_token, filters, types=(int,))
        size = paging.page_size(request.page_size, 100)
        record = models.AuditRecord
        query = select(record)
        if request.actor:
            query = query.where(col(record.actor) == request.actor)
        if request.action:
            action = col(record.action)
            query = query.where(
                action.startswith(request.action)
                if request.action.endswith("/")
                else action == request.action
            )
        if request.resource:
            resource = col(record.resource)
            query = query.where(
                or_(resource == request.resource, resource.startswith(request.resource + "/"))
            )
        if request.HasField("start_time"):
            query = query.where(
                col(record.event_time)
                >= request.start_time.ToDatetime(tzinfo=self.core.now().tzinfo)
            )
        if request.HasField("end_time"):
            query = query.where(
                col(record.event_time) < request.end_time.ToDatetime(tzinfo=self.core.now().tzinfo)
            )
        if after is not None:
            query = query.where(col(record.sequence) < after[0])
        with self.core.runtime.session() as session:
            rows = session.exec(query.order_by(col(record.sequence).desc()).limit(size + 1)).all()
        return system_pb.ListAuditRecordsResponse(
            audit_records=[audit.to_proto(row) for row in rows[:size]],
            next_page_token=paging.next_page_token(rows, size, lambda row: [row.sequence], filters),
        )

    def GetAuditRecord(
        self, request: system_pb.GetAuditRecordRequest, context: grpc.ServicerContext
    ) -> admin_pb.AuditRecord:
        with self.core.runtime.session() as session:
            row = session.get(models.AuditRecord, int(request.name.removeprefix("auditRecords/")))
        if row is None:
            raise NotFound(f"{request.name} not found")
        return audit.to_proto(row)

    def VerifyAuditChain(
        self, request: system_pb.VerifyAuditChainRequest, context: grpc.ServicerContext
    ) -> system_pb.VerifyAuditChainResponse:
        with self.core.runtime.session() as session:
            result = audit.verify(session, request.start_sequence, request.end_sequence)
        audit_note().details = {
            "valid": str(result.valid).lower(),
            "verifiedCount": str(result.verified_count),
        }
        return system_pb.VerifyAuditChainResponse(
            valid=result.valid,
            start_sequence=result.start_sequence,
            end_sequence=result.end_sequence,
            verified_count=result.verified_count,
            head_hash=result.head_hash,
            first_invalid_record=(
                f"auditRecords/{result.first_invalid_sequence}" if not result.valid else ""
            ),
            problem=result.problem,
        )

    def ListServiceAccounts(
        self, request: system_pb.ListServiceAccountsRequest, context: grpc.ServicerContext
    ) -> system_pb.ListServiceAccountsResponse:
        after = paging.decode_token(request.page_token, types=(str,))
        # The accounts come from the settings (a handful): paged in memory, 0 meaning all.
        size = paging.page_size(request.page_size, paging.MAX_PAGE_SIZE)
        accounts = [
            item
            for item in sorted(self.core.settings.service_accounts.items())
            if after is None or item[0] > after[0]
        ]
        page = accounts[:size]
        return system_pb.ListServiceAccountsResponse(
            service_accounts=[
                admin_pb.ServiceAccount(
                    name=f"serviceAccounts/{name}",
                    roles=[role_name(r) for r in account.roles],
                    permissions=account.permissions,
                    all_supply_offices=account.all_supply_offices,
                )
                for name, account in page
            ],
            next_page_token=paging.next_page_token(accounts, size, lambda item: [item[0]]),
        )
