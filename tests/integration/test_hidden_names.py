"""Names others read (a person's full name in a roster file, a unit's name, a user's name typed
by an admin) follow the rule of notes: a hidden character that reverses or hides text is
refused with a Vietnamese message naming the field (and the row of a file), through the page,
the API and the import; the other rows of a file are still planned and reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from store.db import db_session
from store.models import Employee, User
from tests.integration.test_api import World, build_world, world_settings
from tests.integration.test_roster import xlsx
from tests.integration.test_web_roster import upload
from tests.integration.test_web_users import admin_browser
from tests.signin import csrf_of, signed_in

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "Nguyễn Văn ‮nA" reads "Nguyễn Văn An" reversed


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def test_the_users_page_says_beside_the_name_which_hidden_character_it_refuses(
    world: World,
) -> None:
    client, csrf = admin_browser(world)
    refused = client.post(
        "/nguoi-dung/moi",
        data={
            "username": "nv.an",
            "full_name": f"Nguyễn Văn {RLO}nA",
            "role": "noi_vu",
            "agency": "",
            "csrf": csrf,
            "password": "đủ-dài-rồi-nhé",
        },
    )
    assert refused.status_code == 400
    assert (
        'id="full_name-error" role="alert">Họ tên: có ký tự điều khiển ẩn (U+202E)' in refused.text
    )
    assert 'value="nv.an"' in refused.text  # the rest of the form is kept
    with db_session(world.engine) as db:
        assert db.scalar(select(User).where(User.username == "nv.an")) is None


def test_the_api_refuses_a_user_name_with_a_hidden_character_in_vietnamese(world: World) -> None:
    answer = world.client.post(
        "/api/users",
        headers=world.headers("admin"),
        json={"username": "thanhtra", "role": "Thanh tra, kiểm tra", "full_name": "Thanh\ttra"},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "hidden_characters"
    assert error["message"].startswith("Họ tên: có ký tự điều khiển ẩn (U+0009 tab)")
    fine = world.client.post(
        "/api/users",
        headers=world.headers("admin"),
        json={"username": "thanhtra", "role": "Thanh tra, kiểm tra", "full_name": " Thanh tra "},
    )
    assert fine.status_code == 201 and fine.json()["user"]["full_name"] == "Thanh tra"


def test_an_employee_file_refuses_the_row_with_a_hidden_name_and_plans_the_others(
    world: World,
) -> None:
    hr = signed_in(world, "hr_a")
    text = (
        "Mã cán bộ,Họ và tên,Đơn vị,Chức vụ\n"
        "h1,Nguyễn Thị Hương,A1,Chuyên viên\n"
        f"h2,Trần Đức {RLO}gnoL,A1,Chuyên viên\n"
        "h3,Lê Văn Minh,A2,Phó\u200fTrưởng phòng\n"
        "h4,Phạm Thu Hà,A2,\n"
    )
    preview = upload(hr, "\ufeff".encode() + text.encode(), "can_bo.csv")
    assert preview.status_code == 200
    page = preview.text
    assert "Họ và tên: có ký tự điều khiển ẩn (U+202E)" in page
    assert "Chức vụ: có ký tự điều khiển ẩn (U+200F)" in page
    assert "2 tạo mới" in page and "2 từ chối" in page  # rows 2 and 5 planned, not lost
    assert "Nguyễn Thị Hương" in page and "Phạm Thu Hà" in page
    with db_session(world.engine) as db:
        assert db.scalar(select(Employee).where(Employee.code.in_(["h1", "h2"]))) is None

    # The API's import names each refused row; nothing is written while one is refused.
    files = {"file": ("can_bo.csv", "\ufeff".encode() + text.encode())}
    refused = world.client.post(
        "/api/roster/employees/import", headers=world.headers("hr_a"), files=files
    )
    assert refused.status_code == 400
    details = refused.json()["error"]["details"]
    assert len(details) == 2
    assert details[0].startswith("Dòng 3: Họ và tên: có ký tự điều khiển ẩn (U+202E)")
    assert details[1].startswith("Dòng 4: Chức vụ: có ký tự điều khiển ẩn (U+200F)")


def test_a_unit_file_in_xlsx_refuses_a_unit_name_with_a_line_break_in_its_cell(
    world: World,
) -> None:
    content = xlsx(
        [
            ["Mã cơ quan", "Mã đơn vị", "Tên đơn vị"],
            ["A", "PKT", "Phòng Kế toán"],
            ["A", "PTH", "Phòng Tổng\nhợp"],
        ]
    )
    files = {"file": ("don_vi.xlsx", content)}
    preview = world.client.post(
        "/api/roster/units/preview", headers=world.headers("admin"), files=files
    )
    assert preview.status_code == 200, preview.text
    rows = preview.json()["rows"]
    assert rows[0]["action"] == "create"
    assert rows[1]["action"] == "refuse"
    assert rows[1]["reasons"] == [
        "Tên đơn vị: có ký tự điều khiển ẩn (U+000A xuống dòng) làm đảo hoặc che chữ khi người "
        "khác đọc (thường do dán từ tệp khác). Hãy gõ lại đoạn này rồi gửi lại."
    ]


def test_a_title_typed_on_the_person_page_is_refused_and_nothing_changes(world: World) -> None:
    hr = signed_in(world, "hr_a")
    with db_session(world.engine) as db:
        person = db.scalars(select(Employee).order_by(Employee.id)).first()
        assert person is not None
        number, title, unit = person.id, person.title, person.unit_id
        start = f"{person.active_from:%d/%m/%Y}"
    page = hr.get(f"/can-bo/{number}")
    assert page.status_code == 200, page.text
    answer = hr.post(
        f"/can-bo/{number}",
        data={
            "csrf": csrf_of(page.text),
            "don_vi": str(unit),
            "tu_ngay": start,
            "chuc_vu": f"Trưởng{RLO} phòng",
        },
    )
    assert answer.status_code == 400 and "Chức vụ: có ký tự điều khiển ẩn (U+202E)" in answer.text
    with db_session(world.engine) as db:
        found = db.get(Employee, number)
        assert found is not None and found.title == title
