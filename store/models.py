"""SQLAlchemy models: the organisation, people, cards, readers, and the punch facts.

Punches and dead letters are append-only facts; everything the rules derive lives in
other tables (added with the rules engine) and can be recomputed from these.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UtcDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agency(Base):
    """Agency (cơ quan): a Sở, Ban, Ngành or UBND; owns a schedule, a policy and a zone."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")


class Unit(Base):
    """Unit (đơn vị, phòng, ban): a node of an agency's tree, of any depth."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))


class Employee(Base):
    """A monitored person (cán bộ, công chức, viên chức, người lao động)."""

    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(255))
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)


class Credential(Base):
    """A card, badge, fingerprint or face id assigned to an employee for a validity period.

    A card handed to someone else gets a new row; old punches keep resolving to the
    person who held the card at the time.
    """

    __tablename__ = "credentials"
    __table_args__ = (
        Index("ix_credentials_lookup", "kind", "value", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Device(Base):
    """A reader at an entrance (máy chấm công): its identity, secret and clock."""

    __tablename__ = "devices"
    __table_args__ = (CheckConstraint("direction IN ('in', 'out', 'both')", name="direction"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    site: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    direction: Mapped[str] = mapped_column(String(8), default="both")
    secret_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    sent_up_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    backlog: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str | None] = mapped_column(String(16))
    state_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Punch(Base):
    """A punch (lượt chấm công) exactly as a reader reported it: a fact, never edited."""

    __tablename__ = "punches"
    __table_args__ = (
        UniqueConstraint("device_id", "event_id", name="uq_punches_device_event"),
        Index("ix_punches_credential_time", "credential_kind", "credential_value", "punched_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    credential_kind: Mapped[str] = mapped_column(String(16))
    credential_value: Mapped[str] = mapped_column(String(128))
    device_time: Mapped[datetime] = mapped_column(UtcDateTime)
    clock_offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    punched_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    direction: Mapped[str] = mapped_column(String(8))
    verify_mode: Mapped[str | None] = mapped_column(String(16))
    raw: Mapped[str] = mapped_column(Text)


class UnmatchedPunch(Base):
    """A punch whose credential no employee held at the time (thẻ chưa đăng ký).

    An operator task, not a violation: registering the card later matches it.
    """

    __tablename__ = "unmatched_punches"

    punch_id: Mapped[int] = mapped_column(ForeignKey("punches.id"), primary_key=True)
    credential_kind: Mapped[str] = mapped_column(String(16))
    credential_value: Mapped[str] = mapped_column(String(128))
    device_id: Mapped[str] = mapped_column(String(64))
    punched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    matched_employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    matched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index(
    "ix_unmatched_punches_open",
    UnmatchedPunch.credential_kind,
    UnmatchedPunch.credential_value,
    postgresql_where=UnmatchedPunch.matched_employee_id.is_(None),
    sqlite_where=UnmatchedPunch.matched_employee_id.is_(None),
)


class DeadLetter(Base):
    """A message that could not be accepted, kept with the reason (never dropped)."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(512))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason_code: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
