"""A resource name or request id a caller chose is written to the audit log in a form
the log takes, whatever characters it holds: a value the log refused would keep the call
out of it (and hold up the service's audit outbox behind it)."""

from __future__ import annotations

import protovalidate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from servers.runtime.audit import loggable_request_id, loggable_resource


def accepted(resource: str = "", request_id: str = "") -> bool:
    record = admin_pb.AuditRecord(
        action="/palmgrid.billing.v1.BillingService/GetCustomer",
        resource=resource,
        request_id=request_id,
    )
    return not any(
        v.proto.field.elements[0].field_name in ("resource", "request_id")
        for v in protovalidate.collect_violations(record)
    )


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("customers/3100000001", "customers/3100000001"),
        ("outages/45~x", "outages/45~x"),
        ("customers/ä", "customers/~c3~a4"),
        ("customers/a b", "customers/a~20b"),
        ("customers/~7e x", "customers/~7e7e~20x"),
        ("", ""),
    ],
)
def test_names_the_log_takes_stay_and_others_are_escaped(name: str, written: str) -> None:
    assert loggable_resource(name) == written


def test_a_long_name_is_cut_to_the_logs_length() -> None:
    assert loggable_resource("customers/" + "é" * 600) == ("customers/" + "~c3~a9" * 100)[:512]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(max_size=700))
def test_every_name_becomes_one_the_log_accepts(name: str) -> None:
    assert accepted(resource=loggable_resource(name))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=64))
def test_every_request_id_becomes_one_the_log_accepts(request_id: str) -> None:
    written = loggable_request_id(request_id)
    assert accepted(request_id=written)
    assert len(written) == len(request_id) or len(written) == 64


def test_a_request_id_the_log_takes_stays() -> None:
    assert loggable_request_id("3f0c-1a.b_c") == "3f0c-1a.b_c"
    assert loggable_request_id("a b/c") == "a_b_c"
