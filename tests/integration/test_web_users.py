"""Users administration (Người dùng) against the real PostgreSQL, through the pages, the API
and the CLI: list and search, create with a one-time password, lock (open sessions end at
once), reset, role and scope, the last-admin rule, the history, and Đổi mật khẩu."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kycuong.cli import main
from kycuong.settings import get_settings
from store.db import db_session
from store.models import User, UserEvent
from tests.integration.test_api import PASSWORD, World, build_world, world_settings
from tests.signin import browser, csrf_of, sign_in, signed_in


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def user_id(world: World, username: str) -> int:
    with db_session(world.engine) as db:
        found = db.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


def admin_browser(world: World) -> tuple[TestClient, str]:
    client = signed_in(world, "admin")
    return client, csrf_of(client.get("/nguoi-dung/moi").text)


def one_time_password(html: str) -> str:
    found = re.search(r'<p class="secret-value"><code>([a-z0-9-]+)</code>', html)
    assert found, "no one-time password on the page"
    return found.group(1)


def test_the_admin_lists_users_with_vietnamese_roles_and_scope_names(world: World) -> None:
    client, _ = admin_browser(world)
    page = client.get("/nguoi-dung")
    assert page.status_code == 200
    assert "Trưởng đơn vị" in page.text and "Văn phòng Sở (Sở Nội vụ tỉnh A)" in page.text
    assert "Sở Tài chính tỉnh B" in page.text  # auditor_b's agency
    heads = client.get("/nguoi-dung", params={"vai_tro": "unit_head", "q": "a2"})
    assert "head_a2" in heads.text and "head_a1" not in heads.text and "noivu_a" not in heads.text


def test_a_unit_head_gets_no_users_page_and_no_menu_entry(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get("/nguoi-dung")
    assert page.status_code == 403 and "không có quyền" in page.text
    assert 'href="/nguoi-dung"' not in client.get("/vi-pham").text
    admin, _ = admin_browser(world)
    assert 'href="/nguoi-dung"' in admin.get("/vi-pham").text


def test_a_new_user_gets_a_one_time_password_and_must_choose_their_own(world: World) -> None:
    client, csrf = admin_browser(world)
    unit = re.search(r'<option value="(\d+)" >Phòng Công chức', client.get("/nguoi-dung/moi").text)
    assert unit
    made = client.post(
        "/nguoi-dung/moi",
        data={
            "username": "tp.congchuc",
            "full_name": "Lê Thị Hoa",
            "role": "unit_head",
            "unit": unit.group(1),
            "must_change": "1",
            "csrf": csrf,
        },
    )
    assert made.status_code == 201 and "chỉ hiện một lần" in made.text
    first = one_time_password(made.text)
    assert "Phòng Công chức (Sở Nội vụ tỉnh A)" in made.text
    assert "Tạo tài khoản</strong> bởi admin" in made.text
    again = client.get(f"/nguoi-dung/{user_id(world, 'tp.congchuc')}")
    assert first not in again.text  # shown once, never again

    newcomer = browser(world)
    signed = sign_in(newcomer, "tp.congchuc", first)
    assert signed.status_code == 303 and signed.headers["location"].startswith("/doi-mat-khau")
    # Every other page sends them back to Đổi mật khẩu until they choose a password.
    detour = newcomer.get("/vi-pham")
    assert detour.url.path == "/doi-mat-khau" and "Hãy đặt mật khẩu mới" in detour.text
    token = csrf_of(detour.text)
    mismatch = newcomer.post(
        "/doi-mat-khau",
        data={"current": first, "new": "mật-khẩu-riêng-1", "repeat": "khác", "csrf": token},
    )
    assert mismatch.status_code == 400 and "không giống nhau" in mismatch.text
    changed = newcomer.post(
        "/doi-mat-khau",
        data={
            "current": first,
            "new": "mật-khẩu-riêng-1",
            "repeat": "mật-khẩu-riêng-1",
            "csrf": token,
            "next": "/vi-pham",
        },
    )
    assert changed.status_code == 200 and "Đã đổi mật khẩu" in changed.text
    queue = newcomer.get("/vi-pham")
    assert queue.url.path == "/vi-pham" and "Trần Văn e3" in queue.text
    assert sign_in(browser(world), "tp.congchuc", first).status_code == 401


def test_a_taken_username_and_a_unit_head_without_unit_are_refused_in_vietnamese(
    world: World,
) -> None:
    client, csrf = admin_browser(world)
    taken = client.post(
        "/nguoi-dung/moi",
        data={"username": "head_a1", "role": "noi_vu", "csrf": csrf, "password": "đủ-dài-rồi"},
    )
    assert taken.status_code == 409 and "Tên đăng nhập “head_a1” đã được dùng" in taken.text
    assert 'value="head_a1"' in taken.text  # what was typed is kept
    no_unit = client.post(
        "/nguoi-dung/moi", data={"username": "tp.moi", "role": "unit_head", "csrf": csrf}
    )
    assert no_unit.status_code == 400 and "cần chọn đơn vị" in no_unit.text
    forged = client.post("/nguoi-dung/moi", data={"username": "x.y", "role": "admin"})
    assert forged.status_code == 403
    with db_session(world.engine) as db:
        assert db.scalar(select(User).where(User.username.in_(["tp.moi", "x.y"]))) is None


def test_locking_a_user_ends_their_open_session_at_once(world: World) -> None:
    head = signed_in(world, "head_a1")
    assert head.get("/vi-pham").status_code == 200
    client, csrf = admin_browser(world)
    target = user_id(world, "head_a1")
    locked = client.post(f"/nguoi-dung/{target}/khoa", data={"csrf": csrf})
    assert locked.status_code == 200 and "mọi phiên đăng nhập của người này đã kết thúc" in (
        locked.text
    )
    assert "Khóa tài khoản</strong> bởi admin" in locked.text
    assert "Trạng thái: Đang hoạt động → Đã khóa" in locked.text
    gone = head.get("/vi-pham", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/?next=")
    assert world.client.get("/api/me", headers=world.headers("head_a1")).status_code == 401
    assert sign_in(browser(world), "head_a1").status_code == 401
    client.post(f"/nguoi-dung/{target}/mo-khoa", data={"csrf": csrf})
    assert sign_in(browser(world), "head_a1").status_code == 303


def test_the_last_admin_cannot_be_locked_demoted_or_lock_themself(world: World) -> None:
    client, csrf = admin_browser(world)
    me = user_id(world, "admin")
    locked = client.post(f"/nguoi-dung/{me}/khoa", data={"csrf": csrf})
    assert locked.status_code == 409
    assert "là quản trị viên cuối cùng còn hoạt động" in locked.text
    demoted = client.post(f"/nguoi-dung/{me}/vai-tro", data={"role": "noi_vu", "csrf": csrf})
    assert demoted.status_code == 409 and "bỏ vai trò quản trị" in demoted.text
    with db_session(world.engine) as db:
        admin = db.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.active and admin.role == "admin"
    # With a second admin, the first may step down (and is signed out at once).
    second = user_id(world, "noivu_all")
    promoted = client.post(
        f"/nguoi-dung/{second}/vai-tro",
        data={"role": "Quản trị hệ thống", "csrf": csrf},
        follow_redirects=False,
    )
    assert promoted.status_code == 303
    assert "Vai trò: Nội vụ → Quản trị hệ thống" in client.get(promoted.headers["location"]).text
    bye = client.post(f"/nguoi-dung/{me}/khoa", data={"csrf": csrf}, follow_redirects=False)
    assert bye.status_code == 303 and bye.headers["location"] == "/"
    assert client.get("/nguoi-dung", follow_redirects=False).status_code == 303
    # And now noivu_all is the last one: the API refuses the same way.
    answer = world.client.post(f"/api/users/{second}/disable", headers=world.headers("noivu_all"))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "last_admin"


def test_a_reset_password_works_once_shown_and_ends_the_old_session(world: World) -> None:
    head = signed_in(world, "head_a2")
    client, csrf = admin_browser(world)
    target = user_id(world, "head_a2")
    reset = client.post(
        f"/nguoi-dung/{target}/cap-lai-mat-khau", data={"csrf": csrf, "must_change": "1"}
    )
    assert reset.status_code == 200
    fresh = one_time_password(reset.text)
    assert "Cấp lại mật khẩu</strong> bởi admin" in reset.text
    assert head.get("/vi-pham", follow_redirects=False).status_code == 303
    assert sign_in(browser(world), "head_a2", PASSWORD).status_code == 401
    assert sign_in(browser(world), "head_a2", fresh).status_code == 303
    typed = client.post(
        f"/nguoi-dung/{target}/cap-lai-mat-khau",
        data={"csrf": csrf, "password": "do-quản-trị-đặt"},
    )
    assert "Đã lưu mật khẩu mới." in typed.text and "secret-value" not in typed.text
    signed = sign_in(browser(world), "head_a2", "do-quản-trị-đặt")
    assert signed.headers["location"] == "/vi-pham"  # no change required: their start page
    own = client.post(
        f"/nguoi-dung/{user_id(world, 'admin')}/cap-lai-mat-khau", data={"csrf": csrf}
    )
    assert own.status_code == 400 and "trang Đổi mật khẩu" in own.text


def test_a_role_and_scope_change_applies_at_the_next_request_and_is_recorded(
    world: World,
) -> None:
    head = signed_in(world, "head_a1")
    assert "Trần Văn e3" not in head.get("/vi-pham").text
    client, csrf = admin_browser(world)
    target = user_id(world, "head_a1")
    agency = re.search(
        r'<option value="(\d+)" >Sở Nội vụ tỉnh A', client.get("/nguoi-dung/moi").text
    )
    assert agency
    changed = client.post(
        f"/nguoi-dung/{target}/vai-tro",
        data={"role": "noi_vu", "agency": agency.group(1), "csrf": csrf},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    page = client.get(changed.headers["location"])
    assert "Đã đổi vai trò, phạm vi" in page.text
    assert (
        "Vai trò: Trưởng đơn vị → Nội vụ; Phạm vi: Văn phòng Sở (Sở Nội vụ tỉnh A) → "
        "Sở Nội vụ tỉnh A"
    ) in page.text
    assert "Trần Văn e3" in head.get("/vi-pham").text  # the whole agency now
    wrong = client.post(f"/nguoi-dung/{target}/vai-tro", data={"role": "chief", "csrf": csrf})
    assert wrong.status_code == 400 and "Vai trò không hợp lệ" in wrong.text
    assert "Trưởng đơn vị (unit_head)" in wrong.text
    with db_session(world.engine) as db:
        events = db.scalars(select(UserEvent.action).where(UserEvent.user_id == target)).all()
        assert list(events) == ["assigned"]


def test_odd_user_ids_answer_a_vietnamese_404(world: World) -> None:
    client, csrf = admin_browser(world)
    for path in (
        "/nguoi-dung/0",
        "/nguoi-dung/abc",
        "/nguoi-dung/99999",
        "/nguoi-dung/" + "9" * 30,
    ):
        page = client.get(path)
        assert page.status_code == 404 and "Người dùng không tồn tại" in page.text
    post = client.post("/nguoi-dung/99999/khoa", data={"csrf": csrf})
    assert post.status_code == 404


def test_the_api_creates_lists_and_resets_with_the_same_rules(world: World) -> None:
    made = world.client.post(
        "/api/users",
        headers=world.headers("admin"),
        json={"username": "thanhtra", "role": "Thanh tra, kiểm tra", "full_name": "Thanh tra"},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["user"]["scope_label"] == "Toàn hệ thống" and len(body["password"]) == 14
    listed = world.get("admin", "/api/users", role="auditor").json()
    assert {u["username"] for u in listed} == {"auditor_b", "thanhtra"}
    refused = world.client.get("/api/users", headers=world.headers("hr_a"))
    assert refused.status_code == 403
    detail = world.get("admin", f"/api/users/{body['user']['id']}").json()
    assert detail["history"][0]["action_label"] == "Tạo tài khoản"
    changed = world.client.post(
        "/api/me/password",
        headers=world.headers("hr_a"),
        json={"current": PASSWORD, "new": "mật-khẩu-mới-của-tôi"},
    )
    assert changed.status_code == 204
    assert world.client.get("/api/me", headers=world.headers("hr_a")).status_code == 401


def test_the_cli_lists_locks_resets_and_sets_roles_in_vietnamese(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KC_DATABASE_URL", world.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        assert main(["users", "list", "--role", "Trưởng đơn vị"]) == 0
        out = capsys.readouterr().out
        assert "head_a1" in out and "Văn phòng Sở (Sở Nội vụ tỉnh A)" in out
        assert "(2 người dùng)" in out
        assert main(["users", "disable", "admin"]) == 2
        assert "quản trị viên cuối cùng" in capsys.readouterr().err
        assert main(["users", "disable", "head_a1"]) == 0
        assert "Đã khóa head_a1" in capsys.readouterr().out
        assert main(["users", "list", "--locked"]) == 0
        assert "head_a1" in capsys.readouterr().out
        assert main(["users", "reset-password", "head_a1"]) == 0
        printed = capsys.readouterr().out
        found = re.search(r"chỉ hiện một lần\): (\S+)", printed)
        assert found and "phải đặt mật khẩu mới" in printed
        assert main(["users", "enable", "head_a1"]) == 0
        capsys.readouterr()
        assert sign_in(browser(world), "head_a1", found.group(1)).status_code == 303
        assert main(["users", "set-role", "head_a1", "--role", "unit_head", "--unit", "A2"]) == 0
        assert "Trưởng đơn vị, phạm vi: Phòng Công chức" in capsys.readouterr().out
        assert main(["users", "set-role", "head_a1", "--role", "boss"]) == 2
        assert "Chọn một trong: Trưởng đơn vị (unit_head)" in capsys.readouterr().err
        assert main(["users", "disable", "nobody"]) == 2
        assert "Người dùng “nobody” không tồn tại" in capsys.readouterr().err
        assert main(["users", "history", "head_a1"]) == 0
        history = capsys.readouterr().out
        assert "Khóa tài khoản bởi dòng lệnh" in history and "Cấp lại mật khẩu" in history
    finally:
        get_settings.cache_clear()
