"""An admin in a real browser (Debian's Chromium driven by Playwright): resets a user's
password, the user signs in with it and chooses their own; the admin locks them and their
open page is sent to sign-in. Also leave entered and approved by a unit head. Screenshots
at desktop (1366×768) and phone (390×844) widths under test-artifacts/screens/."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS, served
from tests.integration.test_api import PASSWORD, World

__all__ = ["served"]  # the fixture, shared with the unit head's browser test


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def test_a_user_reset_and_disable(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    _world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        admin_context = browser.new_context(viewport={"width": 1366, "height": 768})
        user_context = browser.new_context(viewport={"width": 390, "height": 844})
        admin = admin_context.new_page()
        sign_in(admin, base, "admin", PASSWORD)
        admin.get_by_role("link", name="Người dùng", exact=True).click()
        admin.wait_for_url(f"{base}/nguoi-dung")
        assert "Văn phòng Sở (Sở Nội vụ tỉnh A)" in admin.inner_text("main")
        admin.screenshot(path=str(SCREENS / "users-desktop.png"), full_page=True)
        admin.get_by_role("link", name="head_a1").click()
        admin.get_by_role("button", name="Cấp lại mật khẩu").click()
        secret = admin.locator(".secret-value code")
        secret.wait_for()
        one_time = secret.inner_text().strip()
        assert len(one_time) == 14
        admin.screenshot(path=str(SCREENS / "user-reset-desktop.png"), full_page=True)

        user = user_context.new_page()
        sign_in(user, base, "head_a1", PASSWORD)  # the old password no longer works
        assert "Sai tên đăng nhập hoặc mật khẩu." in user.inner_text("main")
        sign_in(user, base, "head_a1", one_time)
        user.wait_for_url(f"{base}/doi-mat-khau**")
        assert "Hãy đặt mật khẩu mới" in user.inner_text("main")
        user.screenshot(path=str(SCREENS / "password-phone.png"), full_page=True)
        user.get_by_label("Mật khẩu hiện tại").fill(one_time)
        user.get_by_label("Mật khẩu mới (ít nhất 8 ký tự)").fill("mật-khẩu-của-tôi")
        user.get_by_label("Nhập lại mật khẩu mới").fill("mật-khẩu-của-tôi")
        user.get_by_role("button", name="Đổi mật khẩu").click()
        assert "Đã đổi mật khẩu" in user.inner_text("main")
        user.get_by_role("link", name="Tiếp tục").click()
        user.wait_for_url(f"{base}/vi-pham")
        assert "Trần Văn e1" in user.inner_text("main")

        admin.goto(admin.url)  # a GET: reloading the POST's answer would reset again
        admin.get_by_role("button", name="Khóa tài khoản").click()
        assert "mọi phiên đăng nhập của người này đã kết thúc" in admin.inner_text("main")
        assert "Trạng thái: Đang hoạt động → Đã khóa" in admin.inner_text("main")
        admin.screenshot(path=str(SCREENS / "user-locked-desktop.png"), full_page=True)

        user.get_by_role("link", name="Bảng tháng").click()  # the open session, next click
        user.wait_for_url(f"{base}/?next=**")
        assert "Đăng nhập" in user.inner_text("h1")
        sign_in(user, base, "head_a1", "mật-khẩu-của-tôi")
        assert "Sai tên đăng nhập hoặc mật khẩu." in user.inner_text("main")

        admin.get_by_role("link", name="Người dùng", exact=True).click()
        admin.get_by_label("Trạng thái").select_option(label="Đã khóa")
        admin.get_by_role("button", name="Tìm").click()
        assert "head_a1" in admin.inner_text("main") and "head_a2" not in admin.inner_text("main")
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(phone, base, "admin", PASSWORD)
        phone.goto(f"{base}/nguoi-dung")
        phone.screenshot(path=str(SCREENS / "users-phone.png"), full_page=True)
        phone.get_by_role("link", name="head_a1").click()
        phone.screenshot(path=str(SCREENS / "user-phone.png"), full_page=True)
        phone.goto(f"{base}/nguoi-dung/moi")
        phone.screenshot(path=str(SCREENS / "user-new-phone.png"), full_page=True)
        admin.goto(f"{base}/nguoi-dung/moi")
        admin.screenshot(path=str(SCREENS / "user-new-desktop.png"), full_page=True)
        browser.close()


def test_a_unit_head_enters_and_approves_leave_in_the_browser(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "head_a1", PASSWORD)
            page.goto(f"{base}/nghi-phep")
            page.get_by_role("link", name="+ Nhập đơn nghỉ").click()
            page.get_by_label("Cán bộ (mã cán bộ)").fill("e1")
            page.get_by_label("Loại").select_option(label="Đi công tác")
            page.get_by_label("Từ ngày").fill("26/11/2026")
            page.get_by_label("Đến ngày").fill("27/11/2026" if name == "desktop" else "")
            page.get_by_label("Buổi sáng").check()
            page.get_by_label("Ghi chú").fill("Họp tại UBND tỉnh")
            page.screenshot(path=str(SCREENS / f"excuse-new-{name}.png"), full_page=True)
            page.get_by_role("button", name="Lưu đơn").click()
            assert "Đã ghi Đi công tác của Trần Văn e1" in page.inner_text("main")
            page.get_by_role("button", name="Duyệt").first.click()
            assert "Đã duyệt Đi công tác của Trần Văn e1" in page.inner_text("main")
            assert "được tính lại" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"excuses-{name}.png"), full_page=True)
            page.get_by_role("link", name="Hủy").first.click()
            assert "Hủy đơn nghỉ này?" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"excuse-cancel-{name}.png"), full_page=True)
            page.get_by_role("button", name="Hủy đơn").click()
            assert "Đã hủy Đi công tác của Trần Văn e1" in page.inner_text("main")
            page.close()
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, base, "hr_a", PASSWORD)
        page.goto(f"{base}/nghi-phep/nhap-tep")
        page.get_by_label("Tệp").set_input_files(
            {
                "name": "nghi.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "Mã cán bộ,Loại,Từ ngày\ne3,Nghỉ ốm,25/11/2026\nx9,phép,25/11/2026\n"
                ).encode(),
            }
        )
        page.get_by_role("button", name="Nhập tệp").click()
        assert "Dòng 3: không tìm thấy cán bộ x9" in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "excuse-import-desktop.png"), full_page=True)
        browser.close()
    assert len(world.get("head_a1", "/api/excuses").json()) == 2
