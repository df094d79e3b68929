"""A unit head in a real browser adjusts a kỷ luật score with a reason and downloads the bảng
chấm công; screenshots at desktop and phone widths under test-artifacts/screens/."""

from __future__ import annotations

import io

import openpyxl

from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS, served  # noqa: F401 (fixture)
from tests.integration.test_api import PASSWORD, World


def test_a_unit_head_adjusts_a_score_and_downloads_the_timesheet(
    served: tuple[World, str],  # noqa: F811
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    e1 = world.people["e1"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(
                viewport={"width": width, "height": height}, accept_downloads=True
            )
            page.goto(f"{base}/bieu-mau")
            page.fill("#username", "head_a1")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/bieu-mau")
            page.fill("#ts-thang", "11")
            page.fill("#ts-nam", "2026")
            page.screenshot(path=str(SCREENS / f"documents-{name}.png"), full_page=True)
            with page.expect_download() as download:
                page.click("button[value=xlsx]")
            book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
            cells = [c for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r]
            assert "Trần Văn e1" in cells and "Trần Văn e3" not in cells
            page.goto(f"{base}/diem-ky-luat?thang=11&nam=2026")
            row = page.locator(f"#p{e1}")
            assert "Chưa xác nhận" in row.inner_text() or name == "phone"
            if name == "desktop":
                row.locator("summary").click()
                row.locator("input[name=score]").fill("3,5")
                row.locator("select[name=flag]").select_option("not_good")
                row.locator("textarea[name=note]").fill("Đi muộn không báo trước")
                row.locator("button[value=adjust]").click()
                page.wait_for_selector("p.ok")
            text = page.locator(f"#p{e1}").inner_text()
            assert "Đã điều chỉnh" in text and "Đi muộn không báo trước" in text
            # nothing wider than the screen (a long thi đua flag once pushed every row out)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(SCREENS / f"scores-{name}.png"), full_page=True)
            page.close()
        browser.close()
