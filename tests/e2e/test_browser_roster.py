"""An HR clerk in a real browser (Debian's Chromium driven by Playwright) imports a roster: a
Windows-1258 CSV with a bad row is previewed and refused, then a good XLSX with a title row
and a card Excel stored as a number is previewed, applied, and the person is found. Screens at
desktop (1366×768) and phone (390×844) widths go to test-artifacts/screens/."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select

from store.db import db_session
from store.models import Credential, Employee
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS, served  # noqa: F401
from tests.integration.test_api import PASSWORD, World
from tests.integration.test_roster import cp1258

BAD = (
    "Mã cán bộ,Họ và tên,Đơn vị,Chức vụ,Số thẻ\n"
    "n1,Nguyễn Thị Hương,A1,Chuyên viên,0002000101\n"
    "n2,Trần Đức Long,Phòng Ngân sách,,0002000102\n"
)


def good_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SỞ NỘI VỤ TỈNH A"])
    sheet.append(["DANH SÁCH CÁN BỘ, CÔNG CHỨC NĂM 2026"])
    sheet.append([])
    sheet.append(["STT", "Mã cán bộ", "Họ và tên", "Đơn vị", "Chức vụ", "Ngày bắt đầu", "Số thẻ"])
    sheet.append([1, "n1", "Nguyễn Thị Hương", "A1", "Chuyên viên", "01/12/2026", "0002000101"])
    sheet.append([2, "n2", "Trần Đức Long", "Phòng Công chức", None, "01/12/2026", 2000102])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_hr_clerk_previews_a_bad_file_then_applies_a_good_one(
    served: tuple[World, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "can_bo.csv"
    bad.write_bytes(cp1258(BAD))
    good = tmp_path / "can_bo.xlsx"
    good.write_bytes(good_xlsx())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/nhap-danh-sach")
            page.get_by_label("Tên đăng nhập").fill("hr_a")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/nhap-danh-sach")
            page.get_by_label("Tệp (.xlsx hoặc .csv, tối đa 5 MB)").set_input_files(str(bad))
            page.get_by_role("button", name="Xem trước").click()
            main = page.inner_text("main")
            assert "Không tìm thấy đơn vị Phòng Ngân sách trong phạm vi của bạn" in main
            assert "Nguyễn Thị Hương" in main  # read from Windows-1258, diacritics intact
            assert page.get_by_role("button", name="Áp dụng").count() == 0
            page.screenshot(path=str(SCREENS / f"roster-import-refused-{name}.png"), full_page=True)
            if name == "phone":
                page.close()
                continue
            # The agency's readers send ten digits: set it where the units are kept.
            page.get_by_role("link", name="Đơn vị").click()
            page.get_by_label("Sở Nội vụ tỉnh A (A): số chữ số").fill("10")
            page.get_by_role("button", name="Lưu").click()
            assert "Đã lưu định dạng số thẻ." in page.inner_text("main")
            page.get_by_role("link", name="Nhập danh sách").click()
            page.get_by_label("Tệp (.xlsx hoặc .csv, tối đa 5 MB)").set_input_files(str(good))
            page.get_by_role("button", name="Xem trước").click()
            main = page.inner_text("main")
            assert "Số thẻ 2000102 thiếu số 0 ở đầu, đã đổi thành 0002000102" in main
            assert "2 tạo mới, 0 cập nhật, 0 không đổi, 0 từ chối" in main
            assert "Dòng tiêu đề là dòng 4" in main
            assert "Số thẻ 2000102 nằm trong ô kiểu số của Excel" in main
            page.screenshot(path=str(SCREENS / f"roster-import-preview-{name}.png"), full_page=True)
            page.get_by_role("button", name="Áp dụng").click()
            assert "Đã áp dụng: 2 tạo mới, 0 cập nhật, 2 thẻ được cấp." in page.inner_text("main")
            page.get_by_role("link", name="Cán bộ").click()
            page.get_by_label("Tìm theo tên, mã hoặc đơn vị").fill("Hương")
            page.get_by_role("button", name="Tìm").click()
            page.get_by_role("link", name="Nguyễn Thị Hương").click()
            assert "0002000101" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"roster-person-{name}.png"), full_page=True)
            page.close()
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/don-vi")
            page.get_by_label("Tên đăng nhập").fill("hr_a")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/don-vi")
            assert "Tổ Một cửa" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"roster-units-{name}.png"), full_page=True)
            page.goto(f"{base}/can-bo")
            assert "Trần Đức Long" in page.inner_text("main")
            page.screenshot(path=str(SCREENS / f"roster-people-{name}.png"), full_page=True)
            page.close()
        # The phone applies the good file too: it is now unchanged, and says so.
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{base}/nhap-danh-sach")
        page.get_by_label("Tên đăng nhập").fill("hr_a")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_label("Tệp (.xlsx hoặc .csv, tối đa 5 MB)").set_input_files(str(good))
        page.get_by_role("button", name="Xem trước").click()
        assert "0 tạo mới, 0 cập nhật, 2 không đổi" in page.inner_text("main")
        assert "Tệp không có thay đổi nào so với dữ liệu hiện có." in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "roster-import-preview-phone.png"), full_page=True)
        browser.close()
    with db_session(world.engine) as db:
        long = db.scalars(select(Employee).where(Employee.code == "n2")).one()
        cards = db.scalars(select(Credential.value).where(Credential.employee_id == long.id))
        assert list(cards) == ["0002000102"]  # the number cell's value, as the reader sends it
