"""No page token a client makes up reaches a server's internals: generated from the
descriptors, every paged method (its request has `page_token`) of every built service
is called over real gRPC with forged and foreign tokens, and each answers
INVALID_ARGUMENT with a field violation on `pageToken` — never INTERNAL.

One real server per service (account under mTLS, billing and care in plaintext with
signed assertions), each with a little data so that most methods issue tokens of their
own. The callers are our own service identities, which every method lets through to the
pager: a first call without a token must succeed, or the test proves nothing.

Forged: random bytes, text that is not base64, base64 of text that is not JSON, JSON of
the wrong shape, and — from each method's own token, keeping its genuine fingerprint —
keys of the wrong types or length. Foreign: the tokens every other method issued, and a
method's own token with its filters changed.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor, message_factory, timestamp_pb2

from palmgrid.account.v1 import account_internal_service_pb2 as account_internal_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2 as ingest_res
from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2 as inspection_resources_pb2
from palmgrid.notification.v1 import (
    notification_service_pb2,
    notification_service_pb2_grpc,
)
from palmgrid.notification.v1 import resources_pb2 as notification_resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.care.risk_store import NewScore, record
from servers.notification.config import NotificationConfig
from servers.notification.service import make_spec as notification_spec
from servers.runtime import (
    SYSTEM_CLOCK,
    Runtime,
    Server,
    SettableClock,
    Settings,
    build_server,
    error_from_rpc,
)
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from servers.runtime.service_accounts import DEFAULT_SERVICE_ACCOUNTS, ServiceAccount
from servers.worker.config import WorkerConfig
from servers.worker.job import Job
from servers.worker.runner import Worker
from servers.worker.service import make_spec as worker_spec
from tests.account.conftest import (
    DEV_PASSWORD,
    FAST_ARGON2,
    START,
    Account,
    base_settings,
    channel_as,
)
from tests.audit_log import with_audit_log
from tests.billing.core_support import start_billing
from tests.care.support import CareServer, start_care
from tests.expansion.support import expansion_system
from tests.ingest.support import START as INGEST_START
from tests.ingest.support import IngestSystem, customer, ingest_system
from tests.inspection.support import InspectionSystem, finding, inspection_system
from tests.outage.support import outage_system

ROOT = Path(__file__).resolve().parents[2]
BUILT = (
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

# List methods that return everything at once, by design: the assertion keys; daily
# usage, a window of at most 400 days the caller chooses by date (the range is its page).
UNPAGED = {
    "/palmgrid.account.v1.AccountInternalService/ListAssertionKeys",
    "/palmgrid.billing.v1.BillingService/ListDailyUsage",
}

CUSTOMER = "customers/3100000001"

# What a method's request needs besides the page fields to pass validation and reach
# the pager; "{admin}" and "{dispatcher}" stand for those demo users' names,
# "{application}" and "{other_application}" for the two applications filed.
REQUIRED: dict[str, dict[str, Any]] = {
    "ListSessions": {"user": "{admin}"},
    "ListCustomerBindings": {"parent": "{admin}"},
    "ListMessages": {"parent": "{admin}"},
    "LookupRecipients": {
        "topic": account_pb.TOPIC_ACCOUNT,
        "users": ["{admin}", "{dispatcher}"],
    },
    "ListMonthlyUsage": {"parent": CUSTOMER},
    "ListBills": {"parent": CUSTOMER},
    "ListMeterReadings": {"parent": f"{CUSTOMER}/meters/-"},
    "ListPayments": {"parent": CUSTOMER},
    "ListLedgerEntries": {"parent": CUSTOMER},
    "ListTariffVersions": {"parent": "tariffs/residential-tiered"},
    "ListCustomersByArea": {"area_codes": ["A01"]},
    "ListActiveUsers": {"active_after": timestamp_pb2.Timestamp(seconds=1_000_000_000)},
    "ListDeliveries": {"parent": "messages/-"},
    "ListCustomerOutages": {"parent": CUSTOMER},
    "ListAreaOutages": {"area_codes": ["A01", "A02", "A03", "A05", "A07"]},
    "ListFindings": {"parent": "{task}"},
    "ListApplicationsDueWithin": {
        "window_end_time": timestamp_pb2.Timestamp(seconds=4_000_000_000)
    },
    "ListAttachments": {"parent": "{application}"},
    "ListJobRuns": {"parent": "jobs/-"},
}
# Where two services' methods share a name: by path (the outbox's ListMessages has no
# parent).
REQUIRED_BY_PATH: dict[str, dict[str, Any]] = {
    "/palmgrid.notification.v1.NotificationService/ListMessages": {},
}

# For each method that issues tokens: a change of its filters, which its token must
# not survive.
OTHER_FILTERS: dict[str, dict[str, Any]] = {
    "ListUsers": {"kind": identity_pb2.PRINCIPAL_KIND_STAFF},
    "ListAuditRecords": {"start_time": timestamp_pb2.Timestamp(seconds=1_000_000_000)},
    "ListSessions": {"state": account_pb.SESSION_STATE_ACTIVE},
    "ListMessages": {"topic": account_pb.TOPIC_BILL},
    "LookupRecipients": {"topic": account_pb.TOPIC_NOTICE},
    "ListMonthlyUsage": {"parent": "customers/3100000002"},
    "ListBills": {"parent": "customers/3100000002"},
    "ListMeterReadings": {"end_time": timestamp_pb2.Timestamp(seconds=4_000_000_000)},
    "ListPayments": {"parent": "customers/3100000002"},
    "ListLedgerEntries": {"start_time": timestamp_pb2.Timestamp(seconds=1_000_000_000)},
    "ListTariffs": {"customer_category": 1},
    "ListCustomers": {"area_code": "A02"},
    "ListCustomersByArea": {"area_codes": ["A02"]},
    "ListTariffVersions": {"parent": "tariffs/other"},
    "ListReconciliationReports": {"state": 1},
    "ListOutlets": {"service": 1},
    "ListArticles": {"kind": 1},
    "SearchArticles": {"query": "停电"},
    "ListFeedback": {"kind": 1},
    "ListComplaintRisks": {"min_score": 50},
    "ListCustomerBillingSignals": {"bill_count": 3},
    "ListActiveUsers": {"active_after": timestamp_pb2.Timestamp(seconds=1_500_000_000)},
    "ListDeliveries": {"channel": account_pb.DELIVERY_CHANNEL_SMS},
    "ListOutages": {"kind": 1},
    "ListCustomerOutages": {"parent": "customers/3100000002"},
    "ListAreaOutages": {"area_codes": ["A01"]},
    "ListInspections": {"kind": 1},
    "ListFindings": {"parent": "{other_task}"},
    "ListAnomalies": {"kind": 1},
    "ListApplications": {"kind": 2},
    "ListDueApplications": {"overdue_only": True},
    "ListApplicationsDueWithin": {
        "window_end_time": timestamp_pb2.Timestamp(seconds=3_000_000_000)
    },
    "ListAttachments": {"parent": "{other_application}"},
    "ListNodeTimeLimits": {"application_kind": 1},
    "ListQuarantinedRecords": {"kind": 2},
    "ListImportJobs": {"source": 2},
    "ListJobRuns": {"parent": "jobs/page.one"},
}
# Methods without filters: a token of theirs has nothing to be foreign to but others.
NO_FILTERS = {"ListRoles", "ListServiceAccounts", "ListJobs"}

# Methods that must issue a token from the seeded data, so the tampering and foreign
# cases cannot quietly run out of tokens.
MUST_ISSUE = {
    "ListDeliveries",
    "ListUsers",
    "ListRoles",
    "ListServiceAccounts",
    "ListSessions",
    "ListMessages",
    "LookupRecipients",
    "ListMonthlyUsage",
    "ListBills",
    "ListMeterReadings",
    "ListCustomers",
    "ListCustomersByArea",
    "ListOutlets",
    "ListArticles",
    "SearchArticles",
    "ListOutages",
    "ListAreaOutages",
    "ListComplaintRisks",
    "ListCustomerBillingSignals",
    "ListInspections",
    "ListFindings",
    "ListAnomalies",
    "ListApplications",
    "ListNodeTimeLimits",
    "ListQuarantinedRecords",
    "ListImportJobs",
    "ListJobs",
    "ListJobRuns",
}


@dataclass(frozen=True)
class Paged:
    """A paged method of a built service."""

    service: str  # "billing"
    method: descriptor.MethodDescriptor

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    def request(self, **fields: Any) -> Any:
        return message_factory.GetMessageClass(self.method.input_type)(**fields)

    def response_class(self) -> Any:
        return message_factory.GetMessageClass(self.method.output_type)


def _service_modules(service: str) -> Iterator[Any]:
    for path in sorted((ROOT / "generated" / "palmgrid" / service / "v1").glob("*_pb2.py")):
        yield importlib.import_module(f"palmgrid.{service}.v1.{path.stem}")


def list_methods() -> list[Paged]:
    """Every List method (and any other method with a page token) of the built services."""
    found = []
    for service in BUILT:
        for module in _service_modules(service):
            for grpc_service in module.DESCRIPTOR.services_by_name.values():
                for method in grpc_service.methods:
                    paged = "page_token" in method.input_type.fields_by_name
                    if paged or method.name.startswith("List"):
                        found.append(Paged(service, method))
    return found


PAGED = [m for m in list_methods() if m.path not in UNPAGED]


# -- the running services ---------------------------------------------------------------

Call = Callable[..., Any]


@dataclass
class Services:
    """The running services and a way to call any method as a trusted service."""

    callers: dict[str, Callable[[Paged], Call]]
    names: dict[str, str]

    def call(self, method: Paged, page_token: str = "", page_size: int = 0, **extra: Any) -> Any:
        fields = {
            key: _filled(value, self.names) for key, value in {**_required(method), **extra}.items()
        }
        request = method.request(page_token=page_token, page_size=page_size, **fields)
        return self.callers[method.service](method)(request)


def _required(method: Paged) -> dict[str, Any]:
    return REQUIRED_BY_PATH.get(method.path, REQUIRED.get(method.name, {}))


def _filled(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_filled(item, names) for item in value]
    return value


def _unary(channel: grpc.Channel, method: Paged, metadata: Callable[[], Any]) -> Call:
    stub = channel.unary_unary(
        method.path,
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=method.response_class().FromString,
    )
    return lambda request: stub(request, metadata=metadata(), timeout=10)


def _service_principal() -> identity_pb2.Principal:
    return identity_pb2.Principal(
        user="serviceAccounts/worker",
        username="worker",
        kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
        permissions=["*"],
        all_supply_offices=True,
    )


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    directory = tmp_path_factory.mktemp("page-tokens")
    ensure_dev_pki(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    with contextlib.ExitStack() as stack:
        # Account under mTLS; called with the `worker` certificate, granted every
        # permission here (its real row is much narrower).
        everything = ServiceAccount(roles=("service",), permissions=("*",), all_supply_offices=True)
        settings = base_settings(
            directory,
            f"sqlite:///{directory / 'account.db'}",
            service_accounts={**DEFAULT_SERVICE_ACCOUNTS, "worker": everything},
        )
        clock = SettableClock(START)
        server, port, runtime = build_server(
            account_spec(clock=clock, config=FAST_ARGON2), settings, address="127.0.0.1:0"
        )
        server.start()
        account = Account(server, port, runtime, settings, clock)
        stack.callback(account.close)
        worker = channel_as(settings, port, "worker")
        stack.callback(worker.close)

        # Billing with a small demo: customers with months of usage, bills and readings.
        billing_server, billing = start_billing(
            directory,
            f"sqlite:///{directory / 'billing.db'}",
            BillingConfig(demo_data=True, demo_customers=12),
        )
        stack.callback(billing_server.stop, 0)
        stack.callback(billing.runtime.close)
        stack.callback(billing.channel.close)

        # Care with its demo outlets and articles.
        care = start_care(directory, f"sqlite:///{directory / 'care.db'}", demo_data=True)
        stack.callback(care.close)
        _seed_complaint_risks(care)

        # Outage with its demo outages, beside billing and account of its own (mTLS).
        outage = stack.enter_context(
            outage_system(
                directory / "outage", f"sqlite:///{directory / 'outage.db'}", demo_data=True
            )
        )

        # Inspection with two tasks, two findings and two anomalies, beside billing,
        # account and notification of its own (mTLS).
        inspection = stack.enter_context(
            inspection_system(directory / "inspection", f"sqlite:///{directory / 'inspection.db'}")
        )

        # Ingest with two quarantined records and two import jobs, beside billing,
        # account, notification and inspection of its own (mTLS).
        ingest = stack.enter_context(
            ingest_system(directory / "ingest", f"sqlite:///{directory / 'ingest.db'}")
        )
        _seed_ingest(ingest)

        # Expansion with two applications, beside billing, account and notification of
        # its own (mTLS).
        expansion = stack.enter_context(
            expansion_system(directory / "expansion", f"sqlite:///{directory / 'expansion.db'}")
        )
        filed = [expansion.file().name for _ in range(2)]

        names = {
            **_seed_account(account),
            **_seed_inspections(inspection),
            "application": filed[0],
            "other_application": filed[1],
        }

        # The outbox, with two messages of two deliveries each (not sent).
        outbox_server, outbox_runtime, outbox = _start_notification(settings, account, directory)
        stack.callback(outbox_runtime.close)
        stack.callback(outbox_server.stop, 0)
        stack.callback(outbox.close)
        _seed_outbox(outbox, names)
        # The worker's jobs API, two jobs run twice each.
        jobs_server, jobs_runtime, jobs = _start_worker(settings, directory)
        stack.callback(jobs_runtime.close)
        stack.callback(jobs_server.stop, 0)
        stack.callback(jobs.close)
        running = Services(
            callers={
                "account": lambda m: _unary(worker, m, lambda: ()),
                "billing": lambda m: _unary(
                    billing.channel, m, lambda: billing.as_(_service_principal())
                ),
                "care": lambda m: _unary(care.channel, m, lambda: care.as_(_service_principal())),
                "notification": lambda m: _unary(outbox, m, lambda: ()),
                "outage": lambda m: _unary(
                    outage.channel, m, lambda: outage.as_(_service_principal())
                ),
                "inspection": lambda m: _unary(
                    inspection.channel, m, lambda: inspection.as_(_service_principal())
                ),
                "expansion": lambda m: _unary(
                    expansion.channel, m, lambda: expansion.as_(_service_principal())
                ),
                "ingest": lambda m: _unary(
                    ingest.channel, m, lambda: ingest.as_(_service_principal())
                ),
                "worker": lambda m: _unary(jobs, m, lambda: ()),
            },
            names=names,
        )
        yield running


def _seed_account(account: Account) -> dict[str, str]:
    """Two sessions and two messages for admin; the names of admin and dispatcher."""
    admin = account.authenticate(account.login("admin", DEV_PASSWORD).token).principal.user
    account.login("admin", DEV_PASSWORD)
    dispatcher = account.authenticate(
        account.login("dispatcher", DEV_PASSWORD).token
    ).principal.user
    for number in range(2):
        account.internal("notification").CreateMessage(
            account_internal_pb.CreateMessageRequest(
                parent=admin,
                message=account_pb.Message(
                    topic=account_pb.TOPIC_ACCOUNT, title=f"Notice {number}", body="Hello."
                ),
                request_id=f"00000000-0000-4000-8000-00000000000{number}",
            )
        )
    return {"admin": admin, "dispatcher": dispatcher}


def _seed_inspections(system: InspectionSystem) -> dict[str, str]:
    """Two tasks, two findings of the first and two anomalies; the tasks' names."""
    first, second = system.create(), system.create()
    for _ in range(2):
        system.stub.CreateFinding(
            inspection_pb.CreateFindingRequest(
                parent=first.name, finding=finding(system.clock.now())
            ),
            metadata=system.inspector(),
        )
    for number in range(2):
        anomaly = inspection_resources_pb2.Anomaly(
            customer="customers/3100000001",
            kind=inspection_resources_pb2.ANOMALY_KIND_ZERO_CONSUMPTION,
            source_event=f"mdm:page-{number}",
        )
        anomaly.detect_time.FromDatetime(system.clock.now())
        system.stub.RecordAnomaly(
            inspection_pb.RecordAnomalyRequest(anomaly=anomaly), metadata=system.ingest()
        )
    return {"task": first.name, "other_task": second.name}


def _seed_ingest(system: IngestSystem) -> None:
    """Two quarantined customer records and two import jobs (two sources)."""
    bad = [customer(f"310000009{n}", INGEST_START, area_code="bad") for n in range(2)]
    system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=bad, request_id=str(uuid.uuid4()))
    )
    for source in (ingest_res.IMPORT_SOURCE_CUSTOMERS, ingest_res.IMPORT_SOURCE_PAYMENTS):
        system.worker.CreateImportJob(
            ingest_pb.CreateImportJobRequest(
                import_job=ingest_res.ImportJob(source=source), request_id=str(uuid.uuid4())
            )
        )


def _seed_complaint_risks(care: CareServer) -> None:
    """Two scores, so ListComplaintRisks issues tokens."""
    with care.runtime.session(write=True) as session:
        for number, score in (("3100000001", 95), ("3100000002", 40)):
            subject = f"customers/{number}"
            record(
                session,
                NewScore(subject, subject, "QJ-QL", score, "LOW", [], "test", START),
                START,
            )


def _start_notification(
    settings: Settings, account: Account, directory: Path
) -> tuple[Server, Runtime, grpc.Channel]:
    """The notification service under mTLS, and a channel to it as the worker."""
    chosen = settings.model_copy(
        update={
            "account_target": f"127.0.0.1:{account.port}",
            "notification_database_url": f"sqlite:///{directory / 'notification.db'}",
        }
    )
    server, port, runtime = build_server(
        notification_spec(config=NotificationConfig()), chosen, address="127.0.0.1:0"
    )
    server.start()
    return server, runtime, channel_as(settings, port, "worker")


def _start_worker(settings: Settings, directory: Path) -> tuple[Server, Runtime, grpc.Channel]:
    """The worker's jobs API under mTLS on a job database where two jobs ran twice each,
    and a channel to it as the worker's certificate (granted every permission here)."""
    chosen = settings.model_copy(
        update={"worker_database_url": f"sqlite:///{directory / 'worker.db'}"}
    )
    config = WorkerConfig()
    server, port, runtime = build_server(
        with_audit_log(worker_spec(config=config)), chosen, address="127.0.0.1:0"
    )
    server.start()
    names = ("page.one", "page.two")
    jobs = {name: Job(name, "every 1h", lambda context: "done") for name in names}
    worker = Worker(runtime, config, jobs, SYSTEM_CLOCK)
    worker.store.sync(worker.schedules)
    for name in (*names, *names):
        worker.run_now(name)
    return server, runtime, channel_as(settings, port, "worker")


def _seed_outbox(channel: grpc.Channel, names: dict[str, str]) -> None:
    stub = notification_service_pb2_grpc.NotificationServiceStub(channel)
    for number in range(2):
        stub.CreateMessage(
            notification_service_pb2.CreateMessageRequest(
                message=notification_resources_pb2.Message(
                    topic=account_pb.TOPIC_NOTICE,
                    template="notice.published",
                    parameters={"headline": f"公告 {number}"},
                    channels=[account_pb.DELIVERY_CHANNEL_IN_APP],
                    users=[names["admin"], names["dispatcher"]],
                ),
                request_id=f"00000000-0000-4000-8000-00000000010{number}",
            ),
            timeout=10,
        )


@pytest.fixture(scope="module")
def issued(services: Services) -> dict[str, str]:
    """The token each paged method issues for a first page of one item (by path); the
    first call of every method must succeed."""
    tokens: dict[str, str] = {}
    for method in PAGED:
        try:
            page = services.call(method, page_size=1)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                continue  # not built yet
            raise AssertionError(f"{method.path} without a token: {error}") from error
        if page.next_page_token:
            tokens[method.path] = page.next_page_token
    return tokens


# -- the cases ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _json(data: Any) -> str:
    return _b64(json.dumps(data).encode())


GARBAGE: dict[str, str] = {
    "random bytes": _b64(bytes(range(256))[::7]),
    "random bytes, padded": base64.urlsafe_b64encode(b"\x00\x9f\xff\x10\x80").decode(),
    "not base64": "not a token!",
    "not ascii": "下一页",
    "base64 of text": _b64(b"page 2 please"),
    "base64 of a bad encoding": _b64(b'\xff\xfe{"a":1}'),
    "a JSON list": _json(["a", "f"]),
    "a JSON string": _json("next"),
    "a JSON number": _json(2),
    "JSON null": _json(None),
    "an empty object": _json({}),
    "an offset token": _json({"o": 20, "f": "0123456789ab"}),
    "no fingerprint": _json({"a": ["x"]}),
    "no key": _json({"f": "0123456789abcdef"}),
    "a key that is no list": _json({"a": "x", "f": "0123456789abcdef"}),
    "strings for a key": _json({"a": ["1", "2", "3"], "f": "0123456789abcdef"}),
    "numbers for a key": _json({"a": [1, 2, 3], "f": "0123456789abcdef"}),
    "nested JSON": _json({"a": [[[[["x"]]]]], "f": [{"f": 1}]}),
}


def _tampered(token: str) -> dict[str, str]:
    """`token` with its genuine fingerprint and keys of other types or length."""
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    after = data["a"]
    variants: dict[str, str] = {}

    def variant(label: str, key: Any) -> None:
        variants[label] = _json({"a": key, "f": data["f"]})

    variant("key too short", after[:-1])
    variant("key too long", [*after, after[-1]])
    variant("key not a list", after[0])
    for index, value in enumerate(after):
        # Always wrong: no key value is null, a list, an object or a fraction; no
        # integer needs 70 bits, no string holds NUL or a lone surrogate.
        others: list[Any] = [None, [], {"x": 1}, 1.5, 2**70, "a\x00b", "\ud800"]
        # Wrong unless the key is of that type.
        others += [v for v in (12345, True, "12345") if type(v) is not type(value)]
        for other in others:
            key = list(after)
            key[index] = other
            variant(f"key[{index}] = {other!r}", key)
    return variants


def _refusal(services: Services, method: Paged, token: str, **extra: Any) -> str | None:
    """None when `token` gets INVALID_ARGUMENT on pageToken; else what happened."""
    try:
        services.call(method, page_token=token, page_size=1, **extra)
    except grpc.RpcError as error:
        code = error.code()  # type: ignore[attr-defined]
        fields = [v.field for v in getattr(error_from_rpc(error), "field_violations", ())]
        if code == grpc.StatusCode.INVALID_ARGUMENT and fields == ["pageToken"]:
            return None
        return f"{code.name} {fields} {error.details()}"  # type: ignore[attr-defined]
    return "accepted"


def _built(method: Paged, services: Services) -> None:
    try:
        services.call(method)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
            pytest.skip(f"{method.path} is not built yet")


def test_every_list_method_takes_a_page_token() -> None:
    unpaged = [
        m.path
        for m in list_methods()
        if "page_token" not in m.method.input_type.fields_by_name and m.path not in UNPAGED
    ]
    assert unpaged == []
    assert {m.service for m in PAGED} == set(BUILT)


def test_the_seeded_data_makes_the_methods_issue_tokens(issued: dict[str, str]) -> None:
    issuing = {path.rpartition("/")[2] for path in issued}
    assert issuing >= MUST_ISSUE
    assert issuing <= set(OTHER_FILTERS) | NO_FILTERS


@pytest.mark.parametrize("method", PAGED, ids=lambda m: m.path.removeprefix("/palmgrid."))
def test_forged_tokens_are_invalid_arguments_on_page_token(
    method: Paged, services: Services, issued: dict[str, str]
) -> None:
    _built(method, services)
    cases = dict(GARBAGE)
    own = issued.get(method.path)
    if own is not None:
        cases.update(_tampered(own))
    answers = {label: _refusal(services, method, token) for label, token in cases.items()}
    assert {label: answer for label, answer in answers.items() if answer is not None} == {}


@pytest.mark.parametrize("method", PAGED, ids=lambda m: m.path.removeprefix("/palmgrid."))
def test_foreign_tokens_are_invalid_arguments_on_page_token(
    method: Paged, services: Services, issued: dict[str, str]
) -> None:
    _built(method, services)
    cases = {f"token of {path}": token for path, token in issued.items() if path != method.path}
    assert len(cases) >= len(MUST_ISSUE) - 1
    answers = {label: _refusal(services, method, token) for label, token in cases.items()}
    own = issued.get(method.path)
    if own is not None and method.name in OTHER_FILTERS:
        other = OTHER_FILTERS[method.name]
        answers["own token, other filters"] = _refusal(services, method, own, **other)
        # The same token is fine with the filters it was issued for.
        assert services.call(method, page_token=own, page_size=1) is not None
    assert {label: answer for label, answer in answers.items() if answer is not None} == {}
