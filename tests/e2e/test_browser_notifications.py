"""An admin in a real browser (Debian's Chromium, Playwright) finds a failed notification on
the page Thông báo, reads why in Vietnamese and sends it again. Screenshots at desktop and
phone widths under test-artifacts/screens/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from notify.recipients import employee
from services import notifications
from store.db import db_session
from store.models import OutboxMessage
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS, served
from tests.integration.test_api import PASSWORD, World

__all__ = ["served"]


def queue_three(world: World) -> int:
    """One message sent, one waiting, one failed for good; returns the failed one's id."""
    ids = []
    with db_session(world.engine) as db:
        for n, who in enumerate(("e1", "e2", "e3")):
            made = notifications.enqueue(
                db,
                kind="violation_flagged" if n else "unit_digest",
                recipient=employee(world.people[who]),
                dedupe_key=f"browser:{n}",
                template="plain",
                context={"title": "Thử", "body": "Thử", "link": ""},
            )
            assert made is not None
            ids.append(made)
        now = datetime.now(UTC)
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == ids[0])
            .values(status="sent", sent_at=now, channel="email", address="tran.e1@snv.gov.vn")
        )
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == ids[2])
            .values(
                status="failed",
                attempts=8,
                channel="email",
                address="tran.e3@snv.gov.vn",
                last_error="Không kết nối được máy chủ thư mail.snv.gov.vn:587: Connection refused",
            )
        )
    return ids[2]


def test_an_admin_reads_why_a_notification_failed_and_sends_it_again(
    served: tuple[World, str],
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    failed = queue_three(world)
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1366, 768, "desktop"), (390, 844, "phone")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/thong-bao")
            page.get_by_label("Tên đăng nhập").fill("admin")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/thong-bao")
            main = page.inner_text("main")
            assert "Gửi không được: 1" in main and "Đã gửi: 1" in main and "Chờ gửi: 1" in main
            assert "Không kết nối được máy chủ thư mail.snv.gov.vn:587" in main
            page.screenshot(path=str(SCREENS / f"notifications-{name}.png"), full_page=True)
            if name == "phone":  # the last width: send the failed one again
                page.goto(f"{base}/thong-bao?trang_thai=failed")
                page.get_by_role("button", name="Gửi lại").click()
                # back to the list as it was filtered, where the retried one has left
                page.wait_for_url(f"{base}/thong-bao?trang_thai=failed&luu=gui-lai")
                assert "Đã đưa thông báo vào hàng chờ gửi lại." in page.inner_text("main")
                assert "Không có thông báo nào." in page.inner_text("main")
                page.screenshot(path=str(SCREENS / "notifications-retried-phone.png"))
            page.close()
        browser.close()
    with db_session(world.engine) as db:
        row = db.get(OutboxMessage, failed)
        assert row is not None and row.status == "queued"


def test_an_admin_pages_the_outbox_by_kind_and_looks_up_a_waiting_address(
    served: tuple[World, str],
) -> None:
    """Review 12d: paging both ways with the filters kept; a waiting notice's button says
    what it does (Kiểm tra lại ngay) and shows when it expires; an expired one is marked."""
    from playwright.sync_api import sync_playwright

    world, base = served
    now = datetime.now(UTC)
    with db_session(world.engine) as db:
        ids = [
            notifications.enqueue(
                db,
                kind="unit_digest",
                recipient=employee(world.people["e1"]),
                dedupe_key=f"digest:{n}",
                template="plain",
                context={"title": "Thử", "body": "Thử", "link": ""},
            )
            for n in range(60)
        ]
        waiting, expired = (
            notifications.enqueue(
                db,
                kind="violation_flagged",
                recipient=employee(world.people[who]),
                dedupe_key=f"notice:{who}",
                template="plain",
                context={"title": "Thử", "body": "Thử", "link": ""},
            )
            for who in ("e2", "e3")
        )
        assert all(ids) and waiting and expired
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == waiting)
            .values(
                status="waiting",
                expires_at=now + timedelta(days=6),
                last_error="Người nhận chưa có địa chỉ e-mail: thông báo chờ",
            )
        )
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == expired)
            .values(
                status="expired",
                expires_at=now - timedelta(days=1),
                last_error="Người nhận vẫn chưa có địa chỉ sau 7 ngày chờ: thông báo đã hết "
                "hạn và sẽ không được gửi, kể cả khi có địa chỉ sau này.",
            )
        )
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width, height, name in ((1280, 800, "1280"), (390, 844, "390")):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base}/thong-bao")
            page.get_by_label("Tên đăng nhập").fill("admin")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/thong-bao")
            page.get_by_label("Loại").select_option(label="Vi phạm mới")
            page.get_by_role("button", name="Lọc").click()
            page.wait_for_url(f"{base}/thong-bao?loai=violation_flagged&trang_thai=")
            main = page.inner_text("main")
            assert "Hết hạn: 1" in main and "Chờ địa chỉ: 1" in main and "Chờ gửi: 0" in main
            assert "Thử gửi ngay" not in main and "Hết hạn lúc" in main
            assert page.get_by_role("button", name="Kiểm tra lại ngay").count() == 1
            page.screenshot(path=str(SCREENS / f"notifications-waiting-{name}.png"), full_page=True)
            page.get_by_role("button", name="Kiểm tra lại ngay").click()
            page.wait_for_url(f"{base}/thong-bao?loai=violation_flagged&luu=kiem-tra")
            assert "nếu chưa, thông báo tiếp tục chờ địa chỉ" in page.inner_text("main")
            page.get_by_label("Loại").select_option(label="Tổng hợp cho trưởng đơn vị")
            page.get_by_role("button", name="Lọc").click()
            page.get_by_role("link", name="Cũ hơn →").click()
            main = page.inner_text("main")
            assert "Chờ gửi: 60" in main and "Mới hơn" in main and "Cũ hơn" not in main
            assert page.locator("table.outbox tbody tr").count() == 10
            page.screenshot(path=str(SCREENS / f"notifications-pager-{name}.png"), full_page=True)
            page.get_by_role("link", name="← Mới hơn").click()
            assert page.locator("table.outbox tbody tr").count() == 50
            assert "loai=unit_digest" in page.url
            page.close()
            with db_session(world.engine) as db:  # the next width sees it waiting again
                db.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == waiting)
                    .values(status="waiting")
                )
        browser.close()
