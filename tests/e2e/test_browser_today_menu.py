"""Hôm nay on another date and the menu on a phone, in Debian's Chromium: a unit head steps
back a day and the board keeps that date when it refreshes in place; every menu entry is
reachable on a 390 px phone (the first four, then "Thêm ▾" by keyboard) and all of them at
1280 px; a note with U+202E is refused in the page. Screenshots under test-artifacts/screens."""

from __future__ import annotations

from tests.e2e import test_browser_unit_head as unit_head
from tests.e2e.test_browser_pages_more import sign_in
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS
from tests.integration.test_api import World

served = unit_head.served  # the app served by uvicorn on the real PostgreSQL (a fixture)

FOCUS_SHOWN = "el => getComputedStyle(el).outlineStyle !== 'none' && el === document.activeElement"


def test_today_steps_to_a_past_day_and_its_refresh_keeps_that_day(
    served: tuple[World, str],
) -> None:
    from playwright.sync_api import sync_playwright

    _, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height in ((1280, 800), (390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.clock.install()  # the board's 60 s refresh, run without waiting a minute
            sign_in(page, base, "head_a1", "/hom-nay")
            assert page.inner_text("h1").startswith("Hôm nay, ")
            assert "Ngày gần nhất có dữ liệu: 23/11/2026" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"today-empty-{width}.png"), full_page=True)
            page.get_by_label("Ngày", exact=True).fill("24/11/2026")
            page.get_by_role("button", name="Xem").click()
            assert page.inner_text("h1") == "Thứ Ba, 24/11/2026"
            page.get_by_role("link", name="← Hôm trước").click()
            assert page.inner_text("h1") == "Thứ Hai, 23/11/2026"
            board = page.locator("#board")
            assert "Đi muộn 20 phút" in board.inner_text()
            page.screenshot(path=str(SCREENS / f"today-past-{width}.png"), full_page=True)
            # the minute's refresh (the page's clock moved on): the board asks for 23/11 again
            board.evaluate("b => { b.innerHTML = '<p>cũ</p>' }")  # so a swap is seen
            with page.expect_response(
                lambda r: (
                    "/hom-nay?ngay=23%2F11%2F2026" in r.url or "/hom-nay?ngay=23/11/2026" in r.url
                )
            ):
                page.clock.run_for(61_000)
            page.wait_for_function("!document.querySelector('#board').innerText.includes('cũ')")
            assert "Đi muộn 20 phút" in board.inner_text() and "07:50" in board.inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.close()
        browser.close()


def test_every_menu_entry_is_reachable_on_a_phone_by_touch_and_keyboard(
    served: tuple[World, str],
) -> None:
    from playwright.sync_api import sync_playwright

    _, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, base, "admin", "/nguoi-dung")
        entries = page.locator("nav.menu > ul a")
        labels = entries.all_inner_texts()
        assert len(labels) > 8  # the admin has the longest menu
        assert all(link.is_visible() for link in entries.all())  # all shown at 1280 px
        assert not page.get_by_text("Thêm", exact=True).is_visible()
        page.screenshot(path=str(SCREENS / "menu-admin-1280.png"))
        page.close()

        page = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(page, base, "admin", "/nguoi-dung")
        page.screenshot(path=str(SCREENS / "menu-closed-390.png"))
        menu = page.locator("nav.menu")
        assert menu.evaluate("m => m.scrollWidth <= m.clientWidth")  # nothing hidden sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shown = [a for a in page.locator("nav.menu > ul a").all() if a.is_visible()]
        assert [a.inner_text() for a in shown] == labels[:4]
        header = page.locator("header.top").bounding_box()
        assert header and header["height"] < 140, header  # the content still starts high
        assert menu.evaluate("m => m.getBoundingClientRect().height") < 80  # two rows at most
        # by keyboard: Tab to "Thêm", Enter opens it, Tab reaches each further entry
        more = page.locator("nav.menu summary")
        more.focus()
        assert more.evaluate(FOCUS_SHOWN)
        page.keyboard.press("Enter")
        rest = page.locator("nav.menu details a")
        assert rest.all_inner_texts() == labels[4:]
        for i in range(rest.count()):
            page.keyboard.press("Tab")
            assert rest.nth(i).evaluate(FOCUS_SHOWN), labels[4 + i]
            assert rest.nth(i).is_visible()
        page.screenshot(path=str(SCREENS / "menu-open-390.png"))
        # the page the visitor is on is marked in the open list, and a tap follows an entry
        assert page.locator('nav.menu details a[aria-current="page"]').inner_text() == "Người dùng"
        rest.filter(has_text="Quy định").click()
        page.wait_for_url(f"{base}/quy-dinh")
        page.close()
        browser.close()


def test_a_note_with_a_right_to_left_override_is_refused_in_the_page(
    served: tuple[World, str],
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    late = world.violation_id("e1", "late")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(page, base, "head_a1", f"/vi-pham/{late}")
        page.get_by_role("radio", name="Xác nhận").check()
        page.get_by_label("Ghi chú").fill("Đi họp\u202egnàt uàb")
        page.get_by_role("button", name="Lưu quyết định").click()
        assert "Có ký tự điều khiển ẩn (U+202E)" in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "note-refused-390.png"), full_page=True)
        browser.close()
    assert world.get("head_a1", f"/api/violations/{late}").json()["review_label"] == "Chưa xử lý"
