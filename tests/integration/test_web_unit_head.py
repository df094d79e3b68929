"""The unit head's and Nội vụ's pages beyond the first journey, against the real PostgreSQL:
the month grid with days off and a day's punches, the person picker of the queue, the
failures of a bulk decision, review history by name, the summary's charts with their
tables, and HTML error pages for browser addresses (JSON for /api)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select, update

from services import people
from store.db import db_session
from store.models import Agency, CalendarDay, DayRecord, User, ViolationRecord
from tests.integration.test_api import World, build_world, world_settings
from tests.integration.test_web_pages import unit_id
from tests.signin import browser, csrf_of, signed_in


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def test_the_month_grid_marks_weekends_and_the_agencys_days_off(world: World) -> None:
    with db_session(world.engine) as db:
        agency = db.scalar(select(Agency.id).where(Agency.code == "A"))
        db.add(CalendarDay(agency_id=agency, day=date(2026, 11, 20), kind="off", name="Nghỉ bù"))
    client = signed_in(world, "head_a1")
    grid = client.get("/bang-thang", params={"don_vi": unit_id(world, "A1"), "thang": "11"})
    assert grid.status_code == 200
    # 21 and 22/11/2026 are a Saturday and a Sunday; the 20th is the agency's day off
    assert re.search(r'<th scope="col" class="weekend"><span>21</span>', grid.text)
    assert re.search(r'<th scope="col" class="holiday" title="Nghỉ bù"><span>20</span>', grid.text)
    e1 = world.people["e1"]
    sunday = re.search(rf'can_bo={e1}&ngay=22/11/2026" title="([^"]*)">—</a>', grid.text)
    assert sunday and "Nghỉ hằng tuần" in sunday.group(1)
    assert re.search(rf'can_bo={e1}&ngay=20/11/2026" title="[^"]*Nghỉ bù">L</a>', grid.text)
    assert "M:1" in grid.text and "—:" not in grid.text  # days off are not totalled


def test_the_grid_tells_a_meeting_from_a_trip_and_its_key_names_each_symbol_once(
    world: World,
) -> None:
    e1, e2 = world.people["e1"], world.people["e2"]
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with db_session(world.engine) as db:
        for employee, unit, kind in ((e1, "A1", "outside_meeting"), (e2, "A1a", "business_trip")):
            db.add(
                DayRecord(
                    employee_id=employee,
                    day=date(2026, 11, 24),
                    unit_id=unit_id(world, unit),
                    status="on_leave",
                    excused_kind=kind,
                    computed_at=now,
                )
            )
    client = signed_in(world, "head_a1")
    month = {"thang": "11", "nam": "2026"}
    grid = client.get("/bang-thang", params=month | {"don_vi": unit_id(world, "A1")})
    assert grid.status_code == 200
    assert re.search(rf'can_bo={e1}&ngay=24/11/2026" title="[^"]*">H</a>', grid.text)
    other = client.get("/bang-thang", params=month | {"don_vi": unit_id(world, "A1a")})
    assert re.search(rf'can_bo={e2}&ngay=24/11/2026" title="[^"]*">CT</a>', other.text)
    key = re.findall(r"<li><strong>([^<]+)</strong>", grid.text.split("Ký hiệu")[1])
    assert len(key) == len(set(key)), key  # one line per symbol: no "CT" meaning two things
    assert "<strong>H</strong> Học tập, tập huấn; hội nghị, họp bên ngoài" in grid.text


def test_a_grid_cell_opens_the_days_punches_in_local_time_and_its_violations(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    e1 = world.people["e1"]
    day = client.get("/bang-thang/ngay", params={"can_bo": e1, "ngay": "23/11/2026"})
    assert day.status_code == 200
    assert "Trần Văn e1 · Thứ Hai, 23/11/2026" in day.text
    assert "07:50 · GATE" in day.text  # 00:50Z read as Hà Nội time, with its gate
    late = world.violation_id("e1", "late")
    assert f'<a href="/vi-pham/{late}">Đi muộn 20 phút</a>' in day.text
    other = client.get(
        "/bang-thang/ngay", params={"can_bo": world.people["e3"], "ngay": "23/11/2026"}
    )
    assert other.status_code == 404 and "nằm ngoài phạm vi" in other.text
    wrong = client.get("/bang-thang/ngay", params={"can_bo": e1, "ngay": "32/11/2026"})
    assert wrong.status_code == 400 and "dd/mm/yyyy" in wrong.text


def test_a_unit_head_picks_a_person_of_their_units_from_a_list(world: World) -> None:
    client = signed_in(world, "head_a1")
    queue = client.get("/vi-pham", params={"xu_ly": "all"})
    picker = re.search(r'<select id="can_bo" name="can_bo">(.*?)</select>', queue.text, re.S)
    assert picker, "no person list on the queue"
    assert "Trần Văn e1 (e1)" in picker.group(1) and "Trần Văn e2 (e2)" in picker.group(1)
    assert "Trần Văn e3" not in picker.group(1)  # another unit
    assert '<optgroup label="Văn phòng Sở">' in picker.group(1)
    only = client.get("/vi-pham", params={"xu_ly": "all", "can_bo": world.people["e1"]})
    assert "Đang xem vi phạm của <strong>Trần Văn e1</strong>" in only.text
    assert "Đi muộn 20 phút" in only.text and "Vắng" not in only.text.split("</form>")[-1]
    outside = client.get("/vi-pham", params={"can_bo": world.people["e3"]})
    assert outside.status_code == 404


def test_noi_vu_finds_a_person_by_name_without_diacritics_or_by_code(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(people, "LIST_LIMIT", 1)  # a province: too many for one list
    client = signed_in(world, "noivu_a")
    queue = client.get("/vi-pham", params={"xu_ly": "all"})
    assert '<input id="tim" name="tim"' in queue.text and 'id="can_bo"' not in queue.text
    found = client.get("/vi-pham", params={"xu_ly": "all", "tim": "tran van e3"})
    assert found.status_code == 200
    assert "Đang xem vi phạm của <strong>Trần Văn e3</strong>" in found.text
    assert "Đi muộn 15 phút" in found.text and "Đi muộn 20 phút" not in found.text
    assert 'name="tim" value="e3"' in found.text  # the form keeps the choice
    several = client.get("/vi-pham", params={"xu_ly": "all", "tim": "Trần"})
    assert "cán bộ phù hợp với “Trần” — chọn một người" in several.text
    assert f"can_bo={world.people['e1']}" in several.text
    assert "Đi muộn 20 phút" not in several.text  # no queue until one is chosen
    none = client.get("/vi-pham", params={"tim": "e4"})  # agency B: outside the scope
    assert none.status_code == 400 and "Không có cán bộ nào có tên hoặc mã “e4”" in none.text


def test_a_bulk_decision_names_each_row_it_could_not_save_and_why(world: World) -> None:
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    absent = world.violation_id("e2", "absent")
    theirs = world.violation_id("e3", "late")
    queue = client.get("/vi-pham")
    with db_session(world.engine) as db:  # the runner withdrew it after the page was read
        db.execute(update(ViolationRecord).where(ViolationRecord.id == absent).values(active=False))
    done = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={"ids": [late, absent, theirs], "decision": "confirmed", "csrf": csrf_of(queue.text)},
    )
    assert done.status_code == 200
    assert "Đã lưu quyết định cho 1/3 vi phạm." in done.text
    assert "Không lưu được 2 vi phạm:" in done.text
    assert re.search(
        rf'<a href="/vi-pham/{absent}">Vắng mặt[^<]*Trần Văn e2, ngày 23/11/2026[^<]*</a>: '
        r"đã được thu hồi",
        done.text,
    )
    assert f"Vi phạm số {theirs}: không tồn tại hoặc nằm ngoài phạm vi của bạn" in done.text
    assert "Trần Văn e3" not in done.text  # another unit's row is not described


def test_the_review_history_shows_who_decided_by_full_name(world: World) -> None:
    with db_session(world.engine) as db:
        db.execute(update(User).where(User.username == "head_a1").values(full_name="Lê Thị Hoa"))
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    page = client.get(f"/vi-pham/{late}")
    client.post(
        f"/vi-pham/{late}/xu-ly", data={"decision": "confirmed", "csrf": csrf_of(page.text)}
    )
    history = client.get(f"/vi-pham/{late}").text.split("Lịch sử")[-1]
    assert "Lê Thị Hoa: Chưa xử lý → <strong>Xác nhận</strong>" in history
    assert "head_a1" not in history


def test_the_summary_draws_the_trend_and_lateness_with_tables(world: World) -> None:
    client = signed_in(world, "noivu_a")
    params = {"ky": "month", "nam": "2026", "thang": "11"}
    page = client.get("/bao-cao", params=params)
    assert page.status_code == 200
    for name in ("xu-huong", "theo-thu", "theo-phut"):
        src = re.search(rf'<img src="(/bao-cao/bieu-do-{name}\.svg\?[^"]+)"', page.text)
        assert src, name
        chart = client.get(src.group(1).replace("&amp;", "&"))
        assert chart.status_code == 200 and chart.headers["content-type"].startswith(
            "image/svg+xml"
        )
        assert "<svg" in chart.text and "<script" not in chart.text
        assert "style-src 'unsafe-inline'" in chart.headers["content-security-policy"]
    # the tables: 12 months up to 11/2026; late arrivals on Monday 23/11 (20 and 15 minutes)
    assert '<th scope="row">12/2025</th>' in page.text
    assert '<th scope="row">11/2026</th>' in page.text
    assert re.search(r'<th scope="row">Thứ Hai</th><td>2</td>', page.text)
    assert re.search(r'<th scope="row">16–30 phút</th><td>1</td>', page.text)
    assert re.search(r'<th scope="row">6–15 phút</th><td>1</td>', page.text)
    rate = re.search(r'<th scope="row">11/2026</th><td>([\d.,]+)</td>', page.text)
    assert rate and float(rate.group(1).replace(",", ".")) > 0
    weekday = client.get("/bao-cao/bieu-do-theo-thu.svg", params=params)
    assert "Thứ Hai" in weekday.text
    assert client.get("/bao-cao/bieu-do-khac.svg").status_code == 404
    # a period that ends in December: its 12 months are that year's, not 13 from December before
    year = client.get("/bao-cao/bieu-do-xu-huong.svg", params={"ky": "year", "nam": "2025"})
    labels = re.findall(r">(\d\d/\d\d)</text>", year.text)
    assert labels == [f"{m:02d}/25" for m in range(1, 13)], labels
    assert browser(world).get("/bao-cao/bieu-do-xu-huong.svg").status_code == 401


def test_browser_addresses_get_html_error_pages_and_the_api_keeps_json(world: World) -> None:
    stranger = browser(world)
    lost = stranger.get("/khong-co-trang-nay")
    assert lost.status_code == 404 and lost.headers["content-type"].startswith("text/html")
    assert "<h1>Không tìm thấy</h1>" in lost.text and "Quay lại trang trước" in lost.text
    api = stranger.get("/api/khong-co")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    wrong_method = stranger.post("/vi-pham")
    assert wrong_method.status_code == 405 and "Thao tác không được hỗ trợ" in wrong_method.text
    assert wrong_method.headers["allow"] == "GET"
    long_name = stranger.post("/dang-nhap", data={"username": "x" * 65, "password": "p"})
    assert long_name.status_code == 422 and "Dữ liệu không hợp lệ" in long_name.text
    assert long_name.headers["content-type"].startswith("text/html")
    assert stranger.post("/api/auth/token", data={}).status_code == 422  # JSON, as before
    icon = stranger.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    client = signed_in(world, "head_a1")
    back = client.get("/khong-co", headers={"referer": "http://testserver/hom-nay"})
    assert '<a href="/hom-nay">← Quay lại trang trước</a>' in back.text
    assert 'href="/vi-pham">Vi phạm</a>' in back.text  # the menu of the signed-in visitor
    bad = client.get("/bao-cao/tai-ve", params={"thang": "13"})  # a link: no field to mark
    assert bad.status_code == 400 and "<h1>Dữ liệu không hợp lệ</h1>" in bad.text
    missing = client.get(f"/vi-pham/{world.violation_id('e3', 'late')}")
    assert missing.status_code == 404 and "<h1>Không tìm thấy</h1>" in missing.text


def test_a_date_that_cannot_be_read_is_shown_beside_its_field_in_the_queue(world: World) -> None:
    client = signed_in(world, "head_a1")
    wrong = client.get("/vi-pham", params={"tu": "31/02/2026", "den": "30/11/2026"})
    assert wrong.status_code == 400
    beside = re.search(
        r'<input id="tu" name="tu" value="31/02/2026"[^>]* aria-invalid="true" '
        r'aria-describedby="tu-error"><p class="field-error" id="tu-error" role="alert">'
        r"“31/02/2026” không phải ngày hợp lệ \(nhập dạng dd/mm/yyyy",
        wrong.text,
    )
    assert beside, "the message is not beside the field it is about"
    assert 'id="den-error"' not in wrong.text and 'value="30/11/2026"' in wrong.text
    backwards = client.get("/vi-pham", params={"tu": "30/11/2026", "den": "01/11/2026"})
    assert backwards.status_code == 400
    assert re.search(
        r'aria-describedby="den-error"><p class="field-error" id="den-error" role="alert">'
        r"Ngày kết thúc phải sau hoặc bằng ngày bắt đầu",
        backwards.text,
    )


def test_a_broken_next_page_link_says_what_to_do_in_plain_words(world: World) -> None:
    broken = signed_in(world, "head_a1").get("/vi-pham", params={"trang": "khong-hop-le"})
    assert broken.status_code == 400
    assert "Hãy mở lại danh sách từ trang đầu." in broken.text
    assert "Con trỏ" not in broken.text  # a programmer's word, not a unit head's


RLO_NOTE = "Đi họp\u202egnàt uàb"  # U+202E reverses what follows when others read it


def test_a_review_note_with_a_bidi_override_is_refused_on_the_page_and_by_the_api(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    page = client.get(f"/vi-pham/{late}")
    refused = client.post(
        f"/vi-pham/{late}/xu-ly",
        data={"decision": "confirmed", "note": RLO_NOTE, "csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 400
    assert "Có ký tự điều khiển ẩn (U+202E)" in refused.text
    queue = client.get("/vi-pham")
    bulk = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={
            "ids": [late],
            "decision": "confirmed",
            "note": RLO_NOTE,
            "csrf": csrf_of(queue.text),
        },
    )
    assert bulk.status_code == 400
    assert re.search(
        r'id="bulk-note-error" role="alert">Có ký tự điều khiển ẩn \(U\+202E\)', bulk.text
    )
    api = world.client.post(
        f"/api/violations/{late}/review",
        headers=world.headers("head_a1"),
        json={"decision": "confirmed", "note": RLO_NOTE},
    )
    assert api.status_code == 422
    assert api.json()["error"]["code"] == "hidden_characters"
    assert "U+202E" in api.json()["error"]["message"]
    # nothing was decided by any of the three
    assert world.get("head_a1", f"/api/violations/{late}").json()["review_label"] == "Chưa xử lý"
    # the same note typed plainly, with a browser's CRLF, is saved with one newline
    kept = world.client.post(
        f"/api/violations/{late}/review",
        headers=world.headers("head_a1"),
        json={"decision": "confirmed", "note": "Đi họp\r\ntại tỉnh"},
    )
    assert kept.status_code == 200 and kept.json()["note"] == "Đi họp\ntại tỉnh"


def test_an_excuse_note_with_a_control_character_is_refused_on_the_page_and_by_the_api(
    world: World,
) -> None:
    form = {
        "employee": "e1",
        "kind": "annual_leave",
        "first_day": "26/11/2026",
        "note": "Nghỉ\x1b[2J phép",
    }
    client = signed_in(world, "hr_a")
    page = client.get("/nghi-phep/moi")
    refused = client.post("/nghi-phep/moi", data=form | {"csrf": csrf_of(page.text)})
    assert refused.status_code == 400
    assert re.search(
        r'id="note-error" role="alert">Có ký tự điều khiển ẩn \(U\+001B\)', refused.text
    )
    api = world.client.post(
        "/api/excuses",
        headers=world.headers("hr_a"),
        json={
            "employee_code": "e1",
            "kind": "annual_leave",
            "first_day": "2026-11-26",
            "last_day": "2026-11-26",
            "note": "a\u2067b",
        },
    )
    assert api.status_code == 422 and "U+2067" in api.json()["error"]["message"]


def test_a_present_day_with_a_missing_punch_is_not_shown_as_on_time(world: World) -> None:
    """Review try-it 7: "+" reads "Có mặt đúng giờ", so a day with only the morning punch
    (a missing punch stands) is "+*" in the grid, named in the key, and counted with "+"."""
    from datetime import timedelta

    from ingest.pipeline import DeviceDirectory, Message, process_batch
    from runner.directory import RulesDirectory
    from runner.worker import RecomputeWorker
    from store.queue import enqueue
    from tests.factories import punch_payload
    from tests.unit.days import local

    day = date(2026, 11, 25)
    body = punch_payload("GATE", "only-in", "CARD-e1", local(day, "07:20"))
    process_batch(
        world.engine,
        [Message("kc/v1/GATE/punch", body, local(day, "07:21"))],
        DeviceDirectory(world.engine),
        timedelta(minutes=5),
    )
    with db_session(world.engine) as db:
        enqueue(db, [(world.people["e1"], day)], "test")
    next_morning = local(day + timedelta(days=1), "09:00").astimezone(UTC)
    RecomputeWorker(world.engine, RulesDirectory(max_age_s=0), clock=lambda: next_morning).drain()
    grid = signed_in(world, "head_a1").get(
        "/bang-thang", params={"don_vi": unit_id(world, "A1"), "thang": "11", "nam": "2026"}
    )
    e1 = world.people["e1"]
    cell = re.search(
        rf'href="/bang-thang/ngay\?can_bo={e1}&ngay=25/11/2026" title="([^"]*)">([^<]*)</a>',
        grid.text,
    )
    assert cell and cell.group(2) == "+*", cell
    assert "Vào 07:20" in cell.group(1) and "Quên chấm công ra" in cell.group(1)
    assert "<strong>+*</strong> Có mặt, có vi phạm khác" in grid.text
    assert "+*:1" in grid.text
