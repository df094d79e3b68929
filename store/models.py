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
    false,
    text,
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
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("work_schedules.id"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("discipline_policies.id"))
    # Ngày bắt đầu theo dõi: no day before it is judged (a go-live does not flag the past).
    # None: no limit (each person's own start date still applies).
    tracking_start: Mapped[date | None] = mapped_column(Date)
    # How its readers write a card number (định dạng số thẻ): this many digits with leading
    # zeros; None keeps a card as written. Roster imports pad to it and warn.
    card_digits: Mapped[int | None] = mapped_column(Integer)


class Unit(Base):
    """Unit (đơn vị, phòng, ban): a node of an agency's tree, of any depth."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("work_schedules.id"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("discipline_policies.id"))


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
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("work_schedules.id"))
    # Contacts for notifications (thông báo): only what a message needs to reach the person.
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))


class Credential(Base):
    """A card, badge, fingerprint or face id assigned to an employee for a validity period.

    A card handed to someone else gets a new row; old punches keep resolving to the
    person who held the card at the time. A card is valid on every reader; an enrolment
    number (mã chấm công: pin, face, fingerprint ids a terminal keeps) only on one reader
    (``device_id``) or a group of readers (``group_id``), since two terminals may give
    the same number to two people.
    """

    __tablename__ = "credentials"
    __table_args__ = (
        Index("ix_credentials_lookup", "kind", "value", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        CheckConstraint("device_id IS NULL OR group_id IS NULL", name="one_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("device_groups.id"))


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


class DeviceGroup(Base):
    """A named group of readers (nhóm máy chấm công), e.g. every terminal of one site that
    shares one enrolment list; credentials scoped to it are valid on each member."""

    __tablename__ = "device_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))


class DeviceGroupMember(Base):
    """A reader in a group."""

    __tablename__ = "device_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("device_groups.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)


class Punch(Base):
    """A punch (lượt chấm công) exactly as a reader reported it: a fact, never edited.

    Kept once per (device, event id) by ``PunchKey``; on PostgreSQL partitioned by month of
    ``punched_at`` (primary key (id, punched_at) there).
    """

    __tablename__ = "punches"
    __table_args__ = (
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


class PunchKey(Base):
    """The identity of every punch stored (device, event id), apart from the partitioned
    punches so that a redelivery is refused exactly, whatever month it names."""

    __tablename__ = "punch_keys"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    punched_at: Mapped[datetime] = mapped_column(UtcDateTime)  # for retention


class UnmatchedPunch(Base):
    """A punch whose credential no employee held at the time (thẻ chưa đăng ký).

    An operator task, not a violation: registering the card later matches it.
    """

    __tablename__ = "unmatched_punches"

    punch_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # punches.id
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
    """A message that could not be accepted, kept with the reason (never dropped).

    One row per distinct message (``fingerprint`` of topic and payload): a redelivered or
    retained copy only raises ``count``. Beyond a per-device cap, messages are tallied in
    ``DeadLetterTally`` instead.
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(512))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason_code: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    payload_size: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeadLetterTally(Base):
    """Refused messages of a device beyond its dead-letter cap: a count and the latest sample."""

    __tablename__ = "dead_letter_tallies"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when unknown
    reason_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    sample_reason: Mapped[str] = mapped_column(Text)
    sample_payload: Mapped[bytes] = mapped_column(LargeBinary)


# -- rules: configuration, excuses, derived day records and violations, reviews ------------


class WorkSchedule(Base):
    """A schedule document (rules.config.ScheduleDoc as JSON), shared by agencies, units, people."""

    __tablename__ = "work_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    spec: Mapped[str] = mapped_column(Text)


class DisciplinePolicy(Base):
    """A policy document (rules.config.PolicyDoc as JSON)."""

    __tablename__ = "discipline_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    spec: Mapped[str] = mapped_column(Text)


class CalendarDay(Base):
    """An override of the national calendar: a day off, a làm bù working day, or a holiday
    that does not apply. ``agency_id`` NULL: for everyone."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        UniqueConstraint("agency_id", "day", name="uq_calendar_days_agency_day"),
        CheckConstraint("kind IN ('off', 'work', 'not_off')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255), default="")


class ExcuseRecord(Base):
    """Leave, a business trip, training… (lý do vắng mặt) for whole days or some sessions."""

    __tablename__ = "excuses"
    __table_args__ = (
        Index("ix_excuses_employee_days", "employee_id", "first_day", "last_day"),
        CheckConstraint("last_day >= first_day", name="period"),
        CheckConstraint("status IN ('pending', 'approved', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    kind: Mapped[str] = mapped_column(String(32))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    sessions: Mapped[str | None] = mapped_column(String(255))  # comma-separated; NULL = all day
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DayRecord(Base):
    """The derived record of one person and date (recomputable from the facts).

    Derived rows (day records, violations, their events) carry no foreign keys: only the
    runner writes them, from rows it has just read, and keys would cost it dearly."""

    __tablename__ = "day_records"
    __table_args__ = (Index("ix_day_records_unit_day", "unit_id", "day"),)

    employee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(255))
    first_in: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_out: Mapped[datetime | None] = mapped_column(UtcDateTime)
    worked_minutes: Mapped[int] = mapped_column(Integer, default=0)
    excused: Mapped[str | None] = mapped_column(String(255))  # "morning:annual_leave,…"
    excused_kind: Mapped[str | None] = mapped_column(String(32))
    excused_fraction: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ViolationRecord(Base):
    """A violation (vi phạm) under its stable identity (employee, date, session, kind).

    Derived: recomputation updates it or marks it withdrawn, never deletes it; reviews are
    kept apart (``reviews``) under the same identity.
    """

    __tablename__ = "violations"
    __table_args__ = (
        UniqueConstraint("employee_id", "day", "session", "kind", name="uq_violations_identity"),
        Index("ix_violations_unit_day", "unit_id", "day"),
        Index("ix_violations_day_kind", "day", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    session: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of punch ids
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_excuse_id: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


PERSON_MONTH_RUNS = "absent_run_head > 0 OR absent_run_tail > 0"  # starts or ends absent


class PersonMonth(Base):
    """A person's month in one unit, summed from day records and violations (derived).

    Kept by the runner in the transaction that writes the day records, and by a review when
    it is decided, so a summary of a month, quarter or year reads one row per person and
    month. Absence runs (in working days) let consecutive months join their streaks.
    """

    __tablename__ = "person_months"
    __table_args__ = (
        Index("ix_person_months_unit_month", "unit_id", "month"),
        Index("ix_person_months_month", "month", "employee_id"),
        # the months a summary reads to join absence runs (store.summaries._longest_runs)
        Index(
            "ix_person_months_runs",
            "month",
            "employee_id",
            postgresql_where=text(PERSON_MONTH_RUNS),
            sqlite_where=text(PERSON_MONTH_RUNS),
        ),
    )

    employee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    working_days: Mapped[int] = mapped_column(Integer)
    present_days: Mapped[int] = mapped_column(Integer)
    late_count: Mapped[int] = mapped_column(Integer)
    late_minutes: Mapped[int] = mapped_column(Integer)
    early_count: Mapped[int] = mapped_column(Integer)
    early_minutes: Mapped[int] = mapped_column(Integer)
    absent_days: Mapped[float] = mapped_column(Float)
    missing_punches: Mapped[int] = mapped_column(Integer)
    excused_leave: Mapped[float] = mapped_column(Float)
    excused_sick: Mapped[float] = mapped_column(Float)
    excused_trip: Mapped[float] = mapped_column(Float)
    excused_study: Mapped[float] = mapped_column(Float)
    excused_other: Mapped[float] = mapped_column(Float)
    confirmed: Mapped[int] = mapped_column(Integer)
    excused: Mapped[int] = mapped_column(Integer)
    dismissed: Mapped[int] = mapped_column(Integer)
    absent_status_days: Mapped[int] = mapped_column(Integer)
    absent_run_head: Mapped[int] = mapped_column(Integer)  # absent from the month's start
    absent_run_tail: Mapped[int] = mapped_column(Integer)  # absent up to the month's end
    absent_run_max: Mapped[int] = mapped_column(Integer)
    # Counted late arrivals (not excused or dismissed) by weekday (thứ, Monday first) and by
    # minutes late (1–5, 6–15, 16–30, 31–60, over 60): what the summary's charts draw.
    late_mon: Mapped[int] = mapped_column(Integer, server_default="0")
    late_tue: Mapped[int] = mapped_column(Integer, server_default="0")
    late_wed: Mapped[int] = mapped_column(Integer, server_default="0")
    late_thu: Mapped[int] = mapped_column(Integer, server_default="0")
    late_fri: Mapped[int] = mapped_column(Integer, server_default="0")
    late_sat: Mapped[int] = mapped_column(Integer, server_default="0")
    late_sun: Mapped[int] = mapped_column(Integer, server_default="0")
    late_1_5: Mapped[int] = mapped_column(Integer, server_default="0")
    late_6_15: Mapped[int] = mapped_column(Integer, server_default="0")
    late_16_30: Mapped[int] = mapped_column(Integer, server_default="0")
    late_31_60: Mapped[int] = mapped_column(Integer, server_default="0")
    late_over_60: Mapped[int] = mapped_column(Integer, server_default="0")


class ViolationEvent(Base):
    """The history of a violation: detected, updated, withdrawn, restored."""

    __tablename__ = "violation_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    violation_id: Mapped[int] = mapped_column(BigId, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int | None] = mapped_column(Integer)
    provisional: Mapped[bool | None] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(32), default="")


class Review(Base):
    """A unit head's decision on a violation (xác nhận / có lý do / bỏ qua), never derived.

    Keyed by the violation's identity, not its row, so recomputation cannot erase it.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_identity", "employee_id", "day", "session", "kind"),
        CheckConstraint("decision IN ('confirmed', 'excused', 'dismissed')", name="decision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    day: Mapped[date] = mapped_column(Date)
    session: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    previous_decision: Mapped[str | None] = mapped_column(String(16))
    reason_kind: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewState(Base):
    """The current decision per violation identity (the last of ``reviews``), for queries."""

    __tablename__ = "review_state"

    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    session: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason_kind: Mapped[str | None] = mapped_column(String(32))
    review_id: Mapped[int] = mapped_column(BigInteger)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    """A person who signs in: a unit head, Nội vụ, an HR clerk, an admin, an auditor, or a
    member of staff (cán bộ, công chức) who sees only their own record."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('unit_head', 'noi_vu', 'hr_clerk', 'admin', 'auditor', 'employee')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Tokens issued before this instant are refused (sign-out, disabling, a password change).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set by an admin's password reset: the next sign-in must choose a new password first.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    # Self-service (role "employee"): the person this account is.
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), unique=True)


class UserEvent(Base):
    """A change to a user account (tạo, khóa, mở khóa, cấp lại mật khẩu, đổi vai trò): who
    made it, when, and the account before and after (JSON: role, scope, active). Never edited."""

    __tablename__ = "user_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class SigninThrottle(Base):
    """Failed sign-ins per account ("user:<name>") or client address ("addr:<ip>").

    Enough failures in the window lock the key for a time that doubles with each lockout;
    admins see the rows and may delete one to unlock.
    """

    __tablename__ = "signin_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)


class ServerKey(Base):
    """Keys the server makes for itself on first start and shares through the database."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RecomputeRequest(Base):
    """A (person, date) whose facts changed: the rules runner recomputes it and deletes the row.

    One row per request, written in the same transaction as the change it announces (never
    merged into a row already queued): a runner can claim a row only once its transaction is
    committed, so the recompute that follows reads the change. A key queued twice is
    recomputed once per batch that holds it.
    """

    __tablename__ = "recompute_queue"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(32), default="")
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SchedulerState(Base):
    """Small durable values of the scheduler, e.g. the last instant whose deadlines fired."""

    __tablename__ = "scheduler_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ScoreDecision(Base):
    """A unit head's decision on a person's suggested monthly kỷ luật score: confirmed or
    adjusted, with a note. Human input, never derived: a recompute changes the suggestion,
    never this row. The newest row of (employee, month) is the one in force."""

    __tablename__ = "score_decisions"
    __table_args__ = (
        Index("ix_score_decisions_employee_month", "employee_id", "month"),
        CheckConstraint("decision IN ('confirmed', 'adjusted')", name="decision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    decision: Mapped[str] = mapped_column(String(16))
    suggested_score: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    flag: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ImportUpload(Base):
    """A roster file between its preview and "Áp dụng" (nhập danh sách), keyed by its hash.

    Kept in the database so any API replica can apply what another previewed; the browser
    only ever sends back the hash, so the applied content is exactly what was previewed.
    """

    __tablename__ = "import_uploads"
    __table_args__ = (UniqueConstraint("user_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str] = mapped_column(String(16), default="")
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# -- notifications (thông báo): the outbox and each person's preferences -------------------


class OutboxMessage(Base):
    """A message to send (thông báo), written in the transaction of the change that causes it.

    ``dedupe_key`` makes it once per cause (``violation:<id>``, ``digest:<user>:<slot>``…).
    The sender claims due rows (``queued``, or ``sending`` whose lease ran out), sends, and
    marks them ``sent`` once; a failure goes back to ``queued`` with a growing delay, and
    past the last attempt to ``failed`` with a Vietnamese reason. ``cancelled``: its cause
    went away before it was sent (a withdrawn violation). ``waiting`` (chờ địa chỉ): the
    recipient has no address any channel can use yet; it goes when one is added, unless it
    waited past ``expires_at``: then ``expired`` (hết hạn), never sent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'waiting', 'expired')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(64))  # "employee:<id>" or "user:<id>"
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    subject: Mapped[str | None] = mapped_column(String(255))  # None: the template's subject
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))  # the one last tried
    address: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set when it first waits for an address (chờ địa chỉ): past it, it expires unsent.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboxAttachment(Base):
    """A file sent with a message (the month's XLSX summary), made when it was queued."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class NotificationPreference(Base):
    """A person's channel (e-mail or webhook) and quiet hours (giờ yên lặng).

    Quiet hours delay a message to their end, never drop it; no row: the defaults.
    """

    __tablename__ = "notification_preferences"
    __table_args__ = (CheckConstraint("channel IN ('email', 'webhook')", name="channel"),)

    recipient: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(16))  # None: e-mail when there is one
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # "21:00" local
    quiet_to: Mapped[str | None] = mapped_column(String(5))  # "06:30" local
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- self-service: requests of staff (đề nghị), their attachments, manual punches ----------


class Attachment(Base):
    """A file a person attached to a request (giấy mời, ảnh…), content-addressed by SHA-256.

    Kept in the database (one backup, no data directory to secure); served only to those who
    may read a request that names it."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StaffRequest(Base):
    """A request of a member of staff, decided by the unit head: a giải trình on a violation,
    a forgotten punch (đề nghị bổ sung giờ chấm), leave (xin nghỉ) or a trip (đi công tác).

    Never edited by its author: pending → approved / refused by the head, or superseded by a
    newer request of the same person on the same violation; every step is in
    ``request_events``."""

    __tablename__ = "staff_requests"
    __table_args__ = (
        Index("ix_staff_requests_unit_status", "unit_id", "status"),
        Index("ix_staff_requests_employee", "employee_id", "created_at"),
        CheckConstraint("kind IN ('explanation', 'missing_punch', 'leave', 'trip')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'superseded')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    violation_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    reason_kind: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    punch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    sessions: Mapped[str | None] = mapped_column(String(255))  # comma-separated; NULL = all day
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    attachment_name: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    excuse_id: Mapped[int | None] = mapped_column(Integer)  # the approved leave or trip
    punch_id: Mapped[int | None] = mapped_column(BigInteger)  # the manual punch added
    # A forgotten punch's side as the person said it ("in" vào / "out" ra), with its session
    # in ``sessions``; NULL: not said (read in order like a device's punch).
    punch_direction: Mapped[str | None] = mapped_column(String(8))


class RequestEvent(Base):
    """One step of a request (created, approved, refused, superseded): who, when, before, after."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class ManualPunch(Base):
    """The provenance of a manual punch (chấm công bổ sung thủ công): a new punch fact added
    when a unit head approved a forgotten-punch request; never an edit of a device's punch.

    The punch itself is a row of ``punches`` from the reserved reader ``kc-manual``."""

    __tablename__ = "manual_punches"

    punch_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    punched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The session the person said the punch belongs to (its side is the punch's direction);
    # NULL: not said, the punch is read in order like a device's (rules.attribution).
    session: Mapped[str | None] = mapped_column(String(64))
