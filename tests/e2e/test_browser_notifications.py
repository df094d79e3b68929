"""An admin in a real browser (Debian's Chromium, Playwright) finds a failed notification on
the page Thông báo, reads why in Vietnamese and sends it again. Screenshots at desktop and
phone widths under test-artifacts/screens/."""

from __future__ import annotations

from datetime import UTC, datetime

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
                page.get_by_role("button", name="Gửi lại").click()
                page.wait_for_url(f"{base}/thong-bao?trang_thai=failed&luu=gui-lai")
                assert "Đã đưa thông báo vào hàng chờ gửi lại." in page.inner_text("main")
                assert "Không có thông báo nào." in page.inner_text("main")
                page.screenshot(path=str(SCREENS / "notifications-retried-phone.png"))
            page.close()
        browser.close()
    with db_session(world.engine) as db:
        row = db.get(OutboxMessage, failed)
        assert row is not None and row.status == "queued"
