"""Leave and trips (Nghỉ phép, công tác) through the pages, against the real PostgreSQL:
the list in scope with filters, entering one, approving, cancelling after a confirmation,
importing a file; every change queues the covered days for recompute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from store.db import db_session
from store.models import ExcuseRecord, RecomputeRequest
from tests import signin
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import csrf_of


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def signed_in(world: World, username: str) -> tuple[TestClient, str]:
    client = signin.signed_in(world, username)
    return client, csrf_of(client.get("/nghi-phep").text)


def queued_days(world: World, employee: str) -> set[date]:
    with db_session(world.engine) as db:
        rows = db.scalars(
            select(RecomputeRequest.day).where(
                RecomputeRequest.employee_id == world.people[employee],
                RecomputeRequest.reason == "excuse",
            )
        )
        return set(rows)


def excuses(world: World) -> list[ExcuseRecord]:
    with db_session(world.engine) as db:
        return list(db.scalars(select(ExcuseRecord).order_by(ExcuseRecord.id)))


def listed(html: str) -> str:
    """The rows of the list (the form's list of people names everyone in scope)."""
    start = html.find('<table class="list">')
    return html[start : html.find("</table>", start)] if start >= 0 else ""


LEAVE = {
    "employee": "e1",
    "kind": "annual_leave",
    "first_day": "26/11/2026",
    "last_day": "27/11/2026",
    "session": "",
    "note": "Việc gia đình",
}


def test_a_unit_head_enters_leave_and_the_days_are_queued_for_recompute(world: World) -> None:
    client, csrf = signed_in(world, "head_a1")
    form = client.get("/nghi-phep/moi")
    assert form.status_code == 200 and "Nghỉ phép năm" in form.text
    assert '<option value="e1">' in form.text and '<option value="e3">' not in form.text
    saved = client.post("/nghi-phep/moi", data={**LEAVE, "csrf": csrf}, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert (
        "Đã ghi Nghỉ phép năm của Trần Văn e1 (26/11/2026–27/11/2026), trạng thái: Chờ duyệt."
        in page.text
    )
    assert "Các ngày này được tính lại" in page.text
    assert queued_days(world, "e1") == {date(2026, 11, 26), date(2026, 11, 27)}
    [record] = excuses(world)
    assert (record.status, record.sessions, record.created_by) == ("pending", None, "head_a1")


def test_half_a_day_is_saved_with_the_schedules_session(world: World) -> None:
    client, csrf = signed_in(world, "head_a1")
    half = {**LEAVE, "last_day": "", "session": "chiều", "kind": "business_trip"}
    client.post("/nghi-phep/moi", data={**half, "csrf": csrf})
    [record] = excuses(world)
    assert (record.first_day, record.last_day, record.sessions) == (
        date(2026, 11, 26),
        date(2026, 11, 26),
        "afternoon",
    )
    assert "Chiều" in client.get("/nghi-phep").text


def test_a_unit_head_cannot_enter_leave_for_another_units_person(world: World) -> None:
    client, csrf = signed_in(world, "head_a1")
    other = client.post("/nghi-phep/moi", data={**LEAVE, "employee": "e3", "csrf": csrf})
    assert other.status_code == 404
    assert "Cán bộ không tồn tại hoặc nằm ngoài phạm vi của bạn" in other.text
    assert excuses(world) == [] and queued_days(world, "e3") == set()


def test_bad_input_keeps_what_was_typed_and_says_what_to_fix(world: World) -> None:
    client, csrf = signed_in(world, "head_a1")
    bad_date = client.post(
        "/nghi-phep/moi", data={**LEAVE, "first_day": "31/02/2026", "csrf": csrf}
    )
    assert bad_date.status_code == 400 and (
        'id="first_day-error" role="alert">“31/02/2026” không phải ngày hợp lệ' in bad_date.text
    )
    assert "Việc gia đình" in bad_date.text  # the note is not lost
    reversed_days = client.post(
        "/nghi-phep/moi", data={**LEAVE, "last_day": "20/11/2026", "csrf": csrf}
    )
    assert reversed_days.status_code == 400
    assert "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu" in reversed_days.text
    no_kind = client.post("/nghi-phep/moi", data={**LEAVE, "kind": "vacation", "csrf": csrf})
    assert no_kind.status_code == 400 and "Hãy chọn loại nghỉ" in no_kind.text
    forged = client.post("/nghi-phep/moi", data=LEAVE)
    assert forged.status_code == 403
    assert excuses(world) == []


def test_approving_and_cancelling_recompute_the_days_and_say_so(world: World) -> None:
    client, csrf = signed_in(world, "head_a1")
    client.post("/nghi-phep/moi", data={**LEAVE, "csrf": csrf})
    [record] = excuses(world)
    with db_session(world.engine) as db:  # as if the rules runner had drained the queue
        for row in db.scalars(select(RecomputeRequest)):
            db.delete(row)
    approved = client.post(f"/nghi-phep/{record.id}/duyet", data={"csrf": csrf})
    assert approved.status_code == 200
    assert "Đã duyệt Nghỉ phép năm của Trần Văn e1 (26/11/2026–27/11/2026)." in approved.text
    assert "Các ngày này được tính lại" in approved.text
    assert queued_days(world, "e1") == {date(2026, 11, 26), date(2026, 11, 27)}
    confirm = client.get(f"/nghi-phep/{record.id}/huy")
    assert confirm.status_code == 200 and "Hủy đơn nghỉ này?" in confirm.text
    assert excuses(world)[0].status == "approved"  # the confirmation page changes nothing
    cancelled = client.post(f"/nghi-phep/{record.id}/huy", data={"csrf": csrf})
    assert "Đã hủy Nghỉ phép năm của Trần Văn e1" in cancelled.text
    assert excuses(world)[0].status == "cancelled"
    again = client.post(f"/nghi-phep/{record.id}/duyet", data={"csrf": csrf})
    assert again.status_code == 409 and "Đơn đã bị hủy, không thể thay đổi" in again.text


def test_another_units_leave_cannot_be_seen_approved_or_cancelled(world: World) -> None:
    hr, hr_csrf = signed_in(world, "hr_a")
    hr.post("/nghi-phep/moi", data={**LEAVE, "employee": "e3", "csrf": hr_csrf})
    [record] = excuses(world)
    client, csrf = signed_in(world, "head_a1")
    assert "Trần Văn e3" not in client.get("/nghi-phep").text  # not even among the names
    assert "Trần Văn e3" in listed(hr.get("/nghi-phep").text)
    for answer in (
        client.post(f"/nghi-phep/{record.id}/duyet", data={"csrf": csrf}),
        client.get(f"/nghi-phep/{record.id}/huy"),
        client.post(f"/nghi-phep/{record.id}/huy", data={"csrf": csrf}),
    ):
        assert answer.status_code == 404 and "Đơn nghỉ không tồn tại" in answer.text
    assert excuses(world)[0].status == "pending"


def test_readers_without_the_write_right_see_the_list_but_cannot_change_it(
    world: World,
) -> None:
    hr, hr_csrf = signed_in(world, "hr_a")
    hr.post("/nghi-phep/moi", data={**LEAVE, "csrf": hr_csrf})
    [record] = excuses(world)
    client, csrf = signed_in(world, "noivu_a")
    page = client.get("/nghi-phep")
    assert "Trần Văn e1" in listed(page.text) and "Duyệt</button>" not in page.text
    assert "Nhập đơn nghỉ" not in page.text
    assert client.get("/nghi-phep/moi").status_code == 403
    refused = client.post(f"/nghi-phep/{record.id}/duyet", data={"csrf": csrf})
    assert refused.status_code == 403 and "không có quyền" in refused.text
    assert client.get("/nghi-phep/nhap-tep").status_code == 403


def test_the_list_filters_by_person_kind_dates_and_state(world: World) -> None:
    hr, csrf = signed_in(world, "hr_a")
    hr.post("/nghi-phep/moi", data={**LEAVE, "csrf": csrf})
    trip = {**LEAVE, "employee": "e3", "kind": "business_trip", "first_day": "01/12/2026"}
    hr.post("/nghi-phep/moi", data={**trip, "last_day": "", "approved": "1", "csrf": csrf})
    everyone = listed(hr.get("/nghi-phep").text)
    assert "Trần Văn e1" in everyone and "Trần Văn e3" in everyone
    assert "Trần Văn e1" not in listed(hr.get("/nghi-phep", params={"can_bo": "e3"}).text)
    leave = listed(hr.get("/nghi-phep", params={"loai": "annual_leave"}).text)
    assert "Trần Văn e1" in leave and "Trần Văn e3" not in leave
    december = listed(hr.get("/nghi-phep", params={"tu": "01/12/2026", "den": "31/12/2026"}).text)
    assert "Trần Văn e3" in december and "Trần Văn e1" not in december
    approved = listed(hr.get("/nghi-phep", params={"trang_thai": "approved"}).text)
    assert "Trần Văn e3" in approved and "Trần Văn e1" not in approved
    wrong = hr.get("/nghi-phep", params={"tu": "hôm qua"})
    assert wrong.status_code == 400 and (
        'id="tu-error" role="alert">“hôm qua” không phải ngày hợp lệ' in wrong.text
    )


def test_a_file_with_a_bad_row_imports_nothing_and_a_good_one_imports_all(world: World) -> None:
    client, csrf = signed_in(world, "hr_a")
    header = "Mã cán bộ,Loại,Từ ngày,Đến ngày,Buổi,Trạng thái\n"
    good = header + "e3,Nghỉ phép năm,23/11/2026,24/11/2026,,Đã duyệt\n"
    bad = good + "e4,ốm,23/11/2026,,,\n"
    refused = client.post(
        "/nghi-phep/nhap-tep",
        data={"csrf": csrf},
        files={"file": ("nghi.csv", bad.encode(), "text/csv")},
    )
    assert refused.status_code == 400 and "chưa nhập gì" in refused.text
    assert "Dòng 3: không tìm thấy cán bộ e4" in refused.text
    assert excuses(world) == []
    unreadable = client.post(
        "/nghi-phep/nhap-tep",
        data={"csrf": csrf},
        files={"file": ("nghi.pdf", b"%PDF", "application/pdf")},
    )
    assert unreadable.status_code == 400 and "Chỉ nhận tệp .csv hoặc .xlsx" in unreadable.text
    done = client.post(
        "/nghi-phep/nhap-tep",
        data={"csrf": csrf},
        files={"file": ("nghi.csv", good.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "Đã nhập 1 đơn." in done.text
    assert queued_days(world, "e3") == {date(2026, 11, 23), date(2026, 11, 24)}
    head, head_csrf = signed_in(world, "head_a1")
    by_head = head.post(
        "/nghi-phep/nhap-tep",
        data={"csrf": head_csrf},
        files={"file": ("nghi.csv", good.encode(), "text/csv")},
    )
    assert by_head.status_code == 403
    assert len(excuses(world)) == 1
