"""The Biểu mẫu pages against the real PostgreSQL: the bảng chấm công download in scope, the
monthly kỷ luật scores with the unit head's confirmation and adjustment, and refusals."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openpyxl
import pytest
from sqlalchemy import Engine, select

from store.db import db_session
from store.models import Unit
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import csrf_of, signed_in

NOVEMBER = "thang=11&nam=2026"


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def unit_id(world: World, code: str) -> int:
    with db_session(world.engine) as db:
        return int(db.scalars(select(Unit.id).where(Unit.code == code)).one())


def row_of(html: str, employee_id: int) -> str:
    found = re.search(rf'<tr id="p{employee_id}">(.*?)</tr>', html, re.DOTALL)
    assert found, f"no row for employee {employee_id}"
    return found.group(1)


def test_a_unit_head_downloads_the_timesheet_of_their_units_only(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get("/bieu-mau")
    assert page.status_code == 200 and "Bảng chấm công (mẫu C01a-HD)" in page.text
    assert re.search(
        r'<a href="/bieu-mau"[^>]*>Biểu mẫu</a>', page.text
    )  # in the menu of this role
    answer = client.get(f"/bieu-mau/bang-cham-cong?{NOVEMBER}&dinh_dang=xlsx")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    text = " ".join(
        str(cell)
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
    )
    assert "Trần Văn e1" in text and "Trần Văn e2" in text  # A1 and its sub-unit
    assert "Trần Văn e3" not in text and "Trần Văn e4" not in text
    pdf = client.get(f"/bieu-mau/bang-cham-cong?{NOVEMBER}&dinh_dang=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_another_units_timesheet_by_url_is_a_vietnamese_404(world: World) -> None:
    client = signed_in(world, "head_a1")
    answer = client.get(f"/bieu-mau/bang-cham-cong?{NOVEMBER}&don_vi={unit_id(world, 'A2')}")
    assert answer.status_code == 404
    assert "không tồn tại hoặc nằm ngoài phạm vi của bạn" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_a_wrong_month_is_a_vietnamese_400_not_a_500(world: World) -> None:
    client = signed_in(world, "head_a1")
    for query in ("thang=13&nam=2026", "thang=mười&nam=2026", "thang=11&nam=99999"):
        answer = client.get(f"/bieu-mau/bang-cham-cong?{query}")
        assert answer.status_code == 400, query
        assert "không hợp lệ" in answer.text or "phải là số" in answer.text


def test_a_role_without_the_right_gets_a_403_page_and_no_menu_entry(world: World) -> None:
    client = signed_in(world, "hr_a")
    answer = client.get(f"/bieu-mau/bang-cham-cong?{NOVEMBER}")
    assert answer.status_code == 403 and "không có quyền" in answer.text
    assert client.get("/diem-ky-luat").status_code == 403
    assert 'href="/bieu-mau"' not in client.get("/bieu-mau").text


def test_a_head_confirms_and_adjusts_scores_with_a_reason(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get(f"/diem-ky-luat?{NOVEMBER}")
    assert page.status_code == 200
    e1 = world.people["e1"]
    row = row_of(page.text, e1)
    assert "đi muộn 1 lần (20 phút)" in row and "Chưa xác nhận" in row
    assert "Trần Văn e3" not in page.text
    suggested = re.search(r"<strong>([\d,]+)</strong>", row)
    assert suggested
    token = csrf_of(page.text)
    form = {"csrf": token, "thang": "11", "nam": "2026", "action": "adjust", "score": "3,5"}
    refused = client.post(f"/diem-ky-luat/{e1}", data=form, follow_redirects=False)
    assert refused.status_code == 400 and "Điều chỉnh điểm cần ghi rõ lý do" in refused.text
    assert "Chưa xác nhận" in row_of(refused.text, e1)  # nothing recorded
    saved = client.post(
        f"/diem-ky-luat/{e1}",
        data={**form, "note": "Đi muộn không báo trước"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = row_of(client.get(saved.headers["location"]).text, e1)
    assert "Đã điều chỉnh" in after and "3,5" in after and "Đi muộn không báo trước" in after
    e2 = world.people["e2"]
    confirmed = client.post(
        f"/diem-ky-luat/{e2}",
        data={"csrf": token, "thang": "11", "nam": "2026"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert "Đã xác nhận" in row_of(client.get(f"/diem-ky-luat?{NOVEMBER}").text, e2)
    xlsx = client.get(f"/diem-ky-luat/tai-ve?{NOVEMBER}")
    assert xlsx.status_code == 200
    values = [
        cell
        for ws in openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
    ]
    assert 3.5 in values and "Đi muộn không báo trước" in values
    # when, in local time and dd/mm/yyyy, beside who
    assert any(
        isinstance(v, str) and re.fullmatch(r"\d\d/\d\d/20\d\d \d\d:\d\d", v) for v in values
    )


def test_scores_out_of_scope_forged_or_without_the_right_are_refused(world: World) -> None:
    client = signed_in(world, "head_a1")
    token = csrf_of(client.get(f"/diem-ky-luat?{NOVEMBER}").text)
    e3 = world.people["e3"]
    other = client.post(f"/diem-ky-luat/{e3}", data={"csrf": token, "thang": "11", "nam": "2026"})
    assert other.status_code == 404 and "nằm ngoài phạm vi" in other.text
    forged = client.post(f"/diem-ky-luat/{world.people['e1']}", data={"csrf": "x", "thang": "11"})
    assert forged.status_code == 403
    odd = client.post("/diem-ky-luat/99999999999999", data={"csrf": token})
    assert odd.status_code == 404
    reader = signed_in(world, "noivu_a")
    page = reader.get(f"/diem-ky-luat?{NOVEMBER}")
    assert page.status_code == 200 and "Trần Văn e3" in page.text
    assert "Lưu điều chỉnh" not in page.text  # Nội vụ reads, the unit head decides
    answer = reader.post(
        f"/diem-ky-luat/{e3}", data={"csrf": csrf_of(page.text), "thang": "11", "nam": "2026"}
    )
    assert answer.status_code == 403 and "không có quyền" in answer.text
