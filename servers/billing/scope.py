"""Data scope for one customer's data: a customer user reaches only bound customers
(`principal.customers`); staff only customers of their supply offices."""

from __future__ import annotations

from sqlmodel import Session, select

from palmgrid.type.v1 import identity_pb2
from servers.billing.archive import customer_name
from servers.billing.models import Customer
from servers.runtime import NotFound, current_principal, require_customer_scope


def authorize_customer(session: Session, customer_id: str) -> None:
    """Raise unless the caller may read customer `customer_id`: PERMISSION_DENIED
    (OUT_OF_SCOPE) outside the scope, NOT_FOUND for staff asking for an unknown customer.

    A customer user is decided from the assertion alone (no query, and no hint whether
    an unbound customer exists); staff need the customer's supply office.
    """
    principal = current_principal()
    name = customer_name(customer_id)
    if principal is not None and principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER:
        require_customer_scope(principal, name)
        return
    office = session.exec(select(Customer.supply_office).where(Customer.id == customer_id)).first()
    if office is None:
        if principal is None:
            require_customer_scope(principal, name)  # raises UNAUTHENTICATED
        raise NotFound(f"{name} not found")
    require_customer_scope(principal, name, office)


def scoped_customer(session: Session, customer_id: str) -> Customer:
    """The customer row after the scope check; NOT_FOUND when it does not exist."""
    authorize_customer(session, customer_id)
    row = session.get(Customer, customer_id)
    if row is None:
        raise NotFound(f"{customer_name(customer_id)} not found")
    return row
