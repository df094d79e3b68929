"""A unit head in a real browser (Debian's Chromium driven by Playwright): signs in, opens the
queue, reads a violation's evidence in local time, excuses it with a reason. Screenshots at
desktop (1366×768) and phone (390×844) widths are saved under test-artifacts/screens/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.test_api import PASSWORD, World, build_world, world_settings
from tests.support import ROOT, require, serving

SCREENS = ROOT / "test-artifacts" / "screens"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def served(pg_engine: Engine) -> Iterator[tuple[World, str]]:
    require(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    world = build_world(pg_engine, world_settings(pg_engine))
    with serving(world.client.app) as port:
        yield world, f"http://127.0.0.1:{port}"


def test_a_unit_head_excuses_a_late_arrival_in_the_browser(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    late = world.violation_id("e1", "late")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/vi-pham/{late}")  # not signed in: to sign-in, then back here
            page.screenshot(path=str(SCREENS / f"sign-in-{name}.png"), full_page=True)
            page.get_by_label("Tên đăng nhập").fill("head_a1")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/vi-pham/{late}")
            assert "23/11/2026 07:50" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"violation-{name}.png"), full_page=True)
            page.goto(f"{base}/vi-pham")
            assert "Đi muộn 20 phút" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"queue-{name}.png"), full_page=True)
            page.get_by_role("link", name="Bảng tháng").click()
            page.get_by_label("Tháng", exact=True).fill("11")
            page.get_by_label("Năm").fill("2026")
            page.get_by_role("button", name="Xem").click()
            assert "Bảng theo dõi tháng 11/2026" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"month-{name}.png"), full_page=True)
            page.get_by_role("link", name="Hôm nay").click()
            assert "Hôm nay" in page.inner_text("h1")
            page.screenshot(path=str(SCREENS / f"today-{name}.png"), full_page=True)
            page.close()
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{base}/")
        page.get_by_label("Tên đăng nhập").fill("head_a1")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("link", name="Đi muộn 20 phút").click()
        page.get_by_role("radio", name="Có lý do").check()
        page.get_by_label("Lý do (khi chọn “Có lý do”)").select_option(label="Đi công tác")
        page.get_by_label("Ghi chú").fill("Họp tại UBND tỉnh")
        page.get_by_role("button", name="Lưu quyết định").click()
        assert "Đã lưu quyết định." in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "reviewed-phone.png"), full_page=True)
        page.goto(f"{base}/vi-pham")
        boxes = page.get_by_role("checkbox")
        assert boxes.count() == 1  # the excused one left the pending queue
        boxes.first.check()
        page.get_by_label("Quyết định").select_option(label="Xác nhận")
        page.get_by_role("button", name="Lưu cho các vi phạm đã chọn").click()
        assert "Đã lưu quyết định cho 1/1 vi phạm." in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "bulk-phone.png"), full_page=True)
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/bao-cao?ky=month&nam=2026&thang=11")
            page.get_by_label("Tên đăng nhập").fill("noivu_a")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/bao-cao?ky=month&nam=2026&thang=11")
            chart = page.locator('img[src^="/bao-cao/bieu-do.svg"]')
            chart.wait_for()
            assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
            page.screenshot(path=str(SCREENS / f"summary-{name}.png"), full_page=True)
            if name == "desktop":
                with page.expect_download() as download:
                    page.get_by_role("link", name="Tải Excel (XLSX)").click()
                assert download.value.suggested_filename.endswith(".xlsx")
            page.close()
        browser.close()
    assert world.get("head_a1", f"/api/violations/{late}").json()["review"] == "excused"
