"""Tables of the probe service, in their own registry so they stay out of
SQLModel's global metadata (other services' tests define theirs)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ProbeModel(SQLModel, registry=registry()):
    """Base of the probe service's tables."""


class ProbeCustomer(ProbeModel, table=True):
    __tablename__ = "probe_customer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=32)


class ProbeMeter(ProbeModel, table=True):
    __tablename__ = "probe_meter"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="probe_customer.id")
    code: str = Field(max_length=32)
    # Added by the second migration.
    reading_wh: int = Field(default=0)


metadata = ProbeModel.metadata
