"""The admins' page Thông báo against the real PostgreSQL: counts per status, a failed
message with its Vietnamese reason, the retry button (CSRF-checked), refused to others."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, update

from notify.recipients import employee
from services import notifications
from store.db import db_session
from store.models import OutboxMessage
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import csrf_of, signed_in


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def failed_message(world: World) -> int:
    with db_session(world.engine) as db:
        made = notifications.enqueue(
            db,
            kind="plain",
            recipient=employee(world.people["e1"]),
            dedupe_key="test:1",
            template="plain",
            context={"title": "Thử", "body": "Thử", "link": ""},
        )
        assert made is not None
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == made)
            .values(status="failed", attempts=8, last_error="Webhook trả lời lỗi HTTP 500.")
        )
    return made


def test_an_admin_sees_a_failed_message_with_its_reason_and_queues_it_again(
    world: World,
) -> None:
    message_id = failed_message(world)
    client = signed_in(world, "admin")
    page = client.get("/thong-bao")
    assert page.status_code == 200
    assert re.search(r'<a href="/thong-bao"[^>]*>Thông báo</a>', page.text)  # in the menu
    assert "Gửi không được: 1" in page.text
    assert "Webhook trả lời lỗi HTTP 500." in page.text
    stale = client.post(f"/thong-bao/{message_id}/gui-lai", data={"csrf": "x"})
    assert stale.status_code == 403
    done = client.post(
        f"/thong-bao/{message_id}/gui-lai",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with db_session(world.engine) as db:
        row = db.get(OutboxMessage, message_id)
        assert row is not None and row.status == "queued" and row.attempts == 0
    after = client.get(done.headers["location"])
    assert "Đã đưa thông báo vào hàng chờ gửi lại." in after.text
    again = client.post(f"/thong-bao/{message_id}/gui-lai", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409
    assert "Chỉ gửi lại được thông báo đang ở trạng thái gửi không được" in again.text
    assert (
        client.post("/thong-bao/999999/gui-lai", data={"csrf": csrf_of(page.text)}).status_code
        == 404
    )


def test_the_page_is_refused_to_a_unit_head_and_absent_from_their_menu(world: World) -> None:
    failed_message(world)
    client = signed_in(world, "head_a1")
    assert client.get("/thong-bao").status_code == 403
    assert 'href="/thong-bao"' not in client.get("/vi-pham").text
    with db_session(world.engine) as db:
        before = db.scalars(select(OutboxMessage.status)).one()
    page = client.get("/vi-pham")
    answer = client.post("/thong-bao/1/gui-lai", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 403
    with db_session(world.engine) as db:
        assert db.scalars(select(OutboxMessage.status)).one() == before == "failed"


ROW_ID = re.compile(r'<td data-label="Số">(\d+)</td>')


def link(page: str, label: str) -> str:
    """The href of the pager's button ``label`` ("Cũ hơn →"), unescaped."""
    found = re.search(r'<a class="button" href="([^"]+)">' + re.escape(label) + "</a>", page)
    assert found, f"no {label} link"
    return html.unescape(found.group(1))


def many_messages(world: World, count: int) -> dict[str, list[int]]:
    """``count`` messages, kinds alternating (violation notice, digest); ids by kind."""
    made: dict[str, list[int]] = {"violation_flagged": [], "unit_digest": []}
    with db_session(world.engine) as db:
        for n in range(count):
            kind = "violation_flagged" if n % 2 == 0 else "unit_digest"
            new = notifications.enqueue(
                db,
                kind=kind,
                recipient=employee(world.people["e1"]),
                dedupe_key=f"page:{n}",
                template="plain",
                context={"title": "Thử", "body": "Thử", "link": ""},
            )
            assert new is not None
            made[kind].append(new)
    return made


def test_the_outbox_pages_older_and_newer_keeping_its_filters(world: World) -> None:
    """Review 12d: /thong-bao had no way back from "Cũ hơn" and no filter but the status.
    130 messages, 65 of them violation notices: pages of 50 and 15, both directions, the
    kind kept in every link and after a retry."""
    made = many_messages(world, 130)
    notices = sorted(made["violation_flagged"], reverse=True)
    client = signed_in(world, "admin")
    first = client.get("/thong-bao?loai=violation_flagged")
    assert first.status_code == 200
    assert [int(i) for i in ROW_ID.findall(first.text)] == notices[:50]
    assert "Chờ gửi: 65" in first.text  # the counts are the kind's
    assert "Mới hơn" not in first.text and "Mới nhất" not in first.text
    older = link(first.text, "Cũ hơn →")
    assert "loai=violation_flagged" in older and f"truoc={notices[49]}" in older
    second = client.get(older)
    assert [int(i) for i in ROW_ID.findall(second.text)] == notices[50:]
    assert "Cũ hơn →" not in second.text
    assert link(second.text, "Mới nhất") == "/thong-bao?loai=violation_flagged"
    back = client.get(link(second.text, "← Mới hơn"))
    assert [int(i) for i in ROW_ID.findall(back.text)] == notices[:50]
    # A status and a kind at once, paged: the status filter travels with the kind.
    marked = [n for i, n in enumerate(notices) if i % 13 != 0]  # 60 of the 65
    with db_session(world.engine) as db:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(marked))
            .values(status="failed", attempts=8, last_error="Lỗi thử")
        )
    failed = client.get("/thong-bao?loai=violation_flagged&trang_thai=failed")
    assert [int(i) for i in ROW_ID.findall(failed.text)] == marked[:50]
    page_two = link(failed.text, "Cũ hơn →")
    assert "trang_thai=failed" in page_two and "loai=violation_flagged" in page_two
    on_two = client.get(page_two)
    assert [int(i) for i in ROW_ID.findall(on_two.text)] == marked[50:]
    # Gửi lại from the second page comes back to the second page.
    retried = client.post(
        f"/thong-bao/{marked[50]}/gui-lai",
        data={
            "csrf": csrf_of(on_two.text),
            "trang_thai": "failed",
            "loai": "violation_flagged",
            "truoc": str(marked[49]),
        },
        follow_redirects=False,
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == (
        f"/thong-bao?trang_thai=failed&loai=violation_flagged&truoc={marked[49]}&luu=gui-lai"
    )
    # A filter value that is not one is said beside its field (not silently left out); a
    # page link that is none answers 404.
    odd = client.get("/thong-bao?loai=x&trang_thai=y")
    assert odd.status_code == 400 and odd.text.count("không hợp lệ; chọn một trong") == 2
    assert client.get("/thong-bao?truoc=abc").status_code == 404


def test_a_waiting_notice_offers_to_look_its_address_up_and_says_what_that_does(
    world: World,
) -> None:
    """Review 12d: "Thử gửi ngay" beside a notice that cannot go (no address) promised what
    the button does not do. It looks the address up now: "Kiểm tra lại ngay"."""
    with db_session(world.engine) as db:
        waiting = notifications.enqueue(
            db,
            kind="violation_flagged",
            recipient=employee(world.people["e1"]),
            dedupe_key="test:waiting",
            template="plain",
            context={"title": "Thử", "body": "Thử", "link": ""},
        )
        expired = notifications.enqueue(
            db,
            kind="violation_flagged",
            recipient=employee(world.people["e2"]),
            dedupe_key="test:expired",
            template="plain",
            context={"title": "Thử", "body": "Thử", "link": ""},
        )
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == waiting)
            .values(status="waiting", expires_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == expired)
            .values(
                status="expired",
                expires_at=datetime(2026, 11, 30, 3, tzinfo=UTC),
                last_error="Người nhận vẫn chưa có địa chỉ sau 7 ngày chờ",
            )
        )
    client = signed_in(world, "admin")
    page = client.get("/thong-bao")
    assert "Thử gửi ngay" not in page.text
    assert page.text.count("Kiểm tra lại ngay") == 2  # the button and the note above
    assert f'<a href="/can-bo/{world.people["e1"]}">Trần Văn e1</a>' in page.text
    assert "Hết hạn: 1" in page.text and "Hết hạn lúc 30/11/2026 10:00" in page.text
    assert f'action="/thong-bao/{expired}/gui-lai"' not in page.text  # nothing to send
    done = client.post(
        f"/thong-bao/{waiting}/gui-lai", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/thong-bao?luu=kiem-tra"
    told = client.get(done.headers["location"])
    assert "nếu người nhận đã có địa chỉ, thông báo được gửi trong ít phút" in told.text
    refused = client.post(f"/thong-bao/{expired}/gui-lai", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 409
    with db_session(world.engine) as db:
        assert db.get(OutboxMessage, waiting).status == "queued"  # type: ignore[union-attr]
        assert db.get(OutboxMessage, expired).status == "expired"  # type: ignore[union-attr]
