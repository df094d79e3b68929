"""What the notifications say and when, from the runner and the scheduler's jobs to a real
SMTP server (aiosmtpd), on SQLite and PostgreSQL: a violation's notice once with the minutes,
the punches and the link; cancelled when the violation is withdrawn; the heads' digest only
when something is new; Nội vụ's month with its XLSX."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select, update

from ingest.pipeline import DeviceDirectory
from kycuong.settings import Settings
from notify.channels import EmailChannel, SmtpConfig
from notify.jobs import monthly_reports, unit_digests
from notify.sender import Sender, SenderConfig, config_from
from notify.violations import ViolationNotices
from rules.zones import zone
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.models import (
    Device,
    Employee,
    OutboxAttachment,
    OutboxMessage,
    StaffRequest,
    User,
    ViolationRecord,
)
from store.queue import enqueue, keys_for_days
from store.users import create_user
from tests.factories import org
from tests.integration.test_runner import FakeClock, Rig
from tests.mail import SmtpSink, body_text, smtp_server
from tests.unit.days import local

DAY = date(2026, 11, 23)  # a Monday
TZ = zone("Asia/Ho_Chi_Minh")
URL = "https://kycuong.so.gov.vn"
TIMES = [time(9, 30), time(17, 30)]
NEXT = date(2026, 11, 25)  # the next working day (24/11 is a day off in the calendar)


@dataclass
class Office:
    rig: Rig
    sink: SmtpSink

    @property
    def engine(self) -> Engine:
        return self.rig.engine

    def send(self, settings: Settings | None = None) -> int:
        config = SenderConfig(public_url=URL, quiet=None)
        if settings is not None:
            config = replace(config_from(settings), quiet=None)
        sender = Sender(
            self.engine,
            {
                "email": EmailChannel(
                    SmtpConfig(host="127.0.0.1", port=self.sink.port, starttls=False)
                )
            },
            config,
            clock=self.rig.clock,
        )
        return sender.drain().sent

    def outbox(self) -> list[OutboxMessage]:
        with db_session(self.engine) as db:
            return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture(params=["sqlite_engine", "pg_engine"])
def office(request: pytest.FixtureRequest) -> Iterator[Office]:
    engine: Engine = request.getfixturevalue(request.param)
    made = org(engine, employees=3, devices=("D1", "D2"))
    with db_session(engine) as db:
        for person in db.scalars(select(Employee)):
            person.email = f"{person.code.lower()}@so.gov.vn"
        create_user(db, "truongphong", "mat-khau-du-dai", "unit_head", unit_code="P1")
        create_user(db, "noivu", "mat-khau-du-dai", "noi_vu", agency_code="AG")
        db.execute(update(User).values(email="lanhdao@so.gov.vn"))
    clock = FakeClock(local(DAY, "07:00").astimezone(UTC))
    worker = RecomputeWorker(
        engine,
        RulesDirectory(max_age_s=0),
        clock=clock,
        notices=ViolationNotices(hold=timedelta(0)),
    )
    with smtp_server() as sink:
        yield Office(Rig(engine, clock, worker, DeviceDirectory(engine), made["cards"]), sink)


def test_a_late_punch_gives_the_person_one_email_with_the_minutes_the_punch_and_the_link(
    office: Office,
) -> None:
    rig = office.rig
    rig.clock.set(DAY, "07:50")
    rig.punch(rig.cards[0], DAY, "07:49")
    rig.run()
    rig.punch(rig.cards[0], DAY, "07:52")  # a retap: recomputed, still one violation
    rig.run()
    [notice] = office.outbox()
    assert notice.kind == "violation_flagged" and notice.status == "queued"
    assert office.send() == 1
    assert office.send() == 0
    [mail] = office.sink.messages
    with db_session(office.engine) as db:
        vid = db.scalars(select(ViolationRecord.id)).one()
    assert mail["To"] == "e0000@so.gov.vn"
    assert mail["Subject"] == "[Sở Thử nghiệm] Đi muộn ngày 23/11/2026 (19 phút)"
    text = body_text(mail)
    assert "Kính gửi Nguyễn Văn 0," in text
    assert "Đi muộn 19 phút, buổi sáng ngày 23/11/2026" in text
    assert "07:49 tại Cổng" in text
    assert f"{URL}/cua-toi/giai-trinh/{vid}" in text
    assert "E0000" not in text and "C000000" not in text  # no codes or card numbers


def test_a_withdrawn_violation_s_unsent_notice_is_cancelled_and_never_sent(
    office: Office,
) -> None:
    rig = office.rig
    rig.clock.set(DAY, "07:50")
    rig.punch(rig.cards[0], DAY, "07:49", device="D1")
    rig.run()
    assert [m.status for m in office.outbox()] == ["queued"]
    # The other reader's backlog: the person was in at 07:20; the lateness is withdrawn.
    rig.punch(rig.cards[0], DAY, "07:20", device="D2")
    rig.run()
    assert rig.violations() == []
    assert [m.status for m in office.outbox()] == ["cancelled"]
    assert office.send() == 0 and office.sink.messages == []


def test_a_notice_waits_for_its_hold_and_old_days_get_none(office: Office) -> None:
    rig = office.rig
    rig.worker.notices = ViolationNotices(hold=timedelta(minutes=5), max_age_days=3)
    rig.clock.set(DAY, "07:50")
    rig.punch(rig.cards[0], DAY, "07:49")
    rig.punch(rig.cards[1], DAY - timedelta(days=7), "07:49")  # a week-old backlog
    rig.run()
    assert len(rig.violations("E0001")) == 3  # a closed day: late, absent, missing out
    [notice] = office.outbox()
    assert notice.next_attempt_at == local(DAY, "07:55")
    assert office.send() == 0
    rig.clock.set(DAY, "07:56")
    assert office.send() == 1


def test_the_head_s_digest_lists_new_violations_and_is_not_sent_when_nothing_is_new(
    office: Office,
) -> None:
    rig = office.rig
    rig.clock.set(DAY, "07:50")
    rig.punch(rig.cards[0], DAY, "07:49")
    rig.punch(rig.cards[1], DAY, "08:05")
    rig.run()
    with db_session(office.engine) as db:
        assert unit_digests(db, local(DAY, "09:30"), TIMES, TZ, URL) == 1
    with db_session(office.engine) as db:  # the same slot again: nothing more
        assert unit_digests(db, local(DAY, "09:45"), TIMES, TZ, URL) == 0
    rig.clock.set(DAY, "09:31")
    office.send()
    digest = [m for m in office.sink.messages if m["To"] == "lanhdao@so.gov.vn"]
    assert len(digest) == 1
    assert digest[0]["Subject"] == "[Sở Thử nghiệm] Tổng hợp 09:30 23/11/2026: 2 vi phạm mới"
    text = body_text(digest[0])
    assert "Nguyễn Văn 0: Đi muộn 19 phút, buổi sáng" in text
    assert "Nguyễn Văn 1: Đi muộn 35 phút, buổi sáng" in text
    assert f"{URL}/vi-pham" in text
    # 17:30: nothing new since 09:30, so no digest.
    with db_session(office.engine) as db:
        assert unit_digests(db, local(DAY, "17:31"), TIMES, TZ, URL) == 0
    # Something new before the next slot: the next working day's 09:30 digest has it, and only it.
    rig.clock.set(NEXT, "07:50")
    rig.punch(rig.cards[2], NEXT, "07:41")
    rig.run()
    with db_session(office.engine) as db:
        assert unit_digests(db, local(NEXT, "09:30"), TIMES, TZ, URL) == 1
    rig.clock.set(NEXT, "09:31")
    office.send()
    latest = [m for m in office.sink.messages if m["To"] == "lanhdao@so.gov.vn"][-1]
    text = body_text(latest)
    assert "Nguyễn Văn 2: Đi muộn 11 phút" in text and "Nguyễn Văn 0" not in text


def test_noi_vu_gets_last_month_on_the_first_with_the_xlsx_and_the_people_past_thresholds(
    office: Office,
) -> None:
    """The report is queued at 07:00 on the 1st and made when sent: a leave approved for
    November in between is in the body and the XLSX (the data as of sending)."""
    from store.excuses import add_excuse

    rig = office.rig
    # Nobody punched in November: everyone is absent every working day.
    rig.clock.now = local(date(2026, 12, 1), "06:00").astimezone(UTC)
    with db_session(office.engine) as db:
        enqueue(db, keys_for_days(db, date(2026, 11, 1), date(2026, 11, 30)), "test")
    rig.run()
    settings = Settings(
        absence_days_per_month_flag=5,
        public_url=URL,
        report_recipient="Ủy ban nhân dân tỉnh Thử nghiệm",
        report_place="Hà Nội",
    )
    first = datetime(2026, 12, 1, 6, 59, tzinfo=TZ)
    with db_session(office.engine) as db:
        assert monthly_reports(db, first, time(7, 0), settings, TZ) == 0  # not yet
    with db_session(office.engine) as db:
        assert monthly_reports(db, first + timedelta(minutes=2), time(7, 0), settings, TZ) == 1
    with db_session(office.engine) as db:
        assert monthly_reports(db, first + timedelta(days=3), time(7, 0), settings, TZ) == 0
        [queued] = db.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "monthly_summary")
        ).all()
        assert queued.context.count("Nguyễn") == 0  # only the month: nothing counted yet
        assert db.scalars(select(OutboxAttachment)).all() == []  # nothing made yet
    # Before it goes: Nguyễn Văn 0's November was sick leave, entered and approved late.
    with db_session(office.engine) as db:
        add_excuse(db, "E0000", "sick_leave", date(2026, 11, 1), date(2026, 11, 30), approved=True)
    rig.run()
    rig.clock.now = first + timedelta(minutes=5)
    office.send(settings)
    [mail] = [m for m in office.sink.messages if m["To"] == "lanhdao@so.gov.vn"]
    assert "tháng 11/2026" in mail["Subject"]
    text = body_text(mail)
    assert "Người vượt ngưỡng xem xét kỷ luật (2):" in text
    assert "Nguyễn Văn 1 (Phòng Một): Nghỉ không lý do" in text
    assert "Nguyễn Văn 0" not in text
    [attachment] = list(mail.iter_attachments())
    assert str(attachment.get_filename()).endswith(".xlsx")
    book = load_workbook(BytesIO(attachment.get_content()))
    cells = {str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert any("Phòng Một" in c for c in cells)
    # addressed and dated as configured, like the report pulled from the pages
    assert "Kính gửi: Ủy ban nhân dân tỉnh Thử nghiệm" in cells
    assert any(c.startswith("Hà Nội, ngày ") for c in cells)


def test_a_provisional_absence_gets_its_notice_only_once_it_is_final(office: Office) -> None:
    rig = office.rig
    with db_session(office.engine) as db:
        for device in db.scalars(select(Device)):
            device.sent_up_to = local(DAY, "07:10")  # the readers stopped reporting at 07:10
        enqueue(db, [(rig.employee_id("E0002"), DAY)], "test")
    rig.clock.set(DAY, "10:00")
    rig.run()
    assert office.outbox() == []  # the backlog may still prove the person was there
    with db_session(office.engine) as db:
        for device in db.scalars(select(Device)):
            device.sent_up_to = local(DAY, "09:59")
        enqueue(db, [(rig.employee_id("E0002"), DAY)], "caught_up")
    rig.run()
    assert [m.kind for m in office.outbox()] == ["violation_flagged"]
    assert office.send() == 1
    text = body_text(office.sink.messages[0])
    assert "Vắng mặt không lý do, buổi sáng ngày 23/11/2026" in text
    assert "Không có lượt chấm công nào trong buổi này." in text


def test_a_digest_with_only_a_pending_request_says_so_and_links_to_the_requests(
    office: Office,
) -> None:
    with db_session(office.engine) as db:
        person = db.scalars(select(Employee).order_by(Employee.id)).first()
        assert person is not None
        db.add(
            StaffRequest(
                employee_id=person.id,
                unit_id=person.unit_id,
                kind="trip",
                status="pending",
                reason_kind="business_trip",
                note="Công tác tại huyện",
                first_day=NEXT,
                last_day=NEXT,
                created_by=person.code,
                created_at=local(DAY, "10:00").astimezone(UTC),
                decision_note="",
            )
        )
        db.commit()
    with db_session(office.engine) as db:
        assert unit_digests(db, local(DAY, "17:30"), TIMES, TZ, URL) == 1
    office.rig.clock.set(DAY, "17:31")
    office.send()
    digest = [m for m in office.sink.messages if m["To"] == "lanhdao@so.gov.vn"]
    assert len(digest) == 1
    assert digest[0]["Subject"] == "[Sở Thử nghiệm] Tổng hợp 17:30 23/11/2026: 1 đề nghị chờ duyệt"
    text = body_text(digest[0])
    assert f"{person.full_name}: Đi công tác 25/11/2026" in text
    assert "(Đi công tác)" not in text
    assert f"{URL}/de-nghi" in text and f"{URL}/vi-pham" not in text
