"""A member of staff and their unit head in a real browser (Debian's Chromium, Playwright):
the person signs in with the one-time code HR gave, sets a password, reads their month, sends
a giải trình with a photo from a phone; the head sees "Có giải trình" in the queue and
approves; the person sees the decision. Screenshots at 1280 and 390 px in
test-artifacts/screens/self-*.png."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.accounts import create_staff_account
from services.scope import Scope
from store.db import db_session
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS
from tests.integration.test_api import PASSWORD, World, build_world, world_settings
from tests.integration.test_self_service import NEXT_MORNING
from tests.support import require, serving
from web import self_service

NEW_PASSWORD = "mật-khẩu-riêng-của-tôi"


def tiny_png() -> bytes:
    """A real 8×8 red PNG (what a phone camera would send, only smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def served(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, str]]:
    require(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    monkeypatch.setattr(self_service, "now", lambda: NEXT_MORNING.astimezone(UTC))
    world = build_world(pg_engine, world_settings(pg_engine))
    with serving(world.client.app) as port:
        yield world, f"http://127.0.0.1:{port}"


def test_a_person_explains_from_a_phone_and_the_head_approves(
    served: tuple[World, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with db_session(world.engine) as db:
        code = create_staff_account(
            db, Scope(0, "hr", "hr_clerk", None), "e1", datetime.now(UTC)
        ).one_time_code
    assert code
    photo = tmp_path / "giay-moi-hop.png"
    photo.write_bytes(tiny_png())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        phone = browser.new_context(viewport={"width": 390, "height": 844})
        me = phone.new_page()
        me.goto(f"{base}/")
        me.get_by_label("Tên đăng nhập").fill("e1")
        me.get_by_label("Mật khẩu").fill(code)
        me.get_by_role("button", name="Đăng nhập").click()
        me.wait_for_url(f"{base}/doi-mat-khau**")
        assert "Hãy đặt mật khẩu mới" in me.inner_text("main")
        me.screenshot(path=str(SCREENS / "self-password-390.png"), full_page=True)
        me.get_by_label("mã dùng một lần").fill(code)
        me.get_by_label("Mật khẩu mới (ít nhất 8 ký tự)").fill(NEW_PASSWORD)
        me.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
        me.get_by_role("button", name="Đổi mật khẩu").click()
        assert "Đã đổi mật khẩu" in me.inner_text("main")
        me.get_by_role("link", name="Tiếp tục").click()
        me.wait_for_url(f"{base}/cua-toi")
        main = me.inner_text("main")
        assert "Tháng 11/2026 của tôi" in main
        assert "07:50 · Cổng" in main or "07:50 ·" in main
        me.screenshot(path=str(SCREENS / "self-month-390.png"), full_page=True)
        me.get_by_role("link", name="Giải trình").first.click()
        me.get_by_label("Loại lý do").select_option(label="Họp, hội nghị bên ngoài")
        me.get_by_label("Nội dung giải trình").fill("Họp tại UBND tỉnh từ 07:00, có giấy mời")
        me.locator("#attachment").set_input_files(str(photo))
        me.screenshot(path=str(SCREENS / "self-explain-390.png"), full_page=True)
        me.get_by_role("button", name="Gửi giải trình").click()
        me.wait_for_url(f"{base}/cua-toi/de-nghi?luu=da-gui")
        assert "Chờ duyệt" in me.inner_text("main")
        me.screenshot(path=str(SCREENS / "self-requests-390.png"), full_page=True)

        desk = browser.new_context(viewport={"width": 1280, "height": 800})
        boss = desk.new_page()
        boss.goto(f"{base}/vi-pham")
        boss.get_by_label("Tên đăng nhập").fill("head_a1")
        boss.get_by_label("Mật khẩu").fill(PASSWORD)
        boss.get_by_role("button", name="Đăng nhập").click()
        boss.wait_for_url(f"{base}/vi-pham")
        marker = boss.get_by_role("link", name="Có giải trình")
        assert marker.count() == 1
        boss.screenshot(path=str(SCREENS / "self-head-queue-1280.png"), full_page=True)
        marker.click()
        main = boss.inner_text("main")
        assert "Họp tại UBND tỉnh từ 07:00" in main and "giay-moi-hop.png" in main
        boss.screenshot(path=str(SCREENS / "self-head-violation-1280.png"), full_page=True)
        boss.get_by_role("link", name="Đề nghị", exact=True).click()
        assert "Trần Văn e1" in boss.inner_text("main")
        boss.screenshot(path=str(SCREENS / "self-head-requests-1280.png"), full_page=True)
        boss.get_by_role("link", name="Giải trình").first.click()
        with boss.expect_response(lambda r: r.url.endswith("/tep")) as served_file:
            boss.evaluate(
                "url => fetch(url)",
                boss.get_by_role("link", name="giay-moi-hop.png").get_attribute("href"),
            )
        assert served_file.value.headers["content-type"] == "image/png"
        boss.get_by_role("radio", name="Duyệt", exact=True).check()
        boss.get_by_label("Ý kiến (bắt buộc khi không duyệt)").fill("Đồng ý, có giấy mời")
        boss.get_by_role("button", name="Lưu quyết định").click()
        assert "Đã lưu quyết định." in boss.inner_text("main")
        boss.screenshot(path=str(SCREENS / "self-head-decided-1280.png"), full_page=True)

        me.goto(f"{base}/cua-toi/de-nghi")
        main = me.inner_text("main")
        assert "Đã duyệt" in main and "Đồng ý, có giấy mời" in main
        me.screenshot(path=str(SCREENS / "self-decided-390.png"), full_page=True)
        me.goto(f"{base}/cua-toi?thang=11&nam=2026")
        assert "Có lý do" in me.inner_text("main")
        me.get_by_role("link", name="Nhận thông báo").click()
        me.get_by_label("E-mail nhận thông báo").fill("e1@so-noi-vu.gov.vn")
        me.get_by_role("radio", name="Giờ riêng của tôi:").check()
        me.get_by_label("Từ (giờ:phút, 24 giờ)").fill("22:00")
        me.get_by_label("Đến (giờ:phút, 24 giờ)").fill("06:00")
        me.get_by_role("button", name="Lưu").click()
        assert "Đã lưu cài đặt nhận thông báo." in me.inner_text("main")
        assert me.get_by_label("Từ (giờ:phút, 24 giờ)").input_value() == "22:00"
        me.screenshot(path=str(SCREENS / "self-notifications-390.png"), full_page=True)

        wide = desk.new_page()  # the person's month at desk width too
        wide.goto(f"{base}/")
        wide.context.clear_cookies()
        wide.goto(f"{base}/")
        wide.get_by_label("Tên đăng nhập").fill("e1")
        wide.get_by_label("Mật khẩu").fill(NEW_PASSWORD)
        wide.get_by_role("button", name="Đăng nhập").click()
        wide.wait_for_url(f"{base}/cua-toi")
        wide.screenshot(path=str(SCREENS / "self-month-1280.png"), full_page=True)
        wide.goto(f"{base}/nhan-thong-bao")
        wide.screenshot(path=str(SCREENS / "self-notifications-1280.png"), full_page=True)
        queue = phone.new_page()
        queue.context.clear_cookies()
        queue.goto(f"{base}/de-nghi?trang_thai=all")
        queue.get_by_label("Tên đăng nhập").fill("head_a1")
        queue.get_by_label("Mật khẩu").fill(PASSWORD)
        queue.get_by_role("button", name="Đăng nhập").click()
        queue.wait_for_url(f"{base}/de-nghi?trang_thai=all")
        queue.screenshot(path=str(SCREENS / "self-head-requests-390.png"), full_page=True)
        browser.close()


def test_review_12d_a_month_with_days_to_come_a_late_leave_and_a_direct_decision(
    served: tuple[World, str],
) -> None:
    """The open items of #12 as people meet them: the person's month shows the days to come
    as "Chưa đến" and counts only the days lived, a leave asked for too long after the day
    is refused in Vietnamese, and the head's decision on the violation itself answers the
    person's giải trình. Screenshots self-12d-*-{390,1280}.png."""
    from playwright.sync_api import Page, sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    late = world.violation_id("e1", "late")
    with db_session(world.engine) as db:
        code = create_staff_account(
            db, Scope(0, "hr", "hr_clerk", None), "e1", datetime.now(UTC)
        ).one_time_code
    assert code

    def sign_in(page: Page, user: str, password: str) -> None:
        page.goto(f"{base}/")
        page.context.clear_cookies()
        page.goto(f"{base}/")
        page.get_by_label("Tên đăng nhập").fill(user)
        page.get_by_label("Mật khẩu").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        me = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(me, "e1", code)
        me.get_by_label("mã dùng một lần").fill(code)
        me.get_by_label("Mật khẩu mới (ít nhất 8 ký tự)").fill(NEW_PASSWORD)
        me.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
        me.get_by_role("button", name="Đổi mật khẩu").click()
        me.get_by_role("link", name="Tiếp tục").click()
        me.wait_for_url(f"{base}/cua-toi")
        main = me.inner_text("main")
        assert "Chưa đến" in main and "Tính đến hết ngày 24/11/2026" in main
        assert main.count("Học tập, tập huấn") == 1  # H once in the legend
        me.screenshot(path=str(SCREENS / "self-12d-month-390.png"), full_page=True)
        for page, width in ((me, "390"), (None, "1280")):
            if page is None:
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                sign_in(page, "e1", NEW_PASSWORD)
                page.wait_for_url(f"{base}/cua-toi")
                page.screenshot(path=str(SCREENS / "self-12d-month-1280.png"), full_page=True)
            page.goto(f"{base}/cua-toi/xin-nghi")
            page.get_by_label("Loại").select_option(label="Nghỉ phép năm")
            page.get_by_label("Từ ngày").fill("02/11/2026")
            page.get_by_label("Đến ngày").fill("03/11/2026")
            page.get_by_role("button", name="Gửi đề nghị").click()
            alert = page.get_by_role("alert").inner_text()
            assert "Đã quá hạn gửi" in alert and "hết ngày 05/11/2026" in alert
            assert page.get_by_label("Từ ngày").input_value() == "02/11/2026"
            page.screenshot(path=str(SCREENS / f"self-12d-leave-late-{width}.png"), full_page=True)
        me.goto(f"{base}/cua-toi/giai-trinh/{late}")
        me.get_by_label("Loại lý do").select_option(label="Họp, hội nghị bên ngoài")
        me.get_by_label("Nội dung giải trình").fill("Họp tại UBND tỉnh từ 07:00")
        me.get_by_role("button", name="Gửi giải trình").click()
        me.wait_for_url(f"{base}/cua-toi/de-nghi?luu=da-gui")

        for wide, high in ((390, 844), (1280, 800)):
            boss = browser.new_context(viewport={"width": wide, "height": high}).new_page()
            sign_in(boss, "head_a1", PASSWORD)
            boss.goto(f"{base}/vi-pham/{late}")
            assert "quyết định này cũng trả lời giải trình" in boss.inner_text("main")
            boss.screenshot(path=str(SCREENS / f"self-12d-head-{wide}.png"), full_page=True)
        boss.get_by_role("radio", name="Xác nhận").check()
        boss.get_by_label("Ghi chú").fill("Không có giấy mời")
        boss.get_by_role("button", name="Lưu quyết định").click()
        assert "Đã lưu quyết định." in boss.inner_text("main")
        boss.goto(f"{base}/de-nghi")
        assert "Trần Văn e1" not in boss.inner_text("main")  # nothing left waiting

        me.goto(f"{base}/cua-toi/de-nghi")
        main = me.inner_text("main")
        assert "Không duyệt" in main and "xử lý trực tiếp vi phạm: Xác nhận" in main
        me.screenshot(path=str(SCREENS / "self-12d-answered-390.png"), full_page=True)
        browser.close()
