"""Self-service against the real PostgreSQL: a member of staff signs in with a one-time code,
changes it, reads their own month, sends requests; the unit head decides. The forgotten-punch
journey ends in a manual punch with its provenance and a withdrawn violation; a person
reaches nobody else's record, request or attachment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from ingest.pipeline import DeviceDirectory, Message, process_batch
from rules.zones import zone
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from services import requests as request_service
from services import violations as violation_service
from services.accounts import create_staff_account
from services.schemas import ReviewIn
from services.scope import Scope, scope_of
from store.db import db_session
from store.models import (
    Attachment,
    Employee,
    ManualPunch,
    NotificationPreference,
    OutboxMessage,
    PersonMonth,
    Punch,
    RequestEvent,
    ReviewState,
    StaffRequest,
    User,
    ViolationRecord,
)
from store.queue import enqueue
from tests.factories import punch_payload
from tests.integration.test_api import DAY, PASSWORD, World, build_world, world_settings
from tests.integration.test_notify_delivery import smtp_sender
from tests.mail import body_text, smtp_server
from tests.signin import browser, csrf_of, sign_in, signed_in
from tests.unit.days import local
from web import self_service

TZ = zone("Asia/Ho_Chi_Minh")
# The pages judge deadlines by this instant: the day after the violations, 10:00 local.
NEXT_MORNING = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), TZ).replace(hour=10)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
REQUEST_STATUS_LABELS = {"approved": "Đã duyệt", "refused": "Không duyệt"}


@pytest.fixture
def world(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr(self_service, "now", lambda: NEXT_MORNING.astimezone(UTC))
    yield build_world(pg_engine, world_settings(pg_engine, attachment_max_bytes=64 * 1024))


def staff_code(world: World, employee: str) -> str:
    """HR makes the account; the one-time code to hand over."""
    with db_session(world.engine) as db:
        account = create_staff_account(
            db, Scope(0, "hr", "hr_clerk", None), employee, datetime.now(UTC)
        )
    assert account.one_time_code
    return account.one_time_code


def person(world: World, employee: str) -> TestClient:
    """A browser signed in as ``employee`` who has replaced the one-time code."""
    code = staff_code(world, employee)
    client = browser(world)
    first = sign_in(client, employee, code)
    # The one Đổi mật khẩu of every account, then the person's own month.
    assert first.status_code == 303
    assert first.headers["location"] == "/doi-mat-khau?next=/cua-toi"
    page = client.get(first.headers["location"])
    assert "mã dùng một lần" in page.text and "Hãy đặt mật khẩu mới" in page.text
    changed = client.post(
        "/doi-mat-khau",
        data={
            "current": code,
            "new": PASSWORD,
            "repeat": PASSWORD,
            "next": "/cua-toi",
            "csrf": csrf_of(page.text),
        },
    )
    assert changed.status_code == 200 and "Đã đổi mật khẩu" in changed.text
    assert 'href="/cua-toi"' in changed.text
    return client


def head(world: World, username: str = "head_a1") -> TestClient:
    return signed_in(world, username)


def explain(
    client: TestClient, violation_id: int, file: tuple[str, bytes, str] | None = None
) -> object:
    token = csrf_of(client.get(f"/cua-toi/giai-trinh/{violation_id}").text)
    return client.post(
        f"/cua-toi/giai-trinh/{violation_id}",
        data={"reason_kind": "outside_meeting", "note": "Họp tại UBND tỉnh", "csrf": token},
        files={"attachment": file} if file else None,
        follow_redirects=False,
    )


def only_request_id(world: World) -> int:
    with db_session(world.engine) as db:
        return int(
            db.scalars(select(StaffRequest.id).order_by(StaffRequest.id.desc())).first() or 0
        )


def test_a_one_time_code_must_be_changed_before_anything_else(world: World) -> None:
    code = staff_code(world, "e1")
    client = browser(world)
    sign_in(client, "e1", code)
    page = client.get("/cua-toi")  # every page sends them to Đổi mật khẩu first
    assert page.url.path == "/doi-mat-khau" and "Hãy đặt mật khẩu mới" in page.text
    short = client.post(
        "/doi-mat-khau",
        data={"current": code, "new": "ngắn", "repeat": "ngắn", "csrf": csrf_of(page.text)},
    )
    assert short.status_code == 400 and "ít nhất 8 ký tự" in short.text
    with db_session(world.engine) as db:
        user = db.scalar(select(User).where(User.username == "e1"))
        assert user is not None and user.role == "employee" and user.must_change_password


def test_a_person_sees_their_own_month_with_gate_symbol_and_violation(world: World) -> None:
    client = person(world, "e1")
    page = client.get(f"/cua-toi?thang={DAY.month}&nam={DAY.year}")
    assert page.status_code == 200
    assert "Tháng 11/2026 của tôi" in page.text
    assert "07:50" in page.text and "Đi muộn 20 phút" in page.text
    assert "Chưa xử lý" in page.text and "Giải trình" in page.text
    # The menu holds only the person's own pages.
    assert 'href="/vi-pham"' not in page.text and 'href="/bao-cao"' not in page.text
    for path in ("/vi-pham", "/bang-thang", "/hom-nay", "/bao-cao", "/de-nghi"):
        answer = client.get(path)
        assert answer.status_code in (400, 403, 404), path
        assert "Trần Văn e3" not in answer.text and "Trần Văn e2" not in answer.text


def test_a_person_cannot_reach_anyone_elses_record_request_or_attachment(world: World) -> None:
    theirs = world.violation_id("e1", "late")
    owner = person(world, "e1")
    assert explain(owner, theirs, ("giay-moi.pdf", PDF, "application/pdf")).status_code == 303  # type: ignore[attr-defined]
    request_id = only_request_id(world)
    other = person(world, "e3")
    for path in (
        f"/vi-pham/{theirs}",
        f"/cua-toi/giai-trinh/{theirs}",
        f"/de-nghi/{request_id}",
        f"/de-nghi/{request_id}/tep",
        f"/cua-toi/bo-sung-gio-cham?vi_pham={theirs}",
    ):
        answer = other.get(path)
        assert answer.status_code in (403, 404), path
        assert "Giải trình được" not in answer.text and "Họp tại UBND tỉnh" not in answer.text
    assert other.get(f"/de-nghi/{request_id}").status_code == 404
    assert "không tồn tại hoặc nằm ngoài phạm vi" in other.get(f"/de-nghi/{request_id}/tep").text
    token = csrf_of(other.get("/cua-toi").text)
    acted = other.post(
        f"/cua-toi/giai-trinh/{theirs}",
        data={"reason_kind": "other", "note": "không phải của tôi", "csrf": token},
    )
    assert acted.status_code == 404
    decided = other.post(
        f"/de-nghi/{request_id}/quyet-dinh", data={"decision": "approved", "csrf": token}
    )
    assert decided.status_code == 403
    # Nor does a head of another unit; the owner's head reads the file as sent, never sniffed.
    assert head(world, "head_a2").get(f"/de-nghi/{request_id}/tep").status_code == 404
    served = head(world).get(f"/de-nghi/{request_id}/tep")
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("attachment;")
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(StaffRequest)) == 1


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (("giay-moi.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"), "Chỉ nhận tệp PDF, JPEG"),
        (("anh.png", PDF, "image/png"), "Chỉ nhận tệp PDF, JPEG"),
        (("script.html", b"<script>alert(1)</script>", "text/html"), "Chỉ nhận tệp PDF, JPEG"),
        (("lon.png", PNG + b"\x00" * (64 * 1024), "image/png"), "Tệp đính kèm quá lớn"),
    ],
)
def test_a_wrong_or_oversized_attachment_is_refused_and_nothing_is_stored(
    world: World, file: tuple[str, bytes, str], message: str
) -> None:
    client = person(world, "e1")
    answer = explain(client, world.violation_id("e1", "late"), file)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert message in answer.text  # type: ignore[attr-defined]
    assert "Họp tại UBND tỉnh" in answer.text  # type: ignore[attr-defined]  # nothing typed is lost
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(Attachment)) == 0
        assert db.scalar(select(func.count()).select_from(StaffRequest)) == 0


def test_an_explanation_after_the_deadline_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = person(world, "e1")
    # Monday 23/11 + 3 working days: 24/11 is Ngày Văn hóa Việt Nam (a day off from 2026), so
    # the deadline is Friday 27/11, and Monday 30/11 is too late.
    late = datetime.combine(DAY + timedelta(days=7), datetime.min.time(), TZ).replace(hour=9)
    monkeypatch.setattr(self_service, "now", lambda: late.astimezone(UTC))
    answer = explain(client, world.violation_id("e1", "late"))
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "Đã quá hạn gửi" in answer.text and "27/11/2026" in answer.text  # type: ignore[attr-defined]


def test_the_head_sees_the_explanation_beside_the_violation_and_approving_excuses_it(
    world: World,
) -> None:
    late = world.violation_id("e1", "late")
    client = person(world, "e1")
    explain(client, late, ("giay-moi.pdf", PDF, "application/pdf"))
    boss = head(world)
    queue = boss.get("/vi-pham")
    assert "Có giải trình" in queue.text
    detail = boss.get(f"/vi-pham/{late}")
    assert "Họp tại UBND tỉnh" in detail.text and "giay-moi.pdf" in detail.text
    requests = boss.get("/de-nghi")
    assert "Trần Văn e1" in requests.text and "Giải trình" in requests.text
    request_id = only_request_id(world)
    # each pending request has its box to tick for "decide the chosen ones"
    assert f'name="ids" value="{request_id}"' in requests.text
    token = csrf_of(requests.text)
    refused_without_note = boss.post(
        f"/de-nghi/{request_id}/quyet-dinh", data={"decision": "refused", "csrf": token}
    )
    assert refused_without_note.status_code == 400
    assert "Cần ghi lý do khi không duyệt" in refused_without_note.text
    # beside the note, the decision still chosen
    assert 'id="decision-note-error" role="alert">Cần ghi lý do' in refused_without_note.text
    assert 'name="decision" value="refused" checked' in refused_without_note.text
    approved = boss.post(
        "/de-nghi/quyet-dinh-nhieu",
        data={"ids": [str(request_id)], "decision": "approved", "note": "Đồng ý", "csrf": token},
        follow_redirects=False,
    )
    assert approved.status_code == 303 and approved.headers["location"] == "/de-nghi?luu=1-1"
    again = boss.post(
        f"/de-nghi/{request_id}/quyet-dinh",
        data={"decision": "refused", "note": "đổi ý", "csrf": token},
    )
    assert again.status_code == 409 and "không thể thay đổi" in again.text
    with db_session(world.engine) as db:
        state = db.scalar(select(ReviewState).where(ReviewState.employee_id == world.people["e1"]))
        assert state is not None and state.decision == "excused"
        assert state.reason_kind == "outside_meeting" and state.decided_by == "head_a1"
        steps = db.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        ).all()
        assert [(s.by, s.before, s.after) for s in steps] == [
            ("e1", None, "pending"),
            ("head_a1", "pending", "approved"),
        ]
    mine = client.get("/cua-toi/de-nghi")
    assert "Đã duyệt" in mine.text and "head_a1" in mine.text and "Đồng ý" in mine.text
    with db_session(world.engine) as db:  # the head's name, once the account has one
        db.execute(update(User).where(User.username == "head_a1").values(full_name="Trưởng A1"))
        db.commit()
    mine = client.get("/cua-toi/de-nghi")
    assert "Trưởng A1, " in mine.text and "head_a1" not in mine.text
    assert "Có lý do" in client.get("/cua-toi?thang=11&nam=2026").text
    # the notice's link, opened after the approval: no second giải trình to queue
    page = client.get(f"/cua-toi/giai-trinh/{late}")
    assert page.status_code == 409 and "đã được duyệt" in page.text
    resent = client.post(
        f"/cua-toi/giai-trinh/{late}",
        data={"reason_kind": "outside_meeting", "note": "lần nữa", "csrf": csrf_of(mine.text)},
    )
    assert resent.status_code == 400 and "đã được duyệt" in resent.text
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(StaffRequest)) == 1


def test_a_forgotten_punch_approved_becomes_a_manual_punch_and_withdraws_the_absence(
    world: World,
) -> None:
    absent = world.violation_id("e2", "absent")
    assert absent, "e2 has no punch on the day: absent in the morning"
    client = person(world, "e2")
    form = client.get(f"/cua-toi/bo-sung-gio-cham?ngay=23/11/2026&vi_pham={absent}")
    assert "Đề nghị bổ sung giờ chấm" in form.text
    sent = client.post(
        "/cua-toi/bo-sung-gio-cham",
        data={
            "ngay": "23/11/2026",
            "gio": "07:25",
            "luot": "in:morning",
            "note": "Máy chấm công ở cổng chính bị lỗi",
            "vi_pham": str(absent),
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    request_id = only_request_id(world)
    boss = head(world)
    assert "Có giải trình" in boss.get("/vi-pham?xu_ly=all").text
    page = boss.get(f"/de-nghi/{request_id}")
    assert "23/11/2026 07:25" in page.text
    decided = boss.post(
        f"/de-nghi/{request_id}/quyet-dinh",
        data={"decision": "approved", "note": "", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    world.worker.drain()  # the rules role recomputes the queued day
    with db_session(world.engine) as db:
        manual = db.scalar(select(ManualPunch).where(ManualPunch.request_id == request_id))
        assert manual is not None
        assert (manual.requested_by, manual.approved_by) == ("e2", "head_a1")
        assert manual.reason == "Máy chấm công ở cổng chính bị lỗi"
        assert manual.punched_at.astimezone(TZ).strftime("%d/%m %H:%M") == "23/11 07:25"
        punch = db.get(Punch, manual.punch_id)
        assert punch is not None and punch.device_id == "kc-manual"
        # A new fact: the device punches of the day are untouched and still counted apart.
        assert db.scalar(select(func.count()).select_from(Punch)) == 4
        violation = db.get(ViolationRecord, absent)
        assert violation is not None and not violation.active and violation.withdrawn_at
    month = client.get("/cua-toi?thang=11&nam=2026")
    assert "07:25 · Bổ sung thủ công" in month.text and "bổ sung thủ công" in month.text
    assert "Đã thu hồi" in month.text
    # A withdrawn violation waits for no decision: no "Chưa xử lý" beside it.
    withdrawn = month.text.split("Đã thu hồi", 1)[1].split("</div>", 1)[0]
    assert "Chưa xử lý" not in withdrawn
    evidence = boss.get(f"/vi-pham/{absent}")
    assert "bổ sung thủ công" in evidence.text and "Đã duyệt" in evidence.text


def test_a_forgotten_lunch_out_said_to_be_the_morning_s_is_its_departure_once_approved(
    world: World,
) -> None:
    # e2 tapped in at 07:25 and out at 17:03, nothing at lunch: the morning has no check-out
    # and the afternoon no check-in. "Quên chấm công ra (buổi sáng)" at 11:35, approved,
    # withdraws the morning's missing check-out and leaves the afternoon's: the default cut
    # (the morning's end, 11:30) would have read 11:35 as the afternoon's arrival.
    devices = DeviceDirectory(world.engine)
    for i, hhmm in enumerate(("07:25", "17:03")):
        body = punch_payload("GATE", f"e2-{i}", "CARD-e2", local(DAY, hhmm))
        process_batch(
            world.engine,
            [Message("kc/v1/GATE/punch", body, local(DAY, "17:10"))],
            devices,
            timedelta(minutes=5),
        )
    with db_session(world.engine) as db:
        enqueue(db, [(world.people["e2"], DAY)], "test")
    rules = RecomputeWorker(
        world.engine, RulesDirectory(max_age_s=0), clock=lambda: NEXT_MORNING.astimezone(UTC)
    )
    rules.drain()
    missing_out = world.violation_id("e2", "missing_out")
    missing_in = world.violation_id("e2", "missing_in")
    assert missing_out and missing_in
    client = person(world, "e2")
    form = client.get(f"/cua-toi/bo-sung-gio-cham?ngay=23/11/2026&vi_pham={missing_out}")
    # The violation suggests which punch was forgotten; every side of each session is offered.
    assert (
        '<option value="out:morning" selected>Quên chấm công ra (buổi sáng)</option>' in form.text
    )
    assert "Quên chấm công vào (buổi chiều)" in form.text
    data = {
        "ngay": "23/11/2026",
        "gio": "11:35",
        "note": "Ra ăn trưa quên chấm",
        "vi_pham": str(missing_out),
        "csrf": csrf_of(form.text),
    }
    unsaid = client.post("/cua-toi/bo-sung-gio-cham", data=data)
    assert unsaid.status_code == 400 and "Hãy chọn lượt chấm bị quên" in unsaid.text
    outside = client.post(
        "/cua-toi/bo-sung-gio-cham", data={**data, "luot": "out:morning", "gio": "16:00"}
    )
    assert outside.status_code == 400
    assert (
        "Giờ 16:00 không thuộc buổi sáng (giờ chấm của buổi này từ 05:30 đến 15:30" in outside.text
    )
    assert 'value="out:morning" selected' in outside.text  # the choice is kept on error
    sent = client.post(
        "/cua-toi/bo-sung-gio-cham", data={**data, "luot": "out:morning"}, follow_redirects=False
    )
    assert sent.status_code == 303, sent.text
    request_id = only_request_id(world)
    boss = head(world)
    page = boss.get(f"/de-nghi/{request_id}")
    assert "Quên chấm công ra (buổi sáng)" in page.text and "23/11/2026 11:35" in page.text
    decided = boss.post(
        f"/de-nghi/{request_id}/quyet-dinh",
        data={"decision": "approved", "note": "", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    rules.drain()
    with db_session(world.engine) as db:
        manual = db.scalar(select(ManualPunch).where(ManualPunch.request_id == request_id))
        assert manual is not None and manual.session == "morning"
        punch = db.get(Punch, manual.punch_id)
        assert punch is not None and punch.direction == "out"
        withdrawn = db.get(ViolationRecord, missing_out)
        assert withdrawn is not None and not withdrawn.active
        still = db.get(ViolationRecord, missing_in)
        assert still is not None and still.active and still.session == "afternoon"
        active = db.scalars(
            select(ViolationRecord.kind).where(
                ViolationRecord.employee_id == world.people["e2"], ViolationRecord.active
            )
        ).all()
        assert active == ["missing_in"]


def test_leave_approved_becomes_an_approved_excuse(world: World) -> None:
    client = person(world, "e1")
    form = client.get("/cua-toi/xin-nghi")
    sent = client.post(
        "/cua-toi/xin-nghi",
        data={
            "loai": "leave",
            "excuse_kind": "annual_leave",
            "tu": "30/11/2026",
            "den": "01/12/2026",
            "note": "Việc gia đình",
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    request_id = only_request_id(world)
    boss = head(world)
    page = boss.get(f"/de-nghi/{request_id}")
    assert "Nghỉ phép năm" in page.text and "30/11/2026 – 01/12/2026" in page.text
    boss.post(
        f"/de-nghi/{request_id}/quyet-dinh",
        data={"decision": "approved", "csrf": csrf_of(page.text)},
    )
    leave = world.get("admin", "/api/excuses").json()
    assert any(
        x["employee_code"] == "e1" and x["status"] == "approved" and x["kind"] == "annual_leave"
        for x in (leave if isinstance(leave, list) else leave.get("items", []))
    )


def test_the_person_is_emailed_the_head_s_decision_with_a_link_to_their_requests(
    world: World,
) -> None:
    """The decision is queued in the decision's transaction (services/events.py) and sent by
    the outbox's sender through a real SMTP server (aiosmtpd)."""
    with db_session(world.engine) as db:
        db.execute(
            update(Employee).where(Employee.id == world.people["e1"]).values(email="e1@so.gov.vn")
        )
    late = world.violation_id("e1", "late")
    client = person(world, "e1")
    explain(client, late, None)
    boss = head(world)
    request_id = only_request_id(world)
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # not on sending
    refused = boss.post(
        f"/de-nghi/{request_id}/quyet-dinh",
        data={
            "decision": "refused",
            "note": "Không có giấy mời",
            "csrf": csrf_of(boss.get("/de-nghi").text),
        },
        follow_redirects=False,
    )
    assert refused.status_code == 303
    with smtp_server() as sink:
        smtp_sender(sink.port, world.engine).drain()
    [mail] = sink.messages
    assert mail["To"] == "e1@so.gov.vn"
    assert "Giải trình: Đi muộn, ngày" in str(mail["Subject"]) and "Không duyệt" in str(
        mail["Subject"]
    )
    text = body_text(mail)
    assert "Kính gửi Trần Văn e1," in text and "Ý kiến: Không có giấy mời" in text
    assert "/cua-toi/de-nghi" in text


def test_a_person_chooses_their_address_channel_and_quiet_hours_on_a_page(world: World) -> None:
    client = person(world, "e1")
    form = client.get("/nhan-thong-bao")
    assert form.status_code == 200 and "Giờ yên lặng" in form.text and "21:00–06:30" in form.text
    token = csrf_of(form.text)
    wrong = client.post(
        "/nhan-thong-bao",
        data={"email": "e1-at-example", "kenh": "email", "yen_lang": "default", "csrf": token},
    )
    # Refused beside its field, what was typed kept, nothing saved.
    assert wrong.status_code == 400
    assert 'id="email-error"' in wrong.text and "không hợp lệ" in wrong.text
    assert 'value="e1-at-example"' in wrong.text
    with db_session(world.engine) as db:
        e1 = db.scalars(select(Employee).where(Employee.code == "e1")).one()
        assert e1.email is None
        assert db.get(NotificationPreference, f"employee:{e1.id}") is None
    saved = client.post(
        "/nhan-thong-bao",
        data={
            "email": "e1@so-noi-vu.gov.vn",
            "dien_thoai": "0912 345 678",
            "kenh": "email",
            "yen_lang": "rieng",
            "tu_gio": "22:00",
            "den_gio": "06:00",
            "csrf": token,
        },
    )
    assert saved.status_code == 200 and "Đã lưu cài đặt nhận thông báo" in saved.text
    assert 'value="22:00"' in saved.text and 'value="e1@so-noi-vu.gov.vn"' in saved.text
    with db_session(world.engine) as db:
        e1 = db.scalars(select(Employee).where(Employee.code == "e1")).one()
        pref = db.get(NotificationPreference, f"employee:{e1.id}")
        assert e1.email == "e1@so-noi-vu.gov.vn" and e1.phone == "0912 345 678"
        assert pref is not None and (pref.channel, pref.quiet_from, pref.quiet_to) == (
            "email",
            "22:00",
            "06:00",
        )
    half = client.post(
        "/nhan-thong-bao",
        data={
            "email": "e1@so-noi-vu.gov.vn",
            "yen_lang": "rieng",
            "tu_gio": "22:00",
            "csrf": token,
        },
    )
    assert half.status_code == 400 and 'id="tu_gio-error"' in half.text
    # A unit head's choices are their account's (digests go to it), not a person's.
    boss = head(world)
    done = boss.post(
        "/nhan-thong-bao",
        data={
            "kenh": "auto",
            "yen_lang": "none",
            "csrf": csrf_of(boss.get("/nhan-thong-bao").text),
        },
    )
    assert done.status_code == 200
    with db_session(world.engine) as db:
        account = db.scalars(select(User).where(User.username == "head_a1")).one()
        pref = db.get(NotificationPreference, f"user:{account.id}")
        assert pref is not None and pref.quiet_from == pref.quiet_to == "00:00"
    assert (
        TestClient(world.client.app).get("/nhan-thong-bao", follow_redirects=False).status_code
        == 303
    )


def test_deciding_many_says_why_a_request_was_not_decided(world: World) -> None:
    """Review 12c: "Không duyệt" for the ticked requests without a note said only "Đã lưu
    quyết định cho 0/1 đề nghị", never why; the head must see the reason on the page."""
    client = person(world, "e1")
    explain(client, world.violation_id("e1", "late"))
    request_id = only_request_id(world)
    boss = head(world)
    token = csrf_of(boss.get("/de-nghi").text)
    answer = boss.post(
        "/de-nghi/quyet-dinh-nhieu",
        data={"ids": [str(request_id)], "decision": "refused", "csrf": token},
    )
    assert answer.status_code == 400
    assert "0/1" in answer.text and "Cần ghi lý do khi không duyệt" in answer.text
    assert "Trần Văn e1" in answer.text  # the queue is still there to fix and resend


def _explanation_outcome(
    world: World, request_id: int
) -> tuple[str, list[tuple[str, str, str | None, str]], list[str]]:
    """The request's status, its steps (by, action, before, after), and the keys of the
    notices queued about it."""
    with db_session(world.engine) as db:
        request = db.get(StaffRequest, request_id)
        assert request is not None
        steps = [
            (s.by, s.action, s.before, s.after)
            for s in db.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        ]
        notices = list(
            db.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.dedupe_key.like(f"request:{request_id}:%")
                )
            )
        )
        return request.status, steps, notices


@pytest.mark.parametrize(
    ("decision", "reason_kind", "status", "said"),
    [
        ("excused", "outside_meeting", "approved", "Có lý do (Họp, hội nghị bên ngoài)"),
        ("dismissed", "", "approved", "Bỏ qua"),
        ("confirmed", "", "refused", "Xác nhận"),
    ],
)
def test_deciding_the_violation_directly_answers_its_pending_explanation(
    world: World, decision: str, reason_kind: str, status: str, said: str
) -> None:
    """Review 12d: the head decided the violation on its own page while the giải trình
    waited; the request stayed "Chờ duyệt" forever. The review answers it: the request
    takes the outcome, the step says who and when, the person is told once."""
    late = world.violation_id("e1", "late")
    client = person(world, "e1")
    explain(client, late)
    request_id = only_request_id(world)
    boss = head(world)
    page = boss.get(f"/vi-pham/{late}")
    assert "quyết định này cũng trả lời giải trình" in page.text
    decided = boss.post(
        f"/vi-pham/{late}/xu-ly",
        data={
            "decision": decision,
            "reason_kind": reason_kind,
            "note": "Đã xem",
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    got, steps, notices = _explanation_outcome(world, request_id)
    assert got == status
    assert steps == [
        ("e1", "created", None, "pending"),
        ("head_a1", "by_review", "pending", status),
    ]
    assert notices == [f"request:{request_id}:{status}"]
    with db_session(world.engine) as db:
        request = db.get(StaffRequest, request_id)
        assert request is not None and request.decided_by == "head_a1"
        assert request.decided_at is not None
        assert said in request.decision_note and "Đã xem" in request.decision_note
    assert f'value="{request_id}"' not in boss.get("/de-nghi").text  # nothing left to decide
    shown = boss.get(f"/de-nghi/{request_id}")
    assert "Xử lý trực tiếp vi phạm" in shown.text and said in shown.text
    mine = client.get("/cua-toi/de-nghi")
    assert REQUEST_STATUS_LABELS[status] in mine.text and said in mine.text
    # A later change of mind is a new review. When it keeps the outcome, the answered request
    # and its notice stay as they are; when it turns it over (review 12e: "Đã duyệt" beside a
    # confirmed violation), the answer is superseded by a recorded step and told once.
    again = boss.post(
        f"/vi-pham/{late}/xu-ly",
        data={"decision": "confirmed", "note": "", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303
    if status == "refused":
        assert _explanation_outcome(world, request_id) == (got, steps, notices)
    else:
        assert _explanation_outcome(world, request_id) == (
            "refused",
            [*steps, ("head_a1", "by_review", "approved", "refused")],
            [*notices, f"request:{request_id}:refused"],
        )
        assert REQUEST_STATUS_LABELS["refused"] in client.get("/cua-toi/de-nghi").text


def test_a_bulk_review_through_the_api_answers_only_the_explained_violation(
    world: World,
) -> None:
    late = world.violation_id("e1", "late")
    absent = world.violation_id("e2", "absent")
    explain(person(world, "e1"), late)
    request_id = only_request_id(world)
    answer = world.client.post(
        "/api/violations/reviews",
        headers=world.headers("head_a1"),
        json={"ids": [late, absent], "decision": "confirmed", "note": ""},
    )
    assert answer.status_code == 200 and all(r["ok"] for r in answer.json())
    status, steps, notices = _explanation_outcome(world, request_id)
    assert status == "refused" and steps[-1] == ("head_a1", "by_review", "pending", "refused")
    assert notices == [f"request:{request_id}:refused"]
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(StaffRequest)) == 1
        assert (
            db.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "request_decided")
            )
            == 1
        )


def test_a_pending_forgotten_punch_request_waits_for_its_own_decision(world: World) -> None:
    """A forgotten punch claims a fact only its approval adds: the review leaves it pending."""
    absent = world.violation_id("e2", "absent")
    client = person(world, "e2")
    form = client.get(f"/cua-toi/bo-sung-gio-cham?ngay=23/11/2026&vi_pham={absent}")
    sent = client.post(
        "/cua-toi/bo-sung-gio-cham",
        data={
            "ngay": "23/11/2026",
            "gio": "07:25",
            "luot": "in:morning",
            "note": "Máy chấm công lỗi",
            "vi_pham": str(absent),
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    request_id = only_request_id(world)
    answer = world.client.post(
        f"/api/violations/{absent}/review",
        headers=world.headers("head_a1"),
        json={"decision": "confirmed", "note": ""},
    )
    assert answer.status_code == 200
    assert _explanation_outcome(world, request_id) == (
        "pending",
        [("e2", "created", None, "pending")],
        [],
    )


def _ask_leave(client: TestClient, kind: str, first: str, last: str) -> httpx.Response:
    form = client.get("/cua-toi/xin-nghi")
    sent: httpx.Response = client.post(
        "/cua-toi/xin-nghi",
        data={
            "loai": "trip" if kind in ("business_trip", "training") else "leave",
            "excuse_kind": kind,
            "tu": first,
            "den": last,
            "note": "Việc riêng",
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    return sent


def test_leave_for_a_past_day_is_refused_after_the_giai_trinh_deadline(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 12d: xin nghỉ / công tác could be filed for any past date. Today is Tuesday
    24/11/2026 (Ngày Văn hóa Việt Nam, a day off): a day is open until 3 working days after
    it, so Thursday 19/11 (→ 20, 23, 25/11) still is, Wednesday 18/11 (→ 19, 20, 23/11) not."""
    client = person(world, "e1")
    form = client.get("/cua-toi/xin-nghi")
    assert "gửi chậm nhất 3 ngày làm việc sau ngày bắt đầu" in form.text
    assert _ask_leave(client, "annual_leave", "19/11/2026", "19/11/2026").status_code == 303
    late = _ask_leave(client, "business_trip", "18/11/2026", "20/11/2026")
    assert late.status_code == 400
    assert (
        "Đã quá hạn gửi: đề nghị cho ngày đã qua gửi chậm nhất 3 ngày làm việc sau ngày bắt "
        "đầu nghỉ (18/11/2026), tức là hết ngày 23/11/2026" in late.text
    )
    assert 'value="18/11/2026"' in late.text  # nothing typed is lost
    # Sick leave may be registered after the fact: its window runs from its last day.
    assert _ask_leave(client, "sick_leave", "16/11/2026", "23/11/2026").status_code == 303
    assert _ask_leave(client, "annual_leave", "16/11/2026", "23/11/2026").status_code == 400
    sick = _ask_leave(client, "sick_leave", "16/11/2026", "18/11/2026")
    assert sick.status_code == 400
    assert "sau ngày cuối của đợt nghỉ (18/11/2026)" in sick.text
    # The window is the agency's setting (KC_LEAVE_BACKDATE_WORKING_DAYS).
    settings = world.client.app.state.context.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "leave_backdate_working_days", 4)
    assert _ask_leave(client, "business_trip", "18/11/2026", "20/11/2026").status_code == 303
    with db_session(world.engine) as db:
        kept = db.scalars(select(StaffRequest.first_day).order_by(StaffRequest.id)).all()
    assert [f"{d:%d/%m}" for d in kept] == ["19/11", "16/11", "18/11"]


def test_leave_ahead_is_allowed_up_to_a_year(world: World) -> None:
    client = person(world, "e1")
    # 24/11/2026 + 366 days = 25/11/2027
    assert _ask_leave(client, "maternity", "01/06/2027", "25/11/2027").status_code == 303
    far = _ask_leave(client, "annual_leave", "20/11/2027", "26/11/2027")
    assert far.status_code == 400
    assert "Chỉ gửi được đề nghị cho những ngày từ nay đến hết ngày 25/11/2027" in far.text
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(StaffRequest)) == 1


def _my_row(page: str, day: str) -> str:
    """The month table's row of ``day`` ("25/11/2026")."""
    row = page.split(f"{day}</strong>", 1)[1].split("</tr>", 1)[0]
    return row


def test_my_month_shows_days_to_come_as_such_and_counts_only_days_lived(world: World) -> None:
    """Review 12d: future weekdays showed "—" like something wrong, an approved leave next
    week was already in the totals, and the legend listed "H" twice. Today is 24/11/2026."""
    client = person(world, "e1")
    sent = _ask_leave(client, "annual_leave", "30/11/2026", "30/11/2026")
    assert sent.status_code == 303
    boss = head(world)
    page = boss.get(f"/de-nghi/{only_request_id(world)}")
    boss.post(
        f"/de-nghi/{only_request_id(world)}/quyet-dinh",
        data={"decision": "approved", "csrf": csrf_of(page.text)},
    )
    world.worker.drain()
    with db_session(world.engine) as db:
        whole = db.scalars(
            select(PersonMonth).where(PersonMonth.employee_id == world.people["e1"])
        ).one()
        assert whole.excused_leave == 1.0  # the month's row counts the leave to come
    month = client.get("/cua-toi?thang=11&nam=2026").text
    assert "Chưa đến" in _my_row(month, "25/11/2026")  # a Wednesday to come
    assert "Nghỉ hằng tuần" in _my_row(month, "28/11/2026")  # a Saturday
    assert "Ngày Văn hóa Việt Nam" in _my_row(month, "24/11/2026")  # today, a day off
    assert "Nghỉ phép" in _my_row(month, "30/11/2026")  # the approved leave, ahead
    assert "Chưa đến" not in _my_row(month, "30/11/2026")
    assert "Đi muộn" in _my_row(month, "23/11/2026")
    assert "Chưa đến" not in _my_row(month, "20/11/2026")  # past, not judged in this world
    assert "Tính đến hết ngày 24/11/2026" in month
    assert "phép 0," in month  # the leave of 30/11 is not lived yet
    assert "Đi muộn</dt><dd>1 lượt, 20 phút" in month
    # Each symbol once in the legend, with every meaning it has.
    legend = month.split('class="card legend"', 1)[1]
    assert legend.count("<strong>H</strong>") == 1
    assert "<strong>H</strong> Học tập, tập huấn; hội nghị, họp bên ngoài" in legend
    assert legend.count("<strong>—</strong>") == 1
    # A month that is over counts as Nội vụ does; one to come has nothing yet.
    october = client.get("/cua-toi?thang=10&nam=2026").text
    assert "Tính đến hết ngày" not in october
    december = client.get("/cua-toi?thang=12&nam=2026").text
    assert "phép 0," in december and "Chưa đến" in _my_row(december, "02/12/2026")
    # Review 12: a month not begun said its totals ran "to the end of 24/11/2026".
    assert "Tính đến hết ngày" not in december
    assert "Tháng chưa bắt đầu: chưa có ngày nào được tính." in december


def test_a_direct_review_racing_the_approval_of_its_explanation_does_not_deadlock(
    world: World,
) -> None:
    """Review 12 (after ux-12): approving a giải trình locks the request, then writes the
    violation's review; a direct review wrote the review first, then locked the pending
    request, so a head approving the request while another decided the violation directly
    deadlocked (PostgreSQL aborted one of them: an error page). Both now take the request
    first: the later decision waits, finds the request answered and is recorded after it."""
    late = world.violation_id("e1", "late")
    explain(person(world, "e1"), late)
    request_id = only_request_id(world)
    now = datetime.now(UTC)
    errors: list[BaseException] = []

    def direct_review() -> None:
        try:
            with db_session(world.engine) as db:
                user = db.scalar(select(User).where(User.username == "head_a1"))
                assert user is not None
                decision = ReviewIn(decision="confirmed", note="Không chấp nhận")
                violation_service.review(db, scope_of(db, user), late, decision, now)
                db.commit()
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    with Session(world.engine) as first:
        approver = first.scalar(select(User).where(User.username == "head_a1"))
        assert approver is not None
        scope = scope_of(first, approver)
        # The approval has its request locked when the direct review starts.
        first.get(StaffRequest, request_id, with_for_update=True)
        other = threading.Thread(target=direct_review)
        other.start()
        waiting = 0
        with world.engine.connect() as watch:
            for _ in range(600):
                waiting = int(
                    watch.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND datname = current_database()"
                        )
                    ).scalar_one()
                )
                if waiting or not other.is_alive():
                    break
                watch.rollback()
                threading.Event().wait(0.05)
        assert waiting == 1, "the direct review never waited for the request's lock"
        try:
            request_service.decide(first, scope, request_id, "approved", "Đồng ý", now)
            first.commit()
        except BaseException as exc:  # the test reports it below
            errors.append(exc)
            first.rollback()
        other.join(60)
    assert not other.is_alive()
    assert errors == []
    status, steps, notices = _explanation_outcome(world, request_id)
    # The later decision (confirmed) supersedes the approval, recorded as its own step.
    assert status == "refused"
    assert steps == [
        ("e1", "created", None, "pending"),
        ("head_a1", "approved", "pending", "approved"),
        ("head_a1", "by_review", "approved", "refused"),
    ]
    assert notices == [f"request:{request_id}:approved", f"request:{request_id}:refused"]
    with db_session(world.engine) as db:
        violation = db.get(ViolationRecord, late)
        assert violation is not None
        state = db.get(
            ReviewState, (violation.employee_id, violation.day, violation.session, violation.kind)
        )
        assert state is not None and state.decision == "confirmed"  # the later decision
