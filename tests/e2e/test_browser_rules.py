"""An admin loads a rules file in a real browser (Debian's Chromium driven by Playwright):
reads the agency's rules, uploads a file, reads its preview (what would appear or be
withdrawn, for whom, from which date), confirms and saves; a bad file is named by line and
key. Screenshots at desktop and phone widths under test-artifacts/screens/."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from store.db import db_session
from store.models import DisciplinePolicy
from tests.e2e import test_browser_unit_head as unit_head
from tests.integration.test_api import PASSWORD, World

CHROMIUM, SCREENS = unit_head.CHROMIUM, unit_head.SCREENS
served = unit_head.served  # the same server fixture: the app on build_world's data

LENIENT = "# Quy chế mới\n[policy]\nlate_grace_minutes = 30\n"
BAD = '[policy]\nlate_grace_minutes = 5\npunch_mode = "twice"\n'


def test_an_admin_previews_and_saves_a_rules_file_in_the_browser(
    served: tuple[World, str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    good, bad = tmp_path / "quy-che.toml", tmp_path / "sai.toml"
    good.write_text(LENIENT, encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/quy-dinh")
            page.get_by_label("Tên đăng nhập").fill("admin")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/quy-dinh")
            page.get_by_label("Cơ quan").select_option(label="Sở Nội vụ tỉnh A (A)")
            page.get_by_role("button", name="Xem", exact=True).click()
            main = page.inner_text("main")
            assert "Quy định chấm công · Sở Nội vụ tỉnh A" in main
            assert "Buổi sáng 07:30–11:30" in main
            page.screenshot(path=str(SCREENS / f"rules-{name}.png"), full_page=True)

            page.get_by_label("Tệp quy định").set_input_files(str(bad))
            page.get_by_role("button", name="Xem trước tác động").click()
            alert = page.get_by_role("alert").inner_text()
            assert "sai.toml:3: 'policy.punch_mode'" in alert
            page.screenshot(path=str(SCREENS / f"rules-bad-file-{name}.png"), full_page=True)

            page.get_by_label("Tệp quy định").set_input_files(str(good))
            page.get_by_label("Áp dụng từ ngày (dd/mm/yyyy)").fill("23/11/2026")
            page.get_by_role("button", name="Xem trước tác động").click()
            preview = page.locator("section.preview").inner_text()
            assert "Xem trước: quy-che.toml" in preview
            assert "Áp dụng từ ngày 23/11/2026" in preview
            assert "Trần Văn e1 (e1)" in preview
            assert "thu hồi 2 vi phạm" in preview
            page.screenshot(path=str(SCREENS / f"rules-preview-{name}.png"), full_page=True)
            with db_session(world.engine) as db:  # previewed, not saved
                assert db.scalar(select(func.count()).select_from(DisciplinePolicy)) == 0
            if name == "phone":
                page.get_by_label("Tôi đã xem và đồng ý").check()
                page.get_by_role("button", name="Lưu quy định").click()
                assert "Đã lưu quy định mới" in page.get_by_role("status").inner_text()
                assert "30 phút thì tính đi muộn" in page.inner_text("main")
                page.screenshot(path=str(SCREENS / f"rules-saved-{name}.png"), full_page=True)
            page.close()
        browser.close()
    with db_session(world.engine) as db:
        assert db.scalar(select(func.count()).select_from(DisciplinePolicy)) == 1
