"""The rules page (Quy định) against the real PostgreSQL: HR clerks read the agency's rules
as people read them, admins preview a new rules file's effect before saving it, a bad file
is named by line and key, and the JSON API takes dates and labels as people type them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from store.db import db_session
from store.models import Agency, DisciplinePolicy, RecomputeRequest
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import csrf_of, signed_in

LENIENT = b"""# a more lenient policy
[policy]
late_grace_minutes = 30
"""


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def agency_id(world: World, code: str) -> int:
    with db_session(world.engine) as db:
        return int(db.scalars(select(Agency.id).where(Agency.code == code)).one())


def test_an_hr_clerk_reads_the_rules_but_cannot_load_them(world: World) -> None:
    client = signed_in(world, "hr_a")
    page = client.get("/quy-dinh")
    assert page.status_code == 200
    assert "Quy chế chấm công · Sở Nội vụ tỉnh A" not in page.text
    assert "Quy định chấm công · Sở Nội vụ tỉnh A" in page.text
    assert "Giờ hành chính (mặc định)" in page.text
    assert "Buổi sáng 07:30–11:30; Buổi chiều 13:00–17:00" in page.text
    assert "Thứ Hai, Thứ Ba, Thứ Tư, Thứ Năm, Thứ Sáu" in page.text
    assert "5 phút thì tính đi muộn" in page.text
    assert 'href="/quy-dinh"' in page.text  # in the menu
    assert "Nạp tệp quy định mới" not in page.text
    # Agency B is outside the clerk's scope: the page shows A, never B.
    other = client.get(f"/quy-dinh?co_quan={agency_id(world, 'B')}")
    assert "Sở Tài chính tỉnh B" not in other.text
    refused = client.post(
        "/quy-dinh/xem-truoc",
        data={"csrf": csrf_of(page.text), "co_quan": str(agency_id(world, "A"))},
        files={"file": ("policy.toml", LENIENT, "text/plain")},
    )
    assert refused.status_code == 403


def test_a_unit_head_has_no_rules_page(world: World) -> None:
    client = signed_in(world, "head_a1")
    assert client.get("/quy-dinh").status_code == 403
    assert 'href="/quy-dinh"' not in client.get("/vi-pham").text


def test_an_admin_previews_a_rules_file_then_saves_it(world: World) -> None:
    client = signed_in(world, "admin")
    a = agency_id(world, "A")
    page = client.get(f"/quy-dinh?co_quan={a}")
    assert "Nạp tệp quy định mới" in page.text
    preview = client.post(
        "/quy-dinh/xem-truoc",
        data={"csrf": csrf_of(page.text), "co_quan": str(a), "tu_ngay": "23/11/2026"},
        files={"file": ("policy.toml", LENIENT, "text/plain")},
    )
    assert preview.status_code == 200, preview.text
    assert "Xem trước: policy.toml" in preview.text
    assert "Áp dụng từ ngày <strong>23/11/2026</strong>" in preview.text
    # e1 came at 07:50 and e3 at 07:45 (20 and 15 minutes late): within a 30-minute grace
    # both late arrivals go.
    row = re.search(
        r"<td data-label=\"Loại\">Đi muộn</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>", preview.text
    )
    assert row and row.groups() == ("0", "2"), preview.text
    assert "Trần Văn e1 (e1)" in preview.text
    assert "30 phút thì tính đi muộn" in preview.text  # the new rules, as people read them
    with db_session(world.engine) as db:  # nothing saved yet
        assert db.scalar(select(func.count()).select_from(DisciplinePolicy)) == 0
        assert db.scalar(select(func.count()).select_from(RecomputeRequest)) == 0
    assert "Tôi đã xem và đồng ý" in preview.text  # the rest of the week: absences appear

    form = {
        "csrf": csrf_of(preview.text),
        "co_quan": str(a),
        "ten_tep": "policy.toml",
        "tu_ngay": "23/11/2026",
        "noi_dung": LENIENT.decode(),
    }
    unconfirmed = client.post("/quy-dinh/luu", data=form)
    assert unconfirmed.status_code == 400
    assert "Tôi đã xem và đồng ý" in unconfirmed.text
    saved = client.post("/quy-dinh/luu", data={**form, "dong_y": "co"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    after = client.get(saved.headers["location"])
    assert "Đã lưu quy định mới" in after.text
    assert "30 phút thì tính đi muộn" in after.text
    with db_session(world.engine) as db:
        assert (db.scalar(select(func.count()).select_from(RecomputeRequest)) or 0) > 0


def test_a_bad_rules_file_is_named_by_line_and_key(world: World) -> None:
    client = signed_in(world, "admin")
    a = agency_id(world, "A")
    page = client.get(f"/quy-dinh?co_quan={a}")
    bad = b'[policy]\nlate_grace_minutes = 5\npunch_mode = "twice"\n'
    answer = client.post(
        "/quy-dinh/xem-truoc",
        data={"csrf": csrf_of(page.text), "co_quan": str(a)},
        files={"file": ("quy-dinh.toml", bad, "text/plain")},
    )
    assert answer.status_code == 400
    assert "quy-dinh.toml:3: &#39;policy.punch_mode&#39;" in answer.text, answer.text
    not_toml = client.post(
        "/quy-dinh/xem-truoc",
        data={"csrf": csrf_of(page.text), "co_quan": str(a)},
        files={"file": ("x.toml", "tên = ".encode("utf-16"), "text/plain")},
    )
    assert not_toml.status_code == 400 and "hãy lưu lại dạng UTF-8" in not_toml.text


def test_an_admin_sets_the_tracking_start(world: World) -> None:
    client = signed_in(world, "admin")
    a = agency_id(world, "A")
    page = client.get(f"/quy-dinh?co_quan={a}")
    assert "Chưa đặt" in page.text
    bad = client.post(
        "/quy-dinh/ngay-bat-dau",
        data={"csrf": csrf_of(page.text), "co_quan": str(a), "ngay": "32/11/2026"},
    )
    assert bad.status_code == 400
    assert "Ngày bắt đầu theo dõi: “32/11/2026” không phải ngày hợp lệ" in bad.text
    done = client.post(
        "/quy-dinh/ngay-bat-dau",
        data={"csrf": csrf_of(page.text), "co_quan": str(a), "ngay": "24/11/2026"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "Từ ngày <strong>24/11/2026</strong>" in after.text

    # An earlier start makes October and November judgeable: shown first, saved only when
    # confirmed (the page saved it at once, queueing every day for everyone).
    def queued() -> int:
        with db_session(world.engine) as db:
            return int(db.scalar(select(func.count()).select_from(RecomputeRequest)) or 0)

    before = queued()
    earlier = {"csrf": csrf_of(after.text), "co_quan": str(a), "ngay": "01/10/2026"}
    shown = client.post("/quy-dinh/ngay-bat-dau", data=earlier, follow_redirects=False)
    assert shown.status_code == 200
    assert "Sẽ xuất hiện" in shown.text and "Vắng mặt không lý do" in shown.text
    assert "Tôi đã xem và đồng ý" in shown.text and 'name="ngay" value="01/10/2026"' in shown.text
    with db_session(world.engine) as db:
        agency = db.get(Agency, a)
        assert agency is not None and f"{agency.tracking_start:%d/%m/%Y}" == "24/11/2026"
    assert queued() == before
    agreed = client.post(
        "/quy-dinh/ngay-bat-dau", data={**earlier, "dong_y": "co"}, follow_redirects=False
    )
    assert agreed.status_code == 303
    assert "Từ ngày <strong>01/10/2026</strong>" in client.get(agreed.headers["location"]).text


def test_the_api_takes_dates_and_labels_as_people_type_them(world: World) -> None:
    answer = world.client.post(
        "/api/excuses",
        headers={"Authorization": f"Bearer {world.tokens['hr_a']}"},
        json={
            "employee_code": "e1",
            "kind": "Nghỉ phép năm",
            "first_day": "26/11/2026",
            "last_day": "2026-11-27",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["kind"] == "annual_leave"
    assert answer.json()["first_day"] == "2026-11-26"
    refused = world.client.post(
        "/api/excuses",
        headers={"Authorization": f"Bearer {world.tokens['hr_a']}"},
        json={
            "employee_code": "e1",
            "kind": "đi chơi",
            "first_day": "26/11/2026",
            "last_day": "26/11/2026",
        },
    )
    assert refused.status_code == 422
    assert "annual_leave (Nghỉ phép năm)" in refused.text
    listed = world.client.get(
        "/api/excuses?from=25/11/2026&to=30/11/2026",
        headers={"Authorization": f"Bearer {world.tokens['hr_a']}"},
    )
    assert listed.status_code == 200 and len(listed.json()) == 1
