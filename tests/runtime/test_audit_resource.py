"""A resource name a caller chose is written to the audit log in a form the log takes,
whatever characters it holds: a name the log refused would keep the call out of it."""

from __future__ import annotations

import protovalidate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from servers.runtime.audit import loggable_resource


def accepted(resource: str) -> bool:
    record = admin_pb.AuditRecord(
        action="/palmgrid.billing.v1.BillingService/GetCustomer", resource=resource
    )
    return not any(
        v.proto.field.elements[0].field_name == "resource"
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


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=700))
def test_every_name_becomes_one_the_log_accepts(name: str) -> None:
    assert accepted(loggable_resource(name))
