"""In Debian's Chromium at 1280 px and 390 px (a phone): a provisional absence reads the same on
Hôm nay and in the queue, a bulk decision refused keeps the rows ticked with the reason beside
its field, a month typed wrong is marked beside its field, /redoc points to /docs.
Screenshots go to test-artifacts/screens/*-1280.png and *-390.png."""

from __future__ import annotations

from sqlalchemy import update

from store.db import db_session
from store.models import ViolationRecord
from tests.e2e import test_browser_unit_head as unit_head
from tests.e2e.test_browser_pages_more import WIDTHS, sign_in
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS
from tests.integration.test_api import World

served = unit_head.served  # the app served by uvicorn on the real PostgreSQL (a fixture)

BANNER = "Tạm tính — máy chấm công GATE chưa gửi đủ dữ liệu."


def test_provisional_results_and_refused_values_read_well_at_both_widths(
    served: tuple[World, str],
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    absent = world.violation_id("e2", "absent")
    with db_session(world.engine) as db:  # judged while the reader GATE was behind
        db.execute(
            update(ViolationRecord).where(ViolationRecord.id == absent).values(provisional=True)
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "head_a1", "/vi-pham")
            assert BANNER in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"queue-provisional-{width}.png"), full_page=True)
            page.goto(f"{base}/hom-nay")
            assert BANNER in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"today-provisional-{width}.png"), full_page=True)

            page.goto(f"{base}/vi-pham")
            boxes = page.get_by_role("checkbox").all()
            for box in boxes:
                box.check()
            page.get_by_label("Quyết định").select_option(label="Có lý do")
            page.get_by_label("Ghi chú").fill("Họp đột xuất")
            page.get_by_role("button", name="Lưu cho các vi phạm đã chọn").click()
            reason = page.get_by_label("Lý do (khi chọn “Có lý do”)")
            assert reason.get_attribute("aria-invalid") == "true"
            assert "Cần chọn lý do" in page.inner_text("#bulk-reason-error")
            assert all(box.is_checked() for box in page.get_by_role("checkbox").all())
            assert page.get_by_label("Ghi chú").input_value() == "Họp đột xuất"
            page.locator("#bulk-reason-error").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENS / f"bulk-refused-{width}.png"), full_page=True)

            page.goto(f"{base}/bang-thang?thang=13&nam=2026")
            assert page.get_by_role("textbox", name="Tháng").input_value() == "13"
            assert "Tháng phải là một số từ 1 đến 12" in page.inner_text("#thang-error")
            page.screenshot(path=str(SCREENS / f"month-refused-{width}.png"))

            page.goto(f"{base}/redoc")
            assert "Tài liệu API" in page.inner_text("h1")
            page.get_by_role("link", name="/docs").click()
            page.wait_for_url(f"{base}/docs")
            page.locator(".swagger-ui .info .title").wait_for()  # drawn from local assets
            page.screenshot(path=str(SCREENS / f"docs-offline-{width}.png"))
            page.goto(f"{base}/redoc")
            page.screenshot(path=str(SCREENS / f"redoc-{width}.png"))
            page.close()
        browser.close()
