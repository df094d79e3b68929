"""The unit head's and Nội vụ's pages at 1280 px and at 390 px (a phone) in Debian's
Chromium: the person picker, a bulk decision with a failed row, the month grid with its
days off and a day opened from a cell, the summary's charts, an unknown address. Screenshots
go to test-artifacts/screens/*-1280.png and *-390.png."""

from __future__ import annotations

from sqlalchemy import update

from store.db import db_session
from store.models import ViolationRecord
from tests.e2e import test_browser_unit_head as unit_head
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS
from tests.integration.test_api import PASSWORD, World

served = unit_head.served  # the app served by uvicorn on the real PostgreSQL (a fixture)

WIDTHS = ((1280, 800), (390, 844))


def sign_in(page: object, base: str, username: str, target: str) -> None:
    page.goto(f"{base}{target}")  # type: ignore[attr-defined]
    page.get_by_label("Tên đăng nhập").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Mật khẩu").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Đăng nhập").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}{target}")  # type: ignore[attr-defined]


def test_the_pages_read_well_at_1280_and_on_a_phone(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    e1 = world.people["e1"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "head_a1", "/vi-pham?xu_ly=all")
            page.screenshot(path=str(SCREENS / f"queue-all-{width}.png"))
            header = page.locator("header.top").bounding_box()
            assert header and header["height"] < 150, header  # brand, menu, "Thêm" on a phone
            menu = page.locator("header.top nav").bounding_box()
            assert menu and menu["height"] < 80, menu  # at most two rows beside the brand
            # every entry shown as it is, none behind a sideways scroll (the admin's long menu
            # and its "Thêm" on a phone: test_browser_today_menu)
            assert all(a.is_visible() for a in page.locator("nav.menu > ul a").all()[:4])
            page.get_by_label("Cán bộ").select_option(label="Trần Văn e1 (e1)")
            page.get_by_role("button", name="Lọc").click()
            assert "Đang xem vi phạm của Trần Văn e1" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"queue-person-{width}.png"), full_page=True)
            page.goto(f"{base}/bang-thang?thang=11&nam=2026")
            page.get_by_label("Đơn vị", exact=True).select_option(label="Văn phòng Sở")
            page.get_by_role("button", name="Xem").click()
            page.screenshot(path=str(SCREENS / f"month-days-off-{width}.png"), full_page=True)
            totals = page.locator("table.grid th.totals").bounding_box()
            if width >= 1280:  # an office screen sees each person's totals beside the days
                assert totals and totals["x"] + totals["width"] <= width, totals
            page.locator(f'a[href="/bang-thang/ngay?can_bo={e1}&ngay=23/11/2026"]').click()
            main = page.inner_text("main")
            assert "07:50 · GATE" in main and "Đi muộn 20 phút" in main
            page.screenshot(path=str(SCREENS / f"day-{width}.png"), full_page=True)
            page.goto(f"{base}/khong-co-trang-nay")
            assert "Không tìm thấy" in page.inner_text("h1")
            page.screenshot(path=str(SCREENS / f"not-found-{width}.png"), full_page=True)
            page.close()

        page = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(page, base, "head_a1", "/vi-pham")
        absent = world.violation_id("e2", "absent")
        with db_session(world.engine) as db:  # withdrawn by the runner after the page was read
            db.execute(
                update(ViolationRecord).where(ViolationRecord.id == absent).values(active=False)
            )
        for box in page.get_by_role("checkbox").all():
            box.check()
        page.get_by_label("Quyết định").select_option(label="Xác nhận")
        page.get_by_role("button", name="Lưu cho các vi phạm đã chọn").click()
        main = page.inner_text("main")
        assert "Đã lưu quyết định cho 1/2 vi phạm." in main
        assert "Không lưu được 1 vi phạm:" in main and "đã được thu hồi" in main
        page.screenshot(path=str(SCREENS / "bulk-failed-390.png"), full_page=True)
        page.close()

        for width, height in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "noivu_a", "/bao-cao?ky=month&nam=2026&thang=11")
            for name in ("", "-xu-huong", "-theo-thu", "-theo-phut"):
                img = page.locator(f'img[src^="/bao-cao/bieu-do{name}.svg"]')
                img.scroll_into_view_if_needed()
                img.wait_for()
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 0", arg=img.element_handle()
                )
            page.get_by_text("Xem số liệu dạng bảng").first.click()
            trend = page.locator('figure.chart:has(img[src^="/bao-cao/bieu-do-xu-huong"])')
            assert "12/2025" in trend.inner_text()
            page.screenshot(path=str(SCREENS / f"summary-charts-{width}.png"), full_page=True)
            page.close()
        browser.close()
