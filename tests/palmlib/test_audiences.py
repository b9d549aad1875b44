"""The audience of an identity assertion: the service package a method belongs to."""

from __future__ import annotations

from palmlib.audiences import audience_of


def test_the_audience_is_the_package_segment_after_palmgrid() -> None:
    assert audience_of("palmgrid.billing.v1.BillingService") == "billing"
    assert audience_of("palmgrid.account.v1.AccountInternalService") == "account"


def test_services_outside_palmgrid_have_no_audience() -> None:
    assert audience_of("grpc.health.v1.Health") == ""
    assert audience_of("palmgridx.billing.v1.BillingService") == ""
