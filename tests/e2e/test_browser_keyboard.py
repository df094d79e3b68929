"""The pages by keyboard alone, in Debian's Chromium (review 8): the first Tab on a page
reaches "Đến nội dung chính", which skips the menu (ten or more entries for an admin) so the
next Tab is the page's first field; the link is hidden until it has the focus."""

from __future__ import annotations

from tests.e2e import test_browser_unit_head as unit_head
from tests.e2e.test_browser_pages_more import sign_in
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS
from tests.integration.test_api import World

served = unit_head.served  # the app served by uvicorn on the real PostgreSQL (a fixture)


def test_the_first_tab_skips_the_menu_to_the_page(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    _, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "head_a1", "/vi-pham")
            skip = page.get_by_role("link", name="Đến nội dung chính")
            on_screen = "el => el.getBoundingClientRect().right > 0"
            assert skip.count() == 1 and not skip.evaluate(on_screen)  # out of sight...
            page.keyboard.press("Tab")
            assert skip.evaluate("el => el === document.activeElement")
            assert skip.evaluate(on_screen)  # ...until it has the focus
            page.screenshot(path=str(SCREENS / f"skip-link-{name}.png"))
            page.keyboard.press("Enter")
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.id")
            assert focused == "tu", focused  # Từ ngày, the queue's first field
            page.close()
        browser.close()
