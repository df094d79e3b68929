"""An administrator in a real browser (Debian's Chromium driven by Playwright) assigns an
unknown card to the person who used it, and sees that person's violation withdrawn once the
rules runner has recomputed the day; the readers page at both widths. Screenshots at desktop
(1366×768) and phone (390×844) widths are saved under test-artifacts/screens/."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from ingest.pipeline import DeviceDirectory, Message, process_batch
from store.db import db_session
from store.models import ViolationRecord
from tests.e2e.test_browser_unit_head import CHROMIUM, SCREENS, served  # noqa: F401
from tests.factories import punch_payload
from tests.integration.test_api import DAY, PASSWORD, World
from tests.unit.days import local


def unknown_punch(world: World, event_id: str, value: str, hhmm: str, kind: str = "card") -> None:
    body = punch_payload("GATE", event_id, value, local(DAY, hhmm), credential_kind=kind)
    process_batch(
        world.engine,
        [Message("kc/v1/GATE/punch", body, local(DAY, "08:15"))],
        DeviceDirectory(world.engine),
        timedelta(minutes=5),
    )


def heartbeat_and_a_bad_message(world: World) -> None:
    """The reader says it runs 7 minutes fast with 3 punches held; one message is garbage."""
    received = local(DAY, "08:20")
    beat = json.dumps(
        {
            "v": 1,
            "device_id": "GATE",
            "clock": (received + timedelta(minutes=7)).isoformat(),
            "sent_up_to": local(DAY, "08:00").isoformat(),
            "backlog": 3,
        }
    ).encode()
    process_batch(
        world.engine,
        [
            Message("kc/v1/GATE/heartbeat", beat, received),
            Message("kc/v1/GATE/punch", b'{"v": 1, "event_id": ', received),
        ],
        DeviceDirectory(world.engine),
        timedelta(minutes=5),
    )


def active_kinds(world: World, person: str) -> set[str]:
    with db_session(world.engine) as db:
        return set(
            db.scalars(
                select(ViolationRecord.kind).where(
                    ViolationRecord.employee_id == world.people[person],
                    ViolationRecord.active.is_(True),
                )
            )
        )


def test_assigning_an_unknown_card_updates_the_persons_violations(
    served: tuple[World, str],  # noqa: F811
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    SCREENS.mkdir(parents=True, exist_ok=True)
    # e2 forgot their card and tapped a spare one; a second, stranger number stays unknown.
    unknown_punch(world, "spare-1", "CARD-SPARE-07", "07:40")
    unknown_punch(world, "pin-1", "CB019", "07:52", kind="pin")
    world.worker.drain()
    before = active_kinds(world, "e2")
    assert before, "e2 has no punch of their own: the morning is a violation"
    e2 = world.people["e2"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{base}/the-chua-dang-ky")
        page.get_by_label("Tên đăng nhập").fill("admin")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(f"{base}/the-chua-dang-ky")
        main = page.inner_text("main")
        assert "CARD-SPARE-07" in main and "23/11/2026 07:40" in main and "CB019" in main
        page.screenshot(path=str(SCREENS / "unknown-cards-desktop.png"), full_page=True)
        page.goto(f"{base}/vi-pham?can_bo={e2}&xu_ly=all&trang_thai=all")
        assert "Vắng mặt không lý do" in page.inner_text("table")
        page.screenshot(path=str(SCREENS / "unknown-card-before-desktop.png"), full_page=True)
        page.goto(f"{base}/the-chua-dang-ky")
        page.get_by_role("link", name="Gán CARD-SPARE-07 cho cán bộ").click()
        assert "Gán thẻ CARD-SPARE-07 cho cán bộ" in page.inner_text("h1")
        page.get_by_label("Cán bộ (mã cán bộ)").fill("e2")
        assert page.get_by_label("Hiệu lực từ ngày").input_value() == "23/11/2026"
        page.screenshot(path=str(SCREENS / "assign-card-desktop.png"), full_page=True)
        page.get_by_role("button", name="Gán và ghép lượt chấm công").click()
        notice = page.inner_text("[role=status]")
        assert "Đã gán cho Trần Văn e2 (e2); 1 lượt chấm công" in notice
        assert "CARD-SPARE-07" not in page.inner_text("table")
        world.worker.drain()  # the rules role recomputes the queued day
        page.get_by_role("link", name="Xem vi phạm của cán bộ").click()
        rows = page.inner_text("table")
        # The absence the spare card disproves is withdrawn; its 07:40 tap is a late arrival.
        assert "Vắng mặt không lý do Tạm tính Đã thu hồi" in " ".join(rows.split())
        assert "Đi muộn 10 phút" in rows
        page.screenshot(path=str(SCREENS / "unknown-card-after-desktop.png"), full_page=True)
        page.goto(f"{base}/can-bo/{e2}/the")
        assert "CARD-SPARE-07" in page.inner_text("main")
        page.screenshot(path=str(SCREENS / "person-credentials-desktop.png"), full_page=True)
        heartbeat_and_a_bad_message(world)
        page.goto(f"{base}/dau-doc")
        readers = page.inner_text("main")
        assert "nhanh 7 phút" in readers and "23/11/2026 08:00" in readers
        page.screenshot(path=str(SCREENS / "readers-desktop.png"), full_page=True)
        cookies = page.context.cookies()
        page.close()
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(cookies)  # type: ignore[arg-type]
        for path, name in (
            ("/the-chua-dang-ky", "unknown-cards-phone"),
            ("/the-chua-dang-ky/gan?loai=pin&ma=CB019&may=GATE", "assign-pin-phone"),
            (f"/vi-pham?can_bo={e2}&xu_ly=all&trang_thai=all", "unknown-card-after-phone"),
            (f"/can-bo/{e2}/the", "person-credentials-phone"),
            ("/dau-doc", "readers-phone"),
            ("/dau-doc/tin-bi-tu-choi", "dead-letters-phone"),
        ):
            phone.goto(f"{base}{path}")
            assert phone.url.endswith(path), phone.url
            phone.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
        assert "Dữ liệu không phải JSON" in phone.inner_text("main")
        browser.close()
    after = active_kinds(world, "e2")
    assert "absent" in before and after == {"late"}
