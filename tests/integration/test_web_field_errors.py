"""Forms of the unit head's and Nội vụ's pages: a refused value is said beside its field, what
was typed is kept; a provisional result reads the same on Hôm nay and in the queue; /redoc is
a Vietnamese page pointing to the offline /docs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update

from store.db import db_session
from store.models import ViolationRecord
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import browser, csrf_of, signed_in


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def beside(html: str, field_id: str) -> str:
    """The message shown beside a field, checking the field points to it."""
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html), field_id
    found = re.search(
        rf'<p class="field-error" id="{field_id}-error" role="alert">([^<]*)</p>', html
    )
    assert found, f"no message beside {field_id}"
    return found.group(1)


def test_a_provisional_absence_reads_as_on_hom_nay_in_the_queue(world: World) -> None:
    absent = world.violation_id("e2", "absent")
    with db_session(world.engine) as db:  # judged while the reader GATE had not sent everything
        db.execute(
            update(ViolationRecord).where(ViolationRecord.id == absent).values(provisional=True)
        )
    client = signed_in(world, "head_a1")
    queue = client.get("/vi-pham")
    assert queue.status_code == 200
    assert "Tạm tính — máy chấm công GATE chưa gửi đủ dữ liệu." in queue.text
    row = re.search(rf'href="/vi-pham/{absent}">[^<]*</a>\s*(<span[^>]*>[^<]*</span>)', queue.text)
    assert row and ">Tạm tính</span>" in row.group(1)
    # the same words as the banner of Hôm nay, through the one template
    today = client.get("/hom-nay")
    assert "Tạm tính — máy chấm công GATE chưa gửi đủ dữ liệu." in today.text
    with db_session(world.engine) as db:
        db.execute(update(ViolationRecord).values(provisional=False))
    assert "Tạm tính —" not in client.get("/vi-pham").text  # no banner when nothing waits


def test_a_bulk_decision_refused_shows_the_queue_again_with_the_rows_still_ticked(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    queue = client.get("/vi-pham", params={"loai": "late"})
    ids = re.findall(r'name="ids" value="(\d+)"', queue.text)
    assert ids
    answer = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={
            "ids": ids,
            "decision": "excused",
            "note": "Họp đột xuất",
            "csrf": csrf_of(queue.text),
            "loai": "late",
            "xu_ly": "pending",
            "trang_thai": "active",
        },
    )
    assert answer.status_code == 400
    assert "Cần chọn lý do" in beside(answer.text, "bulk-reason")
    for vid in ids:
        assert f'name="ids" value="{vid}" checked' in answer.text
    assert re.search(r'<option value="excused" selected>Có lý do</option>', answer.text)
    assert 'value="Họp đột xuất"' in answer.text
    assert '<option value="late" selected>' in answer.text  # the filter kept
    nothing = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={"decision": "confirmed", "csrf": csrf_of(queue.text)},
    )
    assert nothing.status_code == 400
    assert 'id="bulk-ids-error" role="alert">Hãy đánh dấu ít nhất một vi phạm' in nothing.text


def test_a_month_typed_wrong_is_marked_beside_its_field_on_each_page(world: World) -> None:
    client = signed_in(world, "head_a1")
    grid = client.get("/bang-thang", params={"thang": "13", "nam": "2026"})
    assert grid.status_code == 400
    assert beside(grid.text, "thang").startswith("Tháng phải là một số từ 1 đến 12")
    assert 'id="thang" name="thang" inputmode="numeric" value="13"' in grid.text
    scores = client.get("/diem-ky-luat", params={"thang": "11", "nam": "hai không"})
    assert scores.status_code == 400
    assert "Năm phải là một số từ 2000 đến 2100" in beside(scores.text, "nam")
    documents = client.get("/bieu-mau/bang-cham-cong", params={"thang": "mười", "nam": "2026"})
    assert documents.status_code == 400 and "Biểu mẫu" in documents.text
    assert "“mười” không hợp lệ" in beside(documents.text, "ts-thang")
    noivu = signed_in(world, "noivu_a")
    summary = noivu.get("/bao-cao", params={"ky": "quarter", "quy": "5", "nam": "2026"})
    assert summary.status_code == 400
    assert beside(summary.text, "quy").startswith("Quý phải là một số từ 1 đến 4")
    assert 'value="5"' in summary.text


def test_a_score_adjustment_refused_is_marked_in_that_persons_row(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get("/diem-ky-luat", params={"thang": "11", "nam": "2026"})
    e1 = world.people["e1"]
    form = {"csrf": csrf_of(page.text), "thang": "11", "nam": "2026", "action": "adjust"}
    refused = client.post(
        f"/diem-ky-luat/{e1}", data={**form, "score": "3,5"}, follow_redirects=False
    )
    assert refused.status_code == 400
    assert "cần ghi rõ lý do" in beside(refused.text, f"note-{e1}")
    assert f'id="score-{e1}" name="score" inputmode="decimal" value="3,5"' in refused.text
    note_kept = client.post(
        f"/diem-ky-luat/{e1}",
        data={**form, "score": "99", "note": "Đi muộn không báo trước"},
        follow_redirects=False,
    )
    assert note_kept.status_code == 400
    assert "Điểm phải từ 0 đến" in beside(note_kept.text, f"score-{e1}")
    assert ">Đi muộn không báo trước</textarea>" in note_kept.text


def test_a_leave_filter_date_typed_wrong_is_marked_and_the_rest_kept(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get("/nghi-phep", params={"tu": "01/12/2026", "den": "32/12/2026"})
    assert page.status_code == 400
    assert "không phải ngày hợp lệ" in beside(page.text, "den")
    assert 'value="01/12/2026"' in page.text and 'value="32/12/2026"' in page.text


def test_redoc_is_a_vietnamese_page_that_points_to_the_offline_docs(world: World) -> None:
    client = browser(world)
    page = client.get("/redoc")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Tài liệu API" in page.text and 'href="/docs"' in page.text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page.text)
    assert client.get("/docs").status_code == 200
