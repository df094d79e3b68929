"""The roster pages against the real PostgreSQL: Đơn vị, Cán bộ (search, view, edit with
validation) and Nhập danh sách (upload, preview, "Áp dụng" all or nothing), within scopes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from store.db import db_session
from store.models import Credential, Employee, ImportUpload
from tests.integration.test_api import World, build_world, world_settings
from tests.integration.test_roster import cp1258
from tests.signin import csrf_of, signed_in


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def test_the_unit_tree_shows_the_visitors_scope_only(world: World) -> None:
    head = signed_in(world, "head_a1")
    page = head.get("/don-vi")
    assert page.status_code == 200
    assert "Văn phòng Sở" in page.text and "Tổ Một cửa" in page.text
    assert "Phòng Công chức" not in page.text and "Phòng Ngân sách" not in page.text
    assert 'href="/nhap-danh-sach"' not in page.text  # a unit head does not import
    hr = signed_in(world, "hr_a")
    page = hr.get("/don-vi")
    assert "Phòng Công chức" in page.text and "Phòng Ngân sách" not in page.text
    assert "Định dạng số thẻ" in page.text


def test_people_search_paging_and_a_person_outside_the_scope_is_404(world: World) -> None:
    head = signed_in(world, "head_a1")
    listing = head.get("/can-bo")
    assert "Trần Văn e1" in listing.text and "Trần Văn e2" in listing.text
    assert "Trần Văn e3" not in listing.text
    found = head.get("/can-bo", params={"q": "một cửa"})
    assert "Trần Văn e2" in found.text and "Trần Văn e1" not in found.text
    assert "1 cán bộ" in found.text
    # Typed without diacritics or case, as on a phone without Vietnamese input.
    for typed in ("mot cua", "TRAN VAN E2", "tran văn e2"):
        plain = head.get("/can-bo", params={"q": typed})
        assert "Trần Văn e2" in plain.text and "Trần Văn e1" not in plain.text, typed
    none = head.get("/can-bo", params={"q": "khong ai"})
    assert none.status_code == 200 and "Trần Văn e1" not in none.text
    mine = head.get(f"/can-bo/{world.people['e1']}")
    assert mine.status_code == 200 and "CARD-e1" in mine.text and "01/01/2024" in mine.text
    assert "Sửa thông tin" not in mine.text  # reading only
    theirs = head.get(f"/can-bo/{world.people['e3']}")
    assert theirs.status_code == 404
    assert "không tồn tại hoặc nằm ngoài phạm vi của bạn" in theirs.text
    auditor = signed_in(world, "auditor_b")
    assert "Trần Văn e4" in auditor.get("/can-bo").text
    assert auditor.get(f"/can-bo/{world.people['e1']}").status_code == 404


def test_an_hr_clerk_edits_a_person_with_validation_messages(world: World) -> None:
    hr = signed_in(world, "hr_a")
    url = f"/can-bo/{world.people['e3']}"
    page = hr.get(url)
    token = csrf_of(page.text)
    unit = re.search(r'<option value="(\d+)"[^>]*>(?:· )*Văn phòng Sở', page.text)
    assert unit
    form = {"don_vi": unit.group(1), "chuc_vu": "Chuyên viên", "csrf": token}
    backwards = hr.post(url, data={**form, "tu_ngay": "01/05/2025", "den_ngay": "01/04/2025"})
    assert backwards.status_code == 400
    assert "Ngày kết thúc 01/04/2025 trước ngày bắt đầu 01/05/2025" in backwards.text
    bad_day = hr.post(url, data={**form, "tu_ngay": "31/02/2025"})
    assert bad_day.status_code == 400 and "“31/02/2025” không phải ngày hợp lệ" in bad_day.text
    forged = hr.post(url, data={**form, "tu_ngay": "01/05/2025", "csrf": "x"})
    assert forged.status_code == 403
    saved = hr.post(
        url, data={**form, "tu_ngay": "01/05/2025", "den_ngay": ""}, follow_redirects=False
    )
    assert saved.status_code == 303
    after = hr.get(saved.headers["location"])
    assert "Đã lưu thay đổi của cán bộ." in after.text and "Chuyên viên" in after.text
    with db_session(world.engine) as db:
        person = db.get(Employee, world.people["e3"])
        assert person is not None and person.title == "Chuyên viên"
        assert str(person.active_from) == "2025-05-01"
    outside = hr.post(f"/can-bo/{world.people['e4']}", data={**form, "tu_ngay": "01/05/2025"})
    assert outside.status_code == 404
    head = signed_in(world, "head_a1")
    token = csrf_of(head.get(f"/can-bo/{world.people['e1']}").text)
    refused = head.post(
        f"/can-bo/{world.people['e1']}", data={**form, "tu_ngay": "01/05/2025", "csrf": token}
    )
    assert refused.status_code == 403


def test_an_e_mail_added_on_the_person_page_sends_the_notice_that_waited_for_it(
    world: World,
) -> None:
    """A notice to a person without an e-mail waits (Chờ địa chỉ); the HR clerk types the
    address on the person's page and the notice is due at once."""
    from notify.recipients import employee
    from services import notifications
    from store.models import OutboxMessage

    person = world.people["e3"]
    with db_session(world.engine) as db:
        notifications.enqueue(
            db,
            kind="plain",
            recipient=employee(person),
            dedupe_key="test:waiting",
            template="plain",
            context={"title": "Thử", "body": "Nội dung.", "link": ""},
        )
        db.execute(update(OutboxMessage).values(status="waiting", last_error="Chờ địa chỉ"))
    hr = signed_in(world, "hr_a")
    url = f"/can-bo/{person}"
    page = hr.get(url)
    assert 'name="email"' in page.text and "E-mail nhận thông báo" in page.text
    unit = re.search(r'<option value="(\d+)" selected', page.text)
    assert unit
    form = {"don_vi": unit.group(1), "tu_ngay": "01/01/2024", "csrf": csrf_of(page.text)}
    bad = hr.post(url, data={**form, "email": "khong-phai-email"})
    assert bad.status_code == 400 and "Địa chỉ e-mail “khong-phai-email” không hợp lệ." in bad.text
    saved = hr.post(url, data={**form, "email": " cb3@so.gov.vn "}, follow_redirects=False)
    assert saved.status_code == 303
    assert 'value="cb3@so.gov.vn"' in hr.get(url).text
    with db_session(world.engine) as db:
        row = db.scalars(select(OutboxMessage)).one()
        assert row.status == "queued"
        found = db.get(Employee, person)
        assert found is not None and found.email == "cb3@so.gov.vn"


def upload(client: TestClient, content: bytes, name: str, kind: str = "employees"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/nhap-danh-sach").text)
    return client.post(
        "/nhap-danh-sach",
        data={"csrf": token, "loai": kind, "bang_ma": ""},
        files={"file": (name, content)},
    )


def test_an_import_is_previewed_then_applied_all_or_nothing(world: World) -> None:
    hr = signed_in(world, "hr_a")
    bad = (
        "Mã cán bộ,Họ và tên,Đơn vị,Số thẻ\n"
        "n1,Nguyễn Thị Hương,A1,0002000101\n"
        "n2,Trần Đức Long,B1,0002000102\n"
    )
    preview = upload(hr, cp1258(bad), "can_bo.csv")
    assert preview.status_code == 200
    assert "Từ chối" in preview.text
    assert "Không tìm thấy đơn vị B1 trong phạm vi của bạn" in preview.text  # agency B
    assert "Áp dụng" not in preview.text.split("Xem trước:")[1]
    good = bad.replace("B1,", "A2,")
    preview = upload(hr, cp1258(good), "can_bo.csv")
    assert "2 tạo mới" in preview.text and "Nguyễn Thị Hương" in preview.text
    ma = re.search(r'name="ma" value="([0-9a-f]{64})"', preview.text)
    digest = re.search(r'name="ban_xem_truoc" value="([0-9a-f]{64})"', preview.text)
    assert ma and digest
    with db_session(world.engine) as db:
        assert db.scalar(select(Employee).where(Employee.code == "n1")) is None
    tampered = hr.post(
        "/nhap-danh-sach/ap-dung",
        data={"csrf": csrf_of(preview.text), "ma": "0" * 64, "ban_xem_truoc": digest.group(1)},
    )
    assert tampered.status_code == 400 and "hãy tải tệp lên lại" in tampered.text
    other = signed_in(world, "admin")  # another user cannot apply this user's upload
    stolen = other.post(
        "/nhap-danh-sach/ap-dung",
        data={
            "csrf": csrf_of(other.get("/nhap-danh-sach").text),
            "ma": ma.group(1),
            "ban_xem_truoc": digest.group(1),
        },
    )
    assert stolen.status_code == 400
    applied = hr.post(
        "/nhap-danh-sach/ap-dung",
        data={"csrf": csrf_of(preview.text), "ma": ma.group(1), "ban_xem_truoc": digest.group(1)},
        follow_redirects=False,
    )
    assert applied.status_code == 303
    done = hr.get(applied.headers["location"])
    assert "Đã áp dụng: 2 tạo mới, 0 cập nhật, 2 thẻ được cấp." in done.text
    with db_session(world.engine) as db:
        cards = db.scalars(select(Credential.value).where(Credential.value.like("00020001%")))
        assert sorted(cards) == ["0002000101", "0002000102"]
        kept = db.scalars(select(ImportUpload.sha256)).all()
        assert ma.group(1) not in kept and len(kept) == 1  # the refused file's stays a day
    again = hr.post(
        "/nhap-danh-sach/ap-dung",
        data={"csrf": csrf_of(preview.text), "ma": ma.group(1), "ban_xem_truoc": digest.group(1)},
    )
    assert again.status_code == 400  # applied once only


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Tên,Tuổi\nA,3\n".encode("utf-16"), "Không tìm thấy dòng tiêu đề"),
        (b"\xd0\xcf\x11\xe0" + bytes(600), "Excel 97-2003 (.xls)"),
        ("Mã cán bộ,Họ và tên\nA,B\n".encode(), "Thiếu cột bắt buộc: Đơn vị"),
    ],
)
def test_an_unreadable_upload_gets_one_vietnamese_sentence(
    world: World, content: bytes, message: str
) -> None:
    hr = signed_in(world, "hr_a")
    answer = upload(hr, content, "x.csv")
    assert answer.status_code == 400 and message in answer.text
    assert "Traceback" not in answer.text


def test_roles_without_roster_write_cannot_import(world: World) -> None:
    head = signed_in(world, "head_a1")
    assert head.get("/nhap-danh-sach").status_code == 403
    token = csrf_of(head.get("/don-vi").text)
    answer = head.post(
        "/nhap-danh-sach",
        data={"csrf": token, "loai": "employees"},
        files={"file": ("x.csv", b"a,b\n")},
    )
    assert answer.status_code == 403


def test_the_excuses_import_reads_a_utf16_file_instead_of_a_500(world: World) -> None:
    text = "Mã cán bộ\tLoại\tTừ ngày\ne3\tNghỉ phép năm\t24/11/2026\n"
    answer = world.client.post(
        "/api/excuses/import",
        headers=world.headers("hr_a"),
        files={"file": ("nghi.csv", text.encode("utf-16"), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 1


def test_the_api_lists_units_and_people_by_role_and_scope(world: World) -> None:
    from services.scope import PERMISSIONS
    from tests.integration.test_api import USERS

    for user, (role, _, _) in USERS.items():
        answer = world.get(user, "/api/units")
        assert answer.status_code == (200 if role in PERMISSIONS["roster:read"] else 403), user
    assert [u["code"] for u in world.get("head_a1", "/api/units").json()] == ["A1", "A1a"]
    people = world.get("hr_a", "/api/employees", q="e3").json()
    assert [p["code"] for p in people] == ["e3"]
    b1 = world.get("admin", "/api/units").json()
    unit_b1 = next(u["id"] for u in b1 if u["code"] == "B1")
    assert world.get("hr_a", "/api/employees", unit_id=unit_b1).status_code == 404


def test_the_api_previews_then_imports_all_or_nothing(world: World) -> None:
    text = "Mã cán bộ;Họ và tên;Đơn vị\nn1;Nguyễn Thị Hương;A1\nn2;Trần Đức Long;B1\n"
    files = {"file": ("can_bo.csv", "\ufeff".encode() + text.encode())}
    preview = world.client.post(
        "/api/roster/employees/preview", headers=world.headers("hr_a"), files=files
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [r["action"] for r in body["rows"]] == ["create", "refuse"]
    refused = world.client.post(
        "/api/roster/employees/import", headers=world.headers("hr_a"), files=files
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == [
        "Dòng 3: Không tìm thấy đơn vị B1 trong phạm vi của bạn"
    ]
    good = {"file": ("can_bo.csv", text.replace("B1", "A2").encode("utf-16"))}
    digest = world.client.post(
        "/api/roster/employees/preview", headers=world.headers("hr_a"), files=good
    ).json()["digest"]
    done = world.client.post(
        "/api/roster/employees/import",
        headers=world.headers("hr_a"),
        files=good,
        params={"digest": digest},
    )
    assert done.status_code == 200 and done.json()["applied"] is True
    stale = world.client.post(
        "/api/roster/employees/import",
        headers=world.headers("hr_a"),
        files=good,
        params={"digest": digest},
    )
    assert stale.status_code == 409  # the plan is now "unchanged": not what was previewed
    head = world.client.post(
        "/api/roster/employees/preview", headers=world.headers("head_a1"), files=good
    )
    assert head.status_code == 403


def test_the_api_answers_bad_files_in_vietnamese_never_a_500(world: World) -> None:
    def post(kind: str, name: str, content: bytes, **params: str) -> tuple[int, Any]:
        answer = world.client.post(
            f"/api/roster/{kind}/import",
            headers=world.headers("admin"),
            files={"file": (name, content)},
            params=params,
        )
        return answer.status_code, answer.json()

    status, body = post("employees", "x.xlsx", b"PK\x03\x04 not a workbook")
    assert status == 400 and body["error"]["message"], body
    status, body = post("employees", "x.csv", b"")
    assert status == 400 and body["error"]["message"], body
    status, body = post("units", "x.csv", b"\x00\xff\xfe" * 100)
    assert status == 400, body
    status, body = post("employees", "x.csv", "Mã cán bộ;Họ và tên\n".encode(), encoding="latin1")
    assert status == 422 and body["error"]["message"] == "Dữ liệu gửi lên không hợp lệ"
    assert post("staff", "x.csv", b"a")[0] == 422
    long_code = "x" * 65
    text = f"Mã cán bộ;Họ và tên;Đơn vị\n{long_code};Nguyễn Văn An;A1\nn9;{'A' * 256};A1\n"
    status, body = post("employees", "x.csv", text.encode())
    assert status == 400
    assert body["error"]["details"] == [
        "Dòng 2: Mã cán bộ quá dài (tối đa 64 ký tự)",
        "Dòng 3: Họ và tên quá dài (tối đa 255 ký tự)",
    ]
    units = "Mã cơ quan;Mã đơn vị;Tên đơn vị\nA;" + "U" * 70 + ";Phòng mới\n"
    status, body = post("units", "dv.csv", units.encode())
    assert status == 400 and "Mã đơn vị quá dài" in body["error"]["details"][0]
