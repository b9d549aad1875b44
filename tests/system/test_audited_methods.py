"""Every audited method of every built service leaves its audit record.

Generated from the descriptors: each method whose `(palmgrid.options.v1.method)` says
`audited: true`, of each service whose servicer overrides it (not grpc's generated
base), is called over mTLS against the real servers (one of each per module, the
worker's jobs API too). Its record — found in the account service's audit log by the
call's request id — must name the method, the caller, the resource and the outcome the call
had. Where a valid request is cheap to build it is one (so many calls succeed); the
others get an empty request, whose refusal must be recorded just the same.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, field_mask_pb2, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.type import latlng_pb2

from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb
from palmgrid.account.v1 import account_service_pb2 as account_pb
from palmgrid.account.v1 import resources_pb2 as account_res
from palmgrid.billing.v1 import billing_admin_service_pb2 as billing_admin_pb
from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_internal_pb
from palmgrid.billing.v1 import billing_service_pb2 as billing_pb
from palmgrid.billing.v1 import payment_pb2
from palmgrid.care.v1 import care_service_pb2 as care_pb
from palmgrid.care.v1 import resources_pb2 as care_res
from palmgrid.expansion.v1 import expansion_service_pb2 as expansion_pb
from palmgrid.expansion.v1 import resources_pb2 as expansion_res
from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2 as ingest_res
from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2 as inspection_res
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import resources_pb2 as notification_res
from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import resources_pb2 as outage_res
from palmgrid.worker.v1 import worker_service_pb2 as worker_pb
from servers.account.service import make_spec as account_spec
from servers.billing.models import Customer
from servers.runtime import SYSTEM_CLOCK, SettableClock
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import METADATA_KEY, ensure_key_pair
from servers.runtime.methods import method_rules
from servers.worker.schedule import parse_schedule
from servers.worker.store import JobStore
from tests.account import services
from tests.account.conftest import (
    CAPTCHA,
    DEV_PASSWORD,
    FAST_ARGON2,
    GOOD_PASSWORD,
    Account,
    base_settings,
    channel_as,
)
from tests.expansion.support import application
from tests.outage.support import planned

BUILT_SERVICES = (
    "account",
    "billing",
    "care",
    "expansion",
    "ingest",
    "inspection",
    "notification",
    "outage",
    "worker",
)
# A job the worker's database knows, for RunJob.
WORKER_JOB = "audited.probe"
# Assertions live 60 s; the administrator's is renewed well before.
ASSERTION_REFRESH_SECONDS = 20.0
Metadata = tuple[tuple[str, str | bytes], ...]


# --- which methods --------------------------------------------------------------------


def _services_of(name: str) -> list[ServiceDescriptor]:
    folder = Path(__file__).resolve().parents[2] / "generated" / "palmgrid" / name / "v1"
    found = []
    for path in sorted(folder.glob("*_service_pb2.py")):
        module = importlib.import_module(f"palmgrid.{name}.v1.{path.stem}")
        found += list(module.DESCRIPTOR.services_by_name.values())
    return found


def _servicer_class(name: str, service: ServiceDescriptor) -> tuple[type, type]:
    """The service's generated base servicer and the class the service registers."""
    grpc_module = service.file.name.removesuffix(".proto").replace("/", ".") + "_pb2_grpc"
    base: type = getattr(importlib.import_module(grpc_module), f"{service.name}Servicer")
    module = importlib.import_module(f"servers.{name}.service")
    [built] = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    ]
    return base, built


def audited_methods() -> list[MethodDescriptor]:
    """Every audited method that a built service implements."""
    methods = []
    for name in BUILT_SERVICES:
        for service in _services_of(name):
            base, built = _servicer_class(name, service)
            for method in service.methods:
                overridden = getattr(built, method.name) is not getattr(base, method.name)
                if method_rules(method).audited and overridden:
                    methods.append(method)
    return methods


AUDITED = audited_methods()


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


# --- the running system ---------------------------------------------------------------


@dataclass
class System:
    account: Account
    ports: dict[str, int]
    channels: dict[str, grpc.Channel] = field(default_factory=dict)
    counter: int = 0
    admin_user: str = ""
    _admin: tuple[float, dict[str, Metadata]] | None = None
    _token: str = ""

    def channel(self, service: str) -> grpc.Channel:
        if service not in self.channels:
            self.channels[service] = channel_as(self.account.settings, self.ports[service], "cli")
        return self.channels[service]

    def unique(self, prefix: str) -> str:
        """A fresh lowercase username-like word."""
        self.counter += 1
        return f"{prefix}{''.join(chr(97 + int(d)) for d in str(self.counter))}"

    def admin(self, service: str = "account") -> Metadata:
        """The administrator's identity for `service` (one session; assertions renewed
        before they expire)."""
        if self._admin is None:
            token = self.account.login("admin", DEV_PASSWORD).token
            self.admin_user = self.account.authenticate(token).principal.user
            self._admin = (0.0, {})
            self._token = token
        signed = self._admin[0]
        if time.monotonic() - signed > ASSERTION_REFRESH_SECONDS:
            answer = self.account.authenticate(self._token)
            self._admin = (
                time.monotonic(),
                {
                    name: ((METADATA_KEY, assertion.SerializeToString()),)
                    for name, assertion in answer.service_assertions.items()
                },
            )
        return self._admin[1][service]

    def customer(self) -> tuple[str, Metadata, str]:
        """A newly registered customer: user name, identity metadata, session name."""
        username = self.unique("auditee")
        user = self.account.register(username)
        session = self.account.login(username)
        return user.name, self.account.metadata(session.token), session.session.name


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data_dir = tmp_path_factory.mktemp("audited")
    ensure_dev_pki(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    urls = {f"{n}_database_url": services.database_url(data_dir, n) for n in BUILT_SERVICES}
    settings = base_settings(data_dir, urls.pop("account_database_url"), **urls)
    account = services.start(
        "account", settings, account_spec(clock=SettableClock(), config=FAST_ARGON2)
    )
    settings = settings.model_copy(update={"account_target": account.target})
    billing = services.start("billing", settings)
    settings = settings.model_copy(update={"billing_target": billing.target})
    care = services.start("care", settings)
    notification = services.start("notification", settings)
    outage = services.start("outage", settings)
    # Inspection tells the assigned inspectors through the outbox, and inspects a
    # customer of the archive.
    _archive_one_customer(billing)
    settings = settings.model_copy(update={"notification_target": notification.target})
    inspection = services.start("inspection", settings)
    expansion = services.start("expansion", settings)
    # Ingest hands pushed records to billing and keeps the quarantine and import jobs.
    ingest = services.start(
        "ingest", settings.model_copy(update={"inspection_target": inspection.target})
    )
    # The worker's jobs API on its own database, which knows one job (its loop is not
    # running: RunJob only makes the job due).
    worker = services.start("worker", settings)
    JobStore(worker.runtime.engine, SYSTEM_CLOCK, "test", timedelta(minutes=1)).sync(
        {WORKER_JOB: parse_schedule("daily 03:00")}
    )
    running = [account, billing, care, notification, outage, inspection, expansion, ingest, worker]
    client = Account(account.server, account.port, account.runtime, settings, SettableClock())
    system = System(client, {r.name: r.port for r in running})
    yield system
    for channel in [*system.channels.values(), *client.channels.values()]:
        channel.close()
    for item in reversed(running):
        services.stop(item)


# --- what each call sends and expects ---------------------------------------------------


@dataclass
class Attempt:
    """A call to make: the request, who makes it (None: the administrator) and what its
    record should name. `resource` and `actor` may depend on the response."""

    request: Message
    metadata: Metadata | None = None
    resource: str | Callable[[Any], str] = ""
    actor: str | Callable[[Any], str] | None = None


def _new_user(system: System) -> str:
    username = system.unique("subject")
    return str(system.account.register(username).name)


def _create_user(system: System) -> Attempt:
    request = account_pb.CreateUserRequest(
        user=account_res.User(username=system.unique("newcomer")),
        password=GOOD_PASSWORD,
        captcha=system.account.captcha(),
        captcha_answer=CAPTCHA,
    )
    by_name = lambda user: user.name  # noqa: E731 - the new user is actor and resource
    return Attempt(request, (), resource=by_name, actor=by_name)


def _create_session(system: System) -> Attempt:
    username = system.unique("loginuser")
    system.account.register(username)
    request = account_pb.CreateSessionRequest(
        username=username,
        password=GOOD_PASSWORD,
        captcha=system.account.captcha(),
        captcha_answer=CAPTCHA,
    )
    return Attempt(
        request,
        (),
        resource=lambda answer: answer.session.name,
        actor=lambda answer: answer.session.user,
    )


def _delete_session(system: System) -> Attempt:
    user, metadata, session = system.customer()
    request = account_pb.DeleteSessionRequest(name="sessions/current")
    return Attempt(request, metadata, resource=session, actor=user)


def _update_user(system: System) -> Attempt:
    user, metadata, _ = system.customer()
    request = account_pb.UpdateUserRequest(
        user=account_res.User(name="users/me", display_name="Audited"),
        update_mask={"paths": ["display_name"]},
    )
    return Attempt(request, metadata, resource=user, actor=user)


def _change_password(system: System) -> Attempt:
    user, metadata, _ = system.customer()
    request = account_pb.ChangePasswordRequest(
        name="users/me", password="Wrong-pass-1!", new_password="Other-tide-99!"
    )
    return Attempt(request, metadata, resource=user, actor=user)


def _on_new_user(make: Callable[[str], Message]) -> Callable[[System], Attempt]:
    def attempt(system: System) -> Attempt:
        user = _new_user(system)
        return Attempt(make(user), resource=user)

    return attempt


def _get_audit_record(system: System) -> Attempt:
    request = system_pb.GetAuditRecordRequest(name="auditRecords/1")
    return Attempt(request, resource="auditRecords/1")


def _outlet(system: System) -> care_res.Outlet:
    return care_res.Outlet(
        display_name=system.unique("outlet"),
        address="兴义市审计路1号",
        location=latlng_pb2.LatLng(latitude=25.09, longitude=104.89),
        services=[care_res.OUTLET_SERVICE_BILL_PAYMENT],
    )


def _care(system: System, method: str, request: Message) -> Any:
    call = system.channel("care").unary_unary(
        f"/palmgrid.care.v1.CareService/{method}",
        request_serializer=type(request).SerializeToString,
        response_deserializer=(
            care_res.Outlet if "Outlet" in method else care_res.Article
        ).FromString,
    )
    return call(request, metadata=system.admin("care"))


def _create_outlet(system: System) -> Attempt:
    # A name the caller chose: the server assigns its own, and the record must name that.
    outlet = _outlet(system)
    outlet.name = "outlets/chosen-by-caller"
    request = care_pb.CreateOutletRequest(outlet=outlet)
    return Attempt(request, resource=lambda outlet: outlet.name)


def _made_outlet(system: System) -> care_res.Outlet:
    made: care_res.Outlet = _care(
        system, "CreateOutlet", care_pb.CreateOutletRequest(outlet=_outlet(system))
    )
    return made


def _update_outlet(system: System) -> Attempt:
    made = _made_outlet(system)
    change = care_res.Outlet(name=made.name, display_name=system.unique("renamed"))
    return Attempt(care_pb.UpdateOutletRequest(outlet=change), resource=made.name)


def _delete_outlet(system: System) -> Attempt:
    made = _made_outlet(system)
    return Attempt(care_pb.DeleteOutletRequest(name=made.name), resource=made.name)


def _article() -> care_res.Article:
    return care_res.Article(
        title="停电通知", body="审计测试的正文", kind=care_res.ARTICLE_KIND_NOTICE
    )


def _made_article(system: System, *, published: bool = False) -> care_res.Article:
    made: care_res.Article = _care(
        system, "CreateArticle", care_pb.CreateArticleRequest(article=_article())
    )
    if published:
        made = _care(system, "PublishArticle", care_pb.PublishArticleRequest(name=made.name))
    return made


def _create_article(system: System) -> Attempt:
    article = _article()
    article.name = "articles/chosen-by-caller"
    request = care_pb.CreateArticleRequest(article=article)
    return Attempt(request, resource=lambda article: article.name)


def _update_article(system: System) -> Attempt:
    made = _made_article(system)
    change = care_res.Article(name=made.name, title="停电通知（修订）")
    return Attempt(care_pb.UpdateArticleRequest(article=change), resource=made.name)


def _publish_article(system: System) -> Attempt:
    made = _made_article(system)
    request = care_pb.PublishArticleRequest(name=made.name)
    return Attempt(request, resource=made.name)


def _withdraw_article(system: System) -> Attempt:
    made = _made_article(system, published=True)
    request = care_pb.WithdrawArticleRequest(name=made.name, reason="superseded")
    return Attempt(request, resource=made.name)


def _cancel_message(system: System) -> Attempt:
    """A message to the administrator, created by a service (as only services may),
    then cancelled by the administrator."""
    system.admin()
    sender = channel_as(system.account.settings, system.ports["notification"], "billing")
    with sender:
        made = sender.unary_unary(
            "/palmgrid.notification.v1.NotificationService/CreateMessage",
            request_serializer=notification_pb.CreateMessageRequest.SerializeToString,
            response_deserializer=notification_res.Message.FromString,
        )(
            notification_pb.CreateMessageRequest(
                message=notification_res.Message(
                    topic=account_res.TOPIC_NOTICE,
                    template="notice.published",
                    parameters={"headline": "审计测试"},
                    channels=[account_res.DELIVERY_CHANNEL_IN_APP],
                    users=[system.admin_user],
                ),
                request_id=str(uuid.uuid4()),
            ),
            timeout=10,
        )
    request = notification_pb.CancelMessageRequest(name=made.name, reason="superseded")
    return Attempt(request, resource=made.name)


def _outage() -> outage_res.Outage:
    return planned(SYSTEM_CLOCK, reason="审计测试的检修")


def _made_outage(system: System) -> outage_res.Outage:
    call = system.channel("outage").unary_unary(
        "/palmgrid.outage.v1.OutageService/CreateOutage",
        request_serializer=outage_pb.CreateOutageRequest.SerializeToString,
        response_deserializer=outage_res.Outage.FromString,
    )
    request = outage_pb.CreateOutageRequest(outage=_outage(), request_id=str(uuid.uuid4()))
    made: outage_res.Outage = call(request, metadata=system.admin("outage"))
    return made


def _create_outage(system: System) -> Attempt:
    request = outage_pb.CreateOutageRequest(outage=_outage(), request_id=str(uuid.uuid4()))
    return Attempt(request, resource=lambda outage: outage.name)


def _update_outage(system: System) -> Attempt:
    made = _made_outage(system)
    change = outage_res.Outage(name=made.name, reason="审计测试的改期")
    mask = field_mask_pb2.FieldMask(paths=["reason"])
    return Attempt(
        outage_pb.UpdateOutageRequest(outage=change, update_mask=mask), resource=made.name
    )


def _cancel_outage(system: System) -> Attempt:
    made = _made_outage(system)
    request = outage_pb.CancelOutageRequest(name=made.name, reason="审计测试")
    return Attempt(request, resource=made.name)


def _archive_one_customer(billing: services.Running) -> None:
    with billing.runtime.session(write=True) as session:
        session.add(
            Customer(
                id=CUSTOMER.removeprefix("customers/"),
                holder_name="张三明",
                address="曲靖市麒麟区南宁西路1号",
                supply_office="QJ-QL",
                area_code="A01",
                tariff="residential-tiered",
                billing_mode="POSTPAID",
                source_update_time=SYSTEM_CLOCK.now(),
            )
        )


def _inspectors(system: System) -> list[str]:
    """The demo inspectors' user names."""
    return [
        system.account.authenticate(system.account.login(name, DEV_PASSWORD).token).principal.user
        for name in ("inspector", "patroller")
    ]


def _inspection(system: System) -> inspection_res.Inspection:
    task = inspection_res.Inspection(
        customer=CUSTOMER,
        kind=inspection_res.INSPECTION_KIND_PERIODIC,
        assignees=_inspectors(system),
    )
    task.due_time.FromDatetime(SYSTEM_CLOCK.now() + timedelta(days=3))
    return task


def _made_inspection(system: System) -> inspection_res.Inspection:
    call = system.channel("inspection").unary_unary(
        INSPECTION + "CreateInspection",
        request_serializer=inspection_pb.CreateInspectionRequest.SerializeToString,
        response_deserializer=inspection_res.Inspection.FromString,
    )
    request = inspection_pb.CreateInspectionRequest(inspection=_inspection(system))
    made: inspection_res.Inspection = call(request, metadata=system.admin("inspection"))
    return made


def _create_inspection(system: System) -> Attempt:
    request = inspection_pb.CreateInspectionRequest(
        inspection=_inspection(system), request_id=str(uuid.uuid4())
    )
    return Attempt(request, resource=lambda task: task.name)


def _assign_inspection(system: System) -> Attempt:
    made = _made_inspection(system)
    request = inspection_pb.AssignInspectionRequest(
        name=made.name, assignees=list(reversed(made.assignees)), note="审计测试"
    )
    return Attempt(request, resource=made.name)


def _cancel_inspection(system: System) -> Attempt:
    made = _made_inspection(system)
    request = inspection_pb.CancelInspectionRequest(name=made.name, reason="审计测试")
    return Attempt(request, resource=made.name)


def _create_application(system: System) -> Attempt:
    made = application(expansion_res.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL)
    made.name = "applications/chosen-by-caller"
    request = expansion_pb.CreateApplicationRequest(application=made, request_id=str(uuid.uuid4()))
    return Attempt(request, resource=lambda application: application.name)


def _named(message: type[Message], name: str) -> Callable[[System], Attempt]:
    """A request naming a resource that does not exist: the failure is recorded."""
    return lambda system: Attempt(message(name=name), resource=name)  # type: ignore[call-arg]


def _parented(message: type[Message], parent: str) -> Callable[[System], Attempt]:
    return lambda system: Attempt(message(parent=parent), resource=parent)  # type: ignore[call-arg]


def _create_import_job(system: System) -> Attempt:
    request = ingest_pb.CreateImportJobRequest(
        import_job=ingest_res.ImportJob(source=ingest_res.IMPORT_SOURCE_PAYMENTS),
        request_id=str(uuid.uuid4()),
    )
    return Attempt(request, resource=lambda job: job.name)


def _push_payments(system: System) -> Attempt:
    """A counter payment of a customer billing does not know: answered, and quarantined."""
    paid = payment_pb2.Payment(
        name="customers/3199999999/payments/audit-1",
        amount_fen=100,
        channel=payment_pb2.PAYMENT_CHANNEL_COUNTER,
    )
    paid.complete_time.GetCurrentTime()
    paid.complete_time.seconds -= 60
    return Attempt(ingest_pb.PushPaymentsRequest(payments=[paid], request_id=str(uuid.uuid4())))


A = "/palmgrid.account.v1.AccountService/"
ADMIN = "/palmgrid.account.v1.AccountAdminService/"
BILLING = "/palmgrid.billing.v1.BillingService/"
BILLING_ADMIN = "/palmgrid.billing.v1.BillingAdminService/"
BILLING_INTERNAL = "/palmgrid.billing.v1.BillingInternalService/"
CARE = "/palmgrid.care.v1.CareService/"
EXPANSION = "/palmgrid.expansion.v1.ExpansionService/"
NOTIFICATION = "/palmgrid.notification.v1.NotificationService/"
OUTAGE = "/palmgrid.outage.v1.OutageService/"
INSPECTION = "/palmgrid.inspection.v1.InspectionService/"
INGEST = "/palmgrid.ingest.v1.IngestService/"
WORKER = "/palmgrid.worker.v1.WorkerService/"
CUSTOMER = "customers/3100000001"
AGENT = "roles/agent"

# The recipes whose request is valid: these calls must succeed.
SUCCEED = {
    A + "CreateUser",
    A + "CreateSession",
    A + "DeleteSession",
    A + "UpdateUser",
    ADMIN + "GrantRole",
    ADMIN + "DisableUser",
    ADMIN + "EnableUser",
    ADMIN + "UnlockUser",
    ADMIN + "ListAuditRecords",
    ADMIN + "VerifyAuditChain",
    ADMIN + "GetAuditRecord",
    BILLING_ADMIN + "ListCustomers",
    CARE + "CreateOutlet",
    CARE + "UpdateOutlet",
    CARE + "DeleteOutlet",
    CARE + "CreateArticle",
    CARE + "UpdateArticle",
    CARE + "PublishArticle",
    CARE + "WithdrawArticle",
    EXPANSION + "CreateApplication",
    NOTIFICATION + "CancelMessage",
    OUTAGE + "CreateOutage",
    OUTAGE + "UpdateOutage",
    OUTAGE + "CancelOutage",
    INSPECTION + "CreateInspection",
    INSPECTION + "AssignInspection",
    INSPECTION + "CancelInspection",
    INGEST + "CreateImportJob",
    INGEST + "PushPayments",
    WORKER + "RunJob",
}

RECIPES: dict[str, Callable[[System], Attempt]] = {
    A + "CreateUser": _create_user,
    A + "CreateSession": _create_session,
    A + "DeleteSession": _delete_session,
    A + "UpdateUser": _update_user,
    A + "ChangePassword": _change_password,
    ADMIN + "GrantRole": _on_new_user(
        lambda u: admin_pb.GrantRoleRequest(name=u, role="roles/agent")
    ),
    ADMIN + "DisableUser": _on_new_user(
        lambda u: admin_pb.DisableUserRequest(name=u, reason="left")
    ),
    ADMIN + "EnableUser": _on_new_user(lambda u: admin_pb.EnableUserRequest(name=u)),
    ADMIN + "UnlockUser": _on_new_user(lambda u: admin_pb.UnlockUserRequest(name=u)),
    ADMIN + "ListAuditRecords": lambda s: Attempt(system_pb.ListAuditRecordsRequest(page_size=1)),
    ADMIN + "VerifyAuditChain": lambda s: Attempt(system_pb.VerifyAuditChainRequest()),
    ADMIN + "GetAuditRecord": _get_audit_record,
    BILLING + "CreatePayment": _parented(billing_pb.CreatePaymentRequest, CUSTOMER),
    BILLING_ADMIN + "CreateAdjustment": _parented(
        billing_admin_pb.CreateAdjustmentRequest, CUSTOMER
    ),
    BILLING_ADMIN + "CreateRefund": _parented(billing_admin_pb.CreateRefundRequest, CUSTOMER),
    BILLING_ADMIN + "ListCustomers": lambda s: Attempt(
        billing_admin_pb.ListCustomersRequest(supply_office="QJ-QL"),
        resource="QJ-QL",
    ),
    BILLING_ADMIN + "PublishTariffVersion": _named(
        billing_admin_pb.PublishTariffVersionRequest, "tariffs/nosuch/versions/v1"
    ),
    BILLING_ADMIN + "DeleteTariffVersion": _named(
        billing_admin_pb.DeleteTariffVersionRequest, "tariffs/nosuch/versions/v1"
    ),
    BILLING_INTERNAL + "RecomputeCustomerBilling": _named(
        billing_internal_pb.RecomputeCustomerBillingRequest, CUSTOMER
    ),
    CARE + "CreateOutlet": _create_outlet,
    CARE + "UpdateOutlet": _update_outlet,
    CARE + "DeleteOutlet": _delete_outlet,
    CARE + "CreateArticle": _create_article,
    CARE + "UpdateArticle": _update_article,
    CARE + "PublishArticle": _publish_article,
    CARE + "WithdrawArticle": _withdraw_article,
    CARE + "AssignFeedback": _named(care_pb.AssignFeedbackRequest, "feedback/f404"),
    CARE + "ReplyFeedback": _named(care_pb.ReplyFeedbackRequest, "feedback/f404"),
    CARE + "ResolveFeedback": _named(care_pb.ResolveFeedbackRequest, "feedback/f404"),
    CARE + "CloseFeedback": _named(care_pb.CloseFeedbackRequest, "feedback/f404"),
    EXPANSION + "CreateApplication": _create_application,
    EXPANSION + "AdvanceApplication": _named(
        expansion_pb.AdvanceApplicationRequest, "applications/a404"
    ),
    EXPANSION + "RejectApplication": _named(
        expansion_pb.RejectApplicationRequest, "applications/a404"
    ),
    EXPANSION + "SendBackApplication": _named(
        expansion_pb.SendBackApplicationRequest, "applications/a404"
    ),
    EXPANSION + "ResumeApplication": _named(
        expansion_pb.ResumeApplicationRequest, "applications/a404"
    ),
    EXPANSION + "AssignApplication": _named(
        expansion_pb.AssignApplicationRequest, "applications/a404"
    ),
    EXPANSION + "CreateAttachment": _parented(
        expansion_pb.CreateAttachmentRequest, "applications/a404"
    ),
    EXPANSION + "DeleteAttachment": _named(
        expansion_pb.DeleteAttachmentRequest, "applications/a404/attachments/x404"
    ),
    NOTIFICATION + "CancelMessage": _cancel_message,
    OUTAGE + "CreateOutage": _create_outage,
    OUTAGE + "UpdateOutage": _update_outage,
    OUTAGE + "CancelOutage": _cancel_outage,
    OUTAGE + "RestoreOutage": _named(outage_pb.RestoreOutageRequest, "outages/o404"),
    INSPECTION + "CreateInspection": _create_inspection,
    INSPECTION + "AssignInspection": _assign_inspection,
    INSPECTION + "CancelInspection": _cancel_inspection,
    INSPECTION + "CompleteInspection": _named(
        inspection_pb.CompleteInspectionRequest, "inspections/i404"
    ),
    INSPECTION + "CreateFinding": _parented(inspection_pb.CreateFindingRequest, "inspections/i404"),
    INSPECTION + "DismissAnomaly": _named(inspection_pb.DismissAnomalyRequest, "anomalies/a404"),
    INGEST + "CreateImportJob": _create_import_job,
    INGEST + "PushPayments": _push_payments,
    INGEST + "CancelImportJob": _named(ingest_pb.CancelImportJobRequest, "importJobs/j404"),
    INGEST + "ReprocessQuarantinedRecord": _named(
        ingest_pb.ReprocessQuarantinedRecordRequest, "quarantinedRecords/q404"
    ),
    WORKER + "RunJob": lambda s: Attempt(
        worker_pb.RunJobRequest(name=f"jobs/{WORKER_JOB}"), resource=f"jobs/{WORKER_JOB}"
    ),
    INGEST + "DiscardQuarantinedRecord": lambda s: Attempt(
        ingest_pb.DiscardQuarantinedRecordRequest(name="quarantinedRecords/q404", reason="dup"),
        resource="quarantinedRecords/q404",
    ),
}


def _message_class(descriptor: Any) -> Any:
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(descriptor.full_name)
    )


def _empty(method: MethodDescriptor) -> Callable[[System], Attempt]:
    return lambda system: Attempt(_message_class(method.input_type)())


@dataclass
class Outcome:
    response: Any
    code: grpc.StatusCode
    reason: str


def _call(system: System, method: MethodDescriptor, attempt: Attempt, request_id: str) -> Outcome:
    from servers.runtime import error_from_rpc

    service = method.containing_service.full_name.split(".")[1]
    metadata = attempt.metadata if attempt.metadata is not None else system.admin(service)
    invoke = system.channel(service).unary_unary(
        _path(method),
        request_serializer=type(attempt.request).SerializeToString,
        response_deserializer=_message_class(method.output_type).FromString,
    )
    try:
        response = invoke(
            attempt.request, metadata=(*metadata, ("x-request-id", request_id)), timeout=10
        )
    except grpc.RpcError as error:
        return Outcome(None, error.code(), error_from_rpc(error).reason)  # type: ignore[attr-defined]
    return Outcome(response, grpc.StatusCode.OK, "")


# A call whose log write timed out (a loaded host) leaves its record to the service's
# audit outbox, which forwards it within its 2 s interval: the record comes, later.
RECORD_WAIT_SECONDS = 15.0


def record_of(system: System, action: str, request_id: str) -> Any:
    """The audit record of the call with `request_id` (the test fails without one)."""
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    while True:
        found = system.account.admin_stub.ListAuditRecords(
            system_pb.ListAuditRecordsRequest(page_size=1000, action=action),
            metadata=system.admin(),
        ).audit_records
        matching = [r for r in found if r.request_id == request_id and r.action == action]
        if matching or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(matching) == 1, f"{len(matching)} records of {action} under {request_id}"
    return matching[0]


def _expected(value: str | Callable[[Any], str] | None, outcome: Outcome) -> str | None:
    return value(outcome.response) if callable(value) else value


# --- the tests --------------------------------------------------------------------------


def test_the_built_services_have_audited_methods() -> None:
    paths = {_path(m) for m in AUDITED}
    assert {A + "CreateSession", BILLING + "CreatePayment", CARE + "ResolveFeedback"} <= paths
    # Care declares eleven; all are built. Outage declares four.
    assert len([p for p in paths if p.startswith(CARE)]) == 11
    assert len([p for p in paths if p.startswith(OUTAGE)]) == 4
    # Inspection declares six, ingest five.
    assert len([p for p in paths if p.startswith(INSPECTION)]) == 6
    # Expansion's audited methods: filing, the five moves, the limits' update and the
    # two changes of attachments.
    assert len([p for p in paths if p.startswith(EXPANSION)]) == 9
    assert len([p for p in paths if p.startswith(INGEST)]) == 5
    assert len([p for p in paths if p.startswith(WORKER)]) == 1


@pytest.mark.parametrize("method", AUDITED, ids=_path)
def test_every_audited_method_leaves_its_record(system: System, method: MethodDescriptor) -> None:
    path = _path(method)
    attempt = RECIPES.get(path, _empty(method))(system)
    request_id = f"audited-{uuid.uuid4().hex}"
    outcome = _call(system, method, attempt, request_id)
    if path in SUCCEED:
        assert outcome.code == grpc.StatusCode.OK, outcome
    record = record_of(system, path, request_id)
    assert record.actor == (_expected(attempt.actor, outcome) or system.admin_user)
    assert record.resource == _expected(attempt.resource, outcome)
    assert (record.code, record.error_reason) == (outcome.code.value[0], outcome.reason)


def test_the_recipes_name_audited_methods_and_many_succeed() -> None:
    paths = {_path(m) for m in AUDITED}
    assert set(RECIPES) <= paths
    assert set(RECIPES) >= SUCCEED
    assert {p.split("/")[1].split(".")[1] for p in SUCCEED} == set(BUILT_SERVICES)


def test_a_service_adds_its_own_details_through_the_note(system: System) -> None:
    # The account service writes its log itself; care reaches it through the runtime's
    # client. Both add details through audit_note().
    user = _new_user(system)
    granted = "audited-grant-" + uuid.uuid4().hex
    system.account.admin_stub.GrantRole(
        admin_pb.GrantRoleRequest(name=user, role="roles/agent"),
        metadata=(*system.admin(), ("x-request-id", granted)),
    )
    assert dict(record_of(system, ADMIN + "GrantRole", granted).details) == {"role": "roles/agent"}
    made = _made_article(system, published=True)
    withdrawn = "audited-withdraw-" + uuid.uuid4().hex
    _call(
        system,
        descriptor_pool.Default().FindMethodByName("palmgrid.care.v1.CareService.WithdrawArticle"),
        Attempt(care_pb.WithdrawArticleRequest(name=made.name, reason="superseded")),
        withdrawn,
    )
    record = record_of(system, CARE + "WithdrawArticle", withdrawn)
    assert (record.resource, dict(record.details)) == (made.name, {"reason": "superseded"})
    assert record.recorder == "serviceAccounts/care"
